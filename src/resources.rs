//! Where the files shipped with the app are: the trained model, class descriptions, assets.
//! Looked up beside the executable first (an installed copy), then in the source tree the binary
//! was built from (a developer's checkout), so the app starts from anywhere.

use std::path::{Path, PathBuf};

/// File name of the shipped flower model inside `weights/`.
pub const SHIPPED_MODEL: &str = "flowers17.safetensors";

/// The second shipped flower model: EfficientNet-Lite0 (ImageNet) with a new last layer trained
/// on flowers17 (transfer learning).
pub const SHIPPED_TRANSFER_MODEL: &str = "flowers17-efficientnet-lite0.safetensors";

/// The shipped atlases, each of one shipped model (a model in use takes the one that is its own).
pub const SHIPPED_ATLASES: [&str; 2] = ["assets/flowers17.atlas", "assets/flowers17-efficientnet-lite0.atlas"];

/// Folders that may hold the app's shipped `weights/`, `descriptions/` and `assets/`.
fn resource_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(dir) = std::env::var_os("ACTIVATION_ATLAS_HOME") {
        roots.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        roots.push(dir.to_path_buf());
        roots.push(dir.join("../share/activation-atlas"));
    }
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    roots
}

/// The first existing `relative` path under a resource root.
pub fn find_resource(relative: &Path) -> Option<PathBuf> {
    resource_roots().into_iter().map(|root| root.join(relative)).find(|path| path.exists())
}

/// The shipped model's weights file, if present.
pub fn shipped_model() -> Option<PathBuf> {
    find_resource(&Path::new("weights").join(SHIPPED_MODEL))
}

/// The shipped transfer-learned model's weights file, if present.
pub fn shipped_transfer_model() -> Option<PathBuf> {
    find_resource(&Path::new("weights").join(SHIPPED_TRANSFER_MODEL))
}

/// The folder of shipped description files.
pub fn descriptions_dir() -> Option<PathBuf> {
    find_resource(Path::new("descriptions"))
}

/// The flowers17 data set beside the project (`../shared/data/flowers17`), or where
/// `ACTIVATION_ATLAS_FLOWERS17` points; used by tests and benchmarks.
pub fn flowers17_dir() -> PathBuf {
    std::env::var_os("ACTIVATION_ATLAS_FLOWERS17")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/flowers17"))
}

/// Well-known locations of CJK fonts on Linux, tried before asking fontconfig.
const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:\\Windows\\Fonts\\msyh.ttc",
];

/// The path of a font with Chinese glyphs, if the system has one.
pub fn find_cjk_font() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ACTIVATION_ATLAS_CJK_FONT") {
        return Some(PathBuf::from(path));
    }
    if let Some(found) = CANDIDATES.iter().map(PathBuf::from).find(|path| path.exists()) {
        return Some(found);
    }
    let output = std::process::Command::new("fc-list").args([":lang=zh", "file"]).output().ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().strip_suffix(':'))
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// The bytes of the CJK font [`find_cjk_font`] finds: the window and the exported pictures use
/// the same one.
pub fn cjk_font_bytes() -> Option<Vec<u8>> {
    std::fs::read(find_cjk_font()?).ok()
}

/// The CJK font for drawing class names into exported pictures.
pub fn label_font() -> Option<ab_glyph::FontVec> {
    ab_glyph::FontVec::try_from_vec_and_index(cjk_font_bytes()?, 0).ok()
}

/// The app's folder for the user's own files: `~/.local/share/activation-atlas` (or under
/// `$XDG_DATA_HOME`): training runs, atlases, edited descriptions, downloaded data sets.
pub fn user_data_dir() -> PathBuf {
    xdg_app_dir("XDG_DATA_HOME", ".local/share")
}

/// The app's folder under an XDG base directory: `$variable/activation-atlas` where the variable
/// holds an absolute path (the XDG rule: relative or empty values are ignored), else
/// `~/<under_home>/activation-atlas`; the temporary folder where there is no HOME either.
pub fn xdg_app_dir(variable: &str, under_home: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(under_home)))
        .unwrap_or_else(std::env::temp_dir)
        .join("activation-atlas")
}
