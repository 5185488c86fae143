//! A photo in a grid (confusion cell, mistakes, atlas selection): its picture once read, its file
//! name until then, as one clickable square named after the file.

use eframe::egui;

/// Adds the button for photo `file`, `side` points square. The placeholder and the picture are
/// the same widget of the same size, so the grid does not move when pictures arrive and a click
/// made just then still lands.
pub fn photo_button(ui: &mut egui::Ui, texture: Option<egui::TextureId>, side: f32, file: &str) -> egui::Response {
    let size = egui::vec2(side, side);
    let button = match texture {
        Some(texture) => egui::Button::image(egui::Image::new((texture, size))),
        None => egui::Button::new(egui::RichText::new(file).small()),
    };
    let response = ui.add_sized(size + 2.0 * ui.spacing().button_padding, button);
    // Named after its file for screen readers (the picture alone has no name).
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, file));
    response
}
