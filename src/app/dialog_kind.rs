//! What a file dialog is for: its filters, whether it picks a folder or names a new file. Shared
//! by the desktop's dialogs and the built-in browser.

/// What a dialog is for; decides its filters and what the app does with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    OpenImage,
    OpenCheckpoint,
    OpenDescriptions,
    PickDataFolder,
    /// The image folder an atlas is built from (the 地图集 tab's own choice).
    PickAtlasFolder,
    ResumeCheckpoint,
    ExportPng,
    OpenAtlas,
    /// One or many pictures to place on the atlas.
    PlaceImage,
    ExportAtlasView,
    ExportAtlasWhole,
    /// A copy of 17flowers.tgz the user downloaded themselves.
    OpenFlowersArchive,
    OpenTimeline,
    /// A training run's folder, for its atlas timeline.
    PickRunFolder,
    /// Where the timeline's animation goes (.gif or .png).
    ExportTimeline,
    /// Where the list of selected photos goes (.csv or .json).
    ExportSelection,
    /// The folder the selected photos are copied into.
    PickCopyFolder,
    /// The labelled folder whose photos 错误 checks the model on.
    PickMistakesFolder,
    /// A PyTorch state dict to import as a network (模型 → 导入网络…).
    ImportNetwork,
}

impl DialogKind {
    /// The file extensions offered (lower case; matched in any case). None: folders.
    pub fn extensions(self) -> Option<&'static [&'static str]> {
        match self {
            DialogKind::OpenImage | DialogKind::PlaceImage => Some(IMAGE_EXTENSIONS),
            DialogKind::OpenCheckpoint | DialogKind::ResumeCheckpoint => Some(&["safetensors"]),
            DialogKind::OpenDescriptions => Some(&["toml"]),
            DialogKind::PickDataFolder | DialogKind::PickAtlasFolder => None,
            DialogKind::ExportPng | DialogKind::ExportAtlasView | DialogKind::ExportAtlasWhole => Some(&["png"]),
            DialogKind::OpenAtlas => Some(&["atlas"]),
            DialogKind::OpenFlowersArchive => Some(&["tgz", "gz"]),
            DialogKind::OpenTimeline => Some(&["timeline"]),
            DialogKind::PickRunFolder => None,
            DialogKind::ExportTimeline => Some(&["gif", "png"]),
            DialogKind::ExportSelection => Some(&["csv", "json"]),
            DialogKind::PickCopyFolder | DialogKind::PickMistakesFolder => None,
            DialogKind::ImportNetwork => Some(&["pth", "pt", "bin", "ckpt", "safetensors"]),
        }
    }

    /// Whether the dialog chooses a folder.
    pub fn is_folder(self) -> bool {
        matches!(
            self,
            DialogKind::PickDataFolder
                | DialogKind::PickAtlasFolder
                | DialogKind::PickRunFolder
                | DialogKind::PickCopyFolder
                | DialogKind::PickMistakesFolder
        )
    }

    /// Whether the dialog names a new file to write.
    pub fn is_save(self) -> bool {
        matches!(
            self,
            DialogKind::ExportPng
                | DialogKind::ExportAtlasView
                | DialogKind::ExportAtlasWhole
                | DialogKind::ExportTimeline
                | DialogKind::ExportSelection
        )
    }

    /// Whether several files may be chosen at once.
    pub fn is_multiple(self) -> bool {
        self == DialogKind::PlaceImage
    }

    /// The file name a save dialog suggests.
    pub fn suggested_name(self) -> &'static str {
        match self {
            DialogKind::ExportPng => "explanation.png",
            DialogKind::ExportTimeline => "timeline.gif",
            DialogKind::ExportSelection => "selection.csv",
            _ => "atlas.png",
        }
    }
}

/// Every format the decoder reads.
pub const IMAGE_EXTENSIONS: &[&str] =
    &["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff", "ico", "pbm", "pgm", "ppm", "pnm", "tga", "qoi"];
