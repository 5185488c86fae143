//! File dialogs that never block the window and always work: the desktop's own dialog (through
//! rfd: the XDG portal, else zenity) on a short-lived thread, and where the desktop has neither,
//! the built-in browser ([`super::file_browser`]). Answers are picked up on a later frame. Tests
//! replace the picker with a double.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eframe::egui;
use raw_window_handle::{DisplayHandle, HandleError, HasDisplayHandle, HasWindowHandle, RawDisplayHandle, RawWindowHandle, WindowHandle};

pub use super::dialog_kind::{DialogKind, IMAGE_EXTENSIONS};
use super::file_browser::FileBrowser;
use super::i18n::Lang;

/// A request to the picker: the kind, where to start, and the window to open it over.
#[derive(Clone, Debug)]
pub struct DialogRequest {
    pub kind: DialogKind,
    pub start_dir: Option<PathBuf>,
    /// The app's window, so the desktop opens the dialog over it (modal, same workspace).
    pub parent: Option<WindowParent>,
}

/// The app's window as the desktop names it (an X11 window id, a Wayland surface), handed to
/// the dialog thread so the portal can put the dialog over the window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowParent {
    window: RawWindowHandle,
    display: RawDisplayHandle,
}

// SAFETY: the handles name the app's one window, which lives as long as the app. rfd reads them
// once, when the dialog opens, to name the window to the portal; it never draws into them.
unsafe impl Send for WindowParent {}
unsafe impl Sync for WindowParent {}

impl WindowParent {
    /// The handles of a window (eframe's creation context or frame); None where it has none
    /// (tests without a window).
    pub fn of(window: &(impl HasWindowHandle + HasDisplayHandle + ?Sized)) -> Option<WindowParent> {
        let window_handle = window.window_handle().ok()?.as_raw();
        let display = window.display_handle().ok()?.as_raw();
        Some(WindowParent { window: window_handle, display })
    }
}

impl HasWindowHandle for WindowParent {
    fn window_handle(&self) -> Result<WindowHandle<'_>, HandleError> {
        // SAFETY: see the Send impl: the window outlives every dialog request.
        Ok(unsafe { WindowHandle::borrow_raw(self.window) })
    }
}

impl HasDisplayHandle for WindowParent {
    fn display_handle(&self) -> Result<DisplayHandle<'_>, HandleError> {
        // SAFETY: as above, for the window's display connection.
        Ok(unsafe { DisplayHandle::borrow_raw(self.display) })
    }
}

/// What a picker answers.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogAnswer {
    /// One path, or several for [`DialogKind::is_multiple`] kinds.
    Chosen(Vec<PathBuf>),
    /// The user closed the dialog without choosing.
    Cancelled,
    /// No dialog could be shown: the built-in browser takes over.
    Unavailable,
}

impl From<Option<PathBuf>> for DialogAnswer {
    fn from(path: Option<PathBuf>) -> DialogAnswer {
        path.map_or(DialogAnswer::Cancelled, |p| DialogAnswer::Chosen(vec![p]))
    }
}

/// Shows a dialog and returns what was chosen.
pub type Picker = Arc<dyn Fn(DialogRequest) -> DialogAnswer + Send + Sync>;

/// A picker from a function that answers one path or none (None: cancelled).
pub fn picker_from(pick: impl Fn(DialogRequest) -> Option<PathBuf> + Send + Sync + 'static) -> Picker {
    Arc::new(move |request| pick(request).into())
}

/// Forces the built-in browser (`builtin`) even where the desktop has a dialog service.
pub const DIALOGS_VARIABLE: &str = "ACTIVATION_ATLAS_DIALOGS";

/// A native dialog that answers "nothing" faster than this was never shown (no person cancels
/// that quickly): the portal or zenity failed.
const FASTEST_HUMAN_CANCEL: Duration = Duration::from_millis(300);

/// What the decision between the desktop's dialogs and the built-in browser looks at.
#[derive(Clone, Debug, Default)]
pub struct DialogEnvironment {
    /// `ACTIVATION_ATLAS_DIALOGS=builtin`.
    pub forced_builtin: bool,
    /// `PATH`, searched for zenity.
    pub path: Option<std::ffi::OsString>,
    /// `DBUS_SESSION_BUS_ADDRESS`.
    pub session_bus_address: Option<std::ffi::OsString>,
    /// `XDG_RUNTIME_DIR`, whose `bus` socket is the session bus when the address is not set.
    pub runtime_dir: Option<PathBuf>,
    /// `XDG_DATA_DIRS`, searched for portal back ends.
    pub data_dirs: Option<String>,
}

impl DialogEnvironment {
    /// This process's environment.
    pub fn current() -> DialogEnvironment {
        DialogEnvironment {
            forced_builtin: std::env::var(DIALOGS_VARIABLE).is_ok_and(|v| v.trim().eq_ignore_ascii_case("builtin")),
            path: std::env::var_os("PATH"),
            session_bus_address: std::env::var_os("DBUS_SESSION_BUS_ADDRESS"),
            runtime_dir: std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            data_dirs: std::env::var("XDG_DATA_DIRS").ok(),
        }
    }

    /// Whether rfd has a file-dialog service here: zenity on the PATH, or an XDG portal back end
    /// with a file chooser and a session bus to reach it; never when the built-in is forced.
    pub fn has_native_dialogs(&self) -> bool {
        if self.forced_builtin {
            return false;
        }
        let zenity = self.path.as_ref().is_some_and(|path| std::env::split_paths(path).any(|dir| dir.join("zenity").is_file()));
        zenity || (self.session_bus() && self.portal_file_chooser_installed())
    }

    fn session_bus(&self) -> bool {
        self.session_bus_address.is_some() || self.runtime_dir.as_ref().is_some_and(|dir| dir.join("bus").exists())
    }

    /// A portal back end (GTK, GNOME, KDE, …) that declares the file chooser interface.
    fn portal_file_chooser_installed(&self) -> bool {
        let dirs = self.data_dirs.as_deref().unwrap_or("/usr/local/share:/usr/share");
        dirs.split(':').map(|dir| PathBuf::from(dir).join("xdg-desktop-portal/portals")).any(|portals| {
            std::fs::read_dir(portals).into_iter().flatten().flatten().any(|entry| {
                std::fs::read_to_string(entry.path()).is_ok_and(|text| text.contains("org.freedesktop.impl.portal.FileChooser"))
            })
        })
    }
}

/// Whether this desktop has a file-dialog service rfd can use (looked up once).
pub fn native_dialogs_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| DialogEnvironment::current().has_native_dialogs())
}

/// What a native dialog that answered nothing after `elapsed` means: faster than a person could
/// cancel, it was never shown (the portal or zenity failed) and the built-in browser takes over.
pub fn empty_answer(elapsed: Duration) -> DialogAnswer {
    if elapsed < FASTEST_HUMAN_CANCEL { DialogAnswer::Unavailable } else { DialogAnswer::Cancelled }
}

/// The desktop's dialogs through rfd (XDG portal, else zenity); Unavailable where there are none.
pub fn native_picker() -> Picker {
    Arc::new(|request: DialogRequest| {
        if !native_dialogs_available() {
            return DialogAnswer::Unavailable;
        }
        let mut dialog = rfd::FileDialog::new();
        if let Some(parent) = &request.parent {
            dialog = dialog.set_parent(parent);
        }
        if let Some(dir) = &request.start_dir {
            dialog = dialog.set_directory(dir);
        }
        if let Some(extensions) = request.kind.extensions() {
            // Some dialogs match case-sensitively, and cameras write `.JPG`.
            let both_cases: Vec<String> = extensions.iter().flat_map(|e| [e.to_string(), e.to_ascii_uppercase()]).collect();
            dialog = dialog.add_filter(filter_name(request.kind), &both_cases);
        }
        let started = Instant::now();
        let chosen = match request.kind {
            kind if kind.is_folder() => dialog.pick_folder().map(|p| vec![p]),
            kind if kind.is_save() => dialog.set_file_name(kind.suggested_name()).save_file().map(|p| vec![p]),
            kind if kind.is_multiple() => dialog.pick_files(),
            _ => dialog.pick_file().map(|p| vec![p]),
        };
        match chosen {
            Some(paths) if !paths.is_empty() => DialogAnswer::Chosen(paths),
            _ => empty_answer(started.elapsed()),
        }
    })
}

fn filter_name(kind: DialogKind) -> &'static str {
    match kind {
        DialogKind::OpenImage | DialogKind::PlaceImage => "Images",
        DialogKind::OpenCheckpoint | DialogKind::ResumeCheckpoint => "Checkpoint",
        DialogKind::ImportNetwork => "PyTorch state dict",
        DialogKind::OpenDescriptions => "Descriptions",
        DialogKind::OpenAtlas => "Atlas",
        DialogKind::OpenFlowersArchive => "17flowers.tgz",
        DialogKind::OpenTimeline => "Timeline",
        DialogKind::ExportTimeline => "GIF / APNG",
        DialogKind::ExportSelection => "CSV / JSON",
        _ => "PNG",
    }
}

/// At most one dialog at a time; answers arrive through [`Dialogs::poll`].
pub struct Dialogs {
    picker: Picker,
    sender: Sender<(DialogRequest, DialogAnswer)>,
    receiver: Receiver<(DialogRequest, DialogAnswer)>,
    open: Option<DialogKind>,
    /// The built-in browser, while it stands in for a desktop dialog.
    browser: Option<FileBrowser>,
    parent: Option<WindowParent>,
}

impl Dialogs {
    /// Dialogs opened over `parent`, the app's window (None: wherever the desktop puts them).
    pub fn new(picker: Picker, parent: Option<WindowParent>) -> Dialogs {
        let (sender, receiver) = channel();
        Dialogs { picker, sender, receiver, open: None, browser: None, parent }
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
        let parent = self.parent;
        let spawned = std::thread::Builder::new().name("file-dialog".to_string()).spawn(move || {
            let request = DialogRequest { kind, start_dir, parent };
            let answer = picker(request.clone());
            let _ = sender.send((request, answer));
            ctx.request_repaint();
        });
        if spawned.is_err() {
            self.open = None;
        }
    }

    /// The chosen paths of the open dialog once it has an answer (empty: cancelled). Where the
    /// desktop showed no dialog, the built-in browser opens instead and answers later.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<(DialogKind, Vec<PathBuf>)> {
        if let Some(browser) = &mut self.browser {
            let answer = browser.take_answer()?;
            self.browser = None;
            self.open = None;
            return Some(answer);
        }
        let (request, answer) = self.receiver.try_recv().ok()?;
        match answer {
            DialogAnswer::Chosen(paths) => {
                self.open = None;
                Some((request.kind, paths))
            }
            DialogAnswer::Cancelled => {
                self.open = None;
                Some((request.kind, Vec::new()))
            }
            DialogAnswer::Unavailable => {
                self.browser = Some(FileBrowser::open(ctx, request.kind, request.start_dir));
                None
            }
        }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Draws the built-in browser when it is open.
    pub fn ui(&mut self, ctx: &egui::Context, lang: Lang) {
        if let Some(browser) = &mut self.browser {
            browser.ui(ctx, lang);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use raw_window_handle::{XlibDisplayHandle, XlibWindowHandle};

    use super::*;

    const WINDOW_ID: std::ffi::c_ulong = 0x2a0_0007;

    /// Stands in for eframe's frame on X11: a window id and a display.
    struct X11Window;

    impl HasWindowHandle for X11Window {
        fn window_handle(&self) -> Result<WindowHandle<'_>, HandleError> {
            Ok(unsafe { WindowHandle::borrow_raw(RawWindowHandle::Xlib(XlibWindowHandle::new(WINDOW_ID))) })
        }
    }

    impl HasDisplayHandle for X11Window {
        fn display_handle(&self) -> Result<DisplayHandle<'_>, HandleError> {
            Ok(unsafe { DisplayHandle::borrow_raw(RawDisplayHandle::Xlib(XlibDisplayHandle::new(None, 0))) })
        }
    }

    #[test]
    fn every_dialog_is_asked_for_over_the_app_window() {
        let seen: Arc<Mutex<Vec<Option<WindowParent>>>> = Arc::default();
        let record = seen.clone();
        let picker: Picker = Arc::new(move |request: DialogRequest| {
            record.lock().unwrap().push(request.parent);
            DialogAnswer::Cancelled
        });
        let mut dialogs = Dialogs::new(picker, WindowParent::of(&X11Window));
        let ctx = egui::Context::default();
        for kind in [DialogKind::OpenImage, DialogKind::PickDataFolder, DialogKind::ExportPng] {
            dialogs.request(&ctx, kind, None);
            let started = Instant::now();
            while dialogs.poll(&ctx).is_none() {
                assert!(started.elapsed() < Duration::from_secs(10), "the dialog answers");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for parent in seen.iter() {
            let window = parent.expect("the request names the window").window_handle().unwrap().as_raw();
            assert!(matches!(window, RawWindowHandle::Xlib(handle) if handle.window == WINDOW_ID), "{window:?}");
        }
    }
}
