//! Chinese glyphs: egui's built-in fonts have none, so a CJK font from the system is added as a
//! fallback (the set-up script installs WenQuanYi Micro Hei where none is present).

use std::path::PathBuf;

use eframe::egui;

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

/// Adds a CJK font as a fallback of both font families. Returns false when none was found.
pub fn install_cjk_font(ctx: &egui::Context) -> bool {
    let Some(bytes) = find_cjk_font().and_then(|path| std::fs::read(path).ok()) else {
        return false;
    };
    let families = [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
        .into_iter()
        .map(|family| egui::epaint::text::InsertFontFamily { family, priority: egui::epaint::text::FontPriority::Lowest })
        .collect();
    ctx.add_font(egui::epaint::text::FontInsert::new("cjk", egui::FontData::from_owned(bytes), families));
    true
}
