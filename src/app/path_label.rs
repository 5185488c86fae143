//! A file or folder the window mentions without being asked to: its name, with the whole path
//! on hover, so the user's home and checkout folders do not fill the window.

use std::path::Path;

use eframe::egui;

pub fn path_label(ui: &mut egui::Ui, caption: &str, path: &Path) -> egui::Response {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    ui.small(format!("{caption}: {name}")).on_hover_text(path.display().to_string())
}
