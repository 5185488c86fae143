//! Chinese glyphs: egui's built-in fonts have none, so a CJK font from the system is added as a
//! fallback (the set-up script installs WenQuanYi Micro Hei where none is present).

use eframe::egui;

/// Adds a CJK font as a fallback of both font families. Returns false when none was found.
pub fn install_cjk_font(ctx: &egui::Context) -> bool {
    let Some(bytes) = crate::resources::cjk_font_bytes() else {
        return false;
    };
    let families = [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
        .into_iter()
        .map(|family| egui::epaint::text::InsertFontFamily { family, priority: egui::epaint::text::FontPriority::Lowest })
        .collect();
    ctx.add_font(egui::epaint::text::FontInsert::new("cjk", egui::FontData::from_owned(bytes), families));
    true
}
