//! File dialogs that never block the window: each runs on its own short-lived thread and its
//! answer is picked up on a later frame. Tests replace the picker with a double.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use eframe::egui;

/// What a dialog is for; decides its filters and what the app does with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    OpenImage,
    OpenCheckpoint,
    OpenDescriptions,
    PickDataFolder,
    ResumeCheckpoint,
    ExportPng,
    OpenAtlas,
    PlaceImage,
    ExportAtlasView,
    ExportAtlasWhole,
    /// A copy of 17flowers.tgz the user downloaded themselves.
    OpenFlowersArchive,
}

/// A request to the picker: the kind and where to start.
#[derive(Clone, Debug)]
pub struct DialogRequest {
    pub kind: DialogKind,
    pub start_dir: Option<PathBuf>,
}

/// Shows a dialog and returns the chosen path (None: cancelled or no dialog service).
pub type Picker = Arc<dyn Fn(DialogRequest) -> Option<PathBuf> + Send + Sync>;

/// Every format the decoder reads, in both cases: some dialogs match extensions case-sensitively,
/// and cameras write `.JPG`.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff", "ico", "pbm", "pgm", "ppm", "pnm", "tga", "qoi", "JPG", "JPEG", "PNG",
    "BMP", "GIF", "WEBP", "TIF", "TIFF", "ICO", "PBM", "PGM", "PPM", "PNM", "TGA", "QOI",
];

/// The system's dialogs through rfd (XDG portal, else zenity).
pub fn native_picker() -> Picker {
    Arc::new(|request: DialogRequest| {
        let mut dialog = rfd::FileDialog::new();
        if let Some(dir) = &request.start_dir {
            dialog = dialog.set_directory(dir);
        }
        match request.kind {
            DialogKind::OpenImage => dialog.add_filter("Images", IMAGE_EXTENSIONS).pick_file(),
            DialogKind::OpenCheckpoint | DialogKind::ResumeCheckpoint => dialog.add_filter("Checkpoint", &["safetensors"]).pick_file(),
            DialogKind::PickDataFolder => dialog.pick_folder(),
            DialogKind::ExportPng => dialog.add_filter("PNG", &["png"]).set_file_name("explanation.png").save_file(),
            DialogKind::OpenAtlas => dialog.add_filter("Atlas", &["atlas"]).pick_file(),
            DialogKind::PlaceImage => dialog.add_filter("Images", IMAGE_EXTENSIONS).pick_file(),
            DialogKind::ExportAtlasView | DialogKind::ExportAtlasWhole => {
                dialog.add_filter("PNG", &["png"]).set_file_name("atlas.png").save_file()
            }
            DialogKind::OpenDescriptions => dialog.add_filter("Descriptions", &["toml", "TOML"]).pick_file(),
            DialogKind::OpenFlowersArchive => dialog.add_filter("17flowers.tgz", &["tgz", "gz", "TGZ", "GZ"]).pick_file(),
        }
    })
}

/// At most one dialog at a time; answers arrive through [`Dialogs::poll`].
pub struct Dialogs {
    picker: Picker,
    sender: Sender<(DialogKind, Option<PathBuf>)>,
    receiver: Receiver<(DialogKind, Option<PathBuf>)>,
    open: Option<DialogKind>,
}

impl Dialogs {
    pub fn new(picker: Picker) -> Dialogs {
        let (sender, receiver) = channel();
        Dialogs { picker, sender, receiver, open: None }
    }

    /// Opens a dialog unless one is already open.
    pub fn request(&mut self, ctx: &egui::Context, kind: DialogKind, start_dir: Option<PathBuf>) {
        if self.open.is_some() {
            return;
        }
        self.open = Some(kind);
        let picker = self.picker.clone();
        let sender = self.sender.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("file-dialog".to_string()).spawn(move || {
            let answer = picker(DialogRequest { kind, start_dir });
            let _ = sender.send((kind, answer));
            ctx.request_repaint();
        });
        if spawned.is_err() {
            self.open = None;
        }
    }

    /// The answer of the open dialog, once it has one.
    pub fn poll(&mut self) -> Option<(DialogKind, Option<PathBuf>)> {
        let answer = self.receiver.try_recv().ok()?;
        self.open = None;
        Some(answer)
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }
}
