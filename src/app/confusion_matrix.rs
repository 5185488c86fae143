//! 训练's confusion matrix of the validation photos: painted as one picture, each cell a count
//! coloured by its share of the row; a click on a cell asks for its photos.

use eframe::egui;

use super::i18n::{Lang, T};
use crate::engine::eval::EvalReport;

/// Smallest side of a confusion-matrix cell at which a row's name and a two-digit column number
/// stay readable.
const MIN_CELL: f32 = 20.0;
const ROW_NAME_FONT: f32 = 11.0;

/// The width of the row names: the longest name, within bounds.
fn row_name_width(ui: &egui::Ui, names: &[String]) -> f32 {
    let font = egui::FontId::proportional(ROW_NAME_FONT);
    let widest = names
        .iter()
        .map(|name| ui.ctx().fonts_mut(|fonts| fonts.layout_no_wrap(name.clone(), font.clone(), egui::Color32::WHITE).size().x));
    widest.fold(40.0f32, f32::max).min(160.0) + 8.0
}

/// How wide the matrix is at its smallest readable cells.
pub(super) fn confusion_width(ui: &egui::Ui, classes: usize, names: &[String]) -> f32 {
    row_name_width(ui, names) + MIN_CELL * classes as f32
}

pub(super) fn confusion_ui(ui: &mut egui::Ui, report: &EvalReport, names: &[String], lang: Lang) -> Option<(usize, usize)> {
    let classes = report.confusion.len();
    if classes == 0 {
        return None;
    }
    let label_width = row_name_width(ui, names);
    // Never smaller than readable: a narrow window scrolls the matrix sideways instead.
    let cell = ((ui.available_width() - label_width) / classes as f32).clamp(MIN_CELL, 28.0);
    let size = egui::vec2(label_width + cell * classes as f32, cell * classes as f32 + 16.0);
    // Exactly its size even in a justified column, so the squares end at its right edge.
    let (rect, response) = ui
        .allocate_ui_with_layout(size, egui::Layout::left_to_right(egui::Align::Min), |ui| {
            ui.allocate_exact_size(size, egui::Sense::click())
        })
        .inner;
    // The rows' names for screen readers (and tests), since the picture itself is painted.
    let described = format!("{}: {}", T::ConfusionMatrix.get(lang), names.join(", "));
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &described));
    let painter = ui.painter_at(rect);
    let text_color = ui.visuals().text_color();
    let origin = rect.min + egui::vec2(label_width, 16.0);
    for (row, counts) in report.confusion.iter().enumerate() {
        let row_total: u32 = counts.iter().sum::<u32>().max(1);
        painter.text(
            egui::pos2(rect.min.x + label_width - 4.0, origin.y + (row as f32 + 0.5) * cell),
            egui::Align2::RIGHT_CENTER,
            names.get(row).map_or("", String::as_str),
            egui::FontId::proportional(ROW_NAME_FONT),
            text_color,
        );
        for (column, &count) in counts.iter().enumerate() {
            let share = count as f32 / row_total as f32;
            let cell_rect =
                egui::Rect::from_min_size(origin + egui::vec2(column as f32 * cell, row as f32 * cell), egui::vec2(cell - 1.0, cell - 1.0));
            let colour = if row == column {
                egui::Color32::from_rgb((30.0 + 10.0 * share) as u8, (60.0 + 150.0 * share) as u8, (60.0 + 60.0 * share) as u8)
            } else {
                egui::Color32::from_rgb((40.0 + 200.0 * share) as u8, (40.0 + 30.0 * share) as u8, 45)
            };
            painter.rect_filled(cell_rect, 2.0, colour);
            if count > 0 {
                painter.text(
                    cell_rect.center(),
                    egui::Align2::CENTER_CENTER,
                    count.to_string(),
                    egui::FontId::proportional(10.0),
                    egui::Color32::WHITE,
                );
            }
        }
    }
    for column in 0..classes {
        painter.text(
            origin + egui::vec2((column as f32 + 0.5) * cell, -8.0),
            egui::Align2::CENTER_CENTER,
            (column + 1).to_string(),
            egui::FontId::proportional(9.0),
            text_color,
        );
    }
    let cell_at = |pointer: egui::Pos2| {
        let local = pointer - origin;
        let (row, column) = ((local.y / cell).floor(), (local.x / cell).floor());
        ((0.0..classes as f32).contains(&row) && (0.0..classes as f32).contains(&column)).then_some((row as usize, column as usize))
    };
    let clicked = if response.clicked() { response.interact_pointer_pos().and_then(cell_at) } else { None };
    if let Some((row, column)) = response.hover_pos().and_then(cell_at) {
        response.clone().on_hover_text(format!(
            "{}: {}\n{}: {}\n{}",
            T::TrueClass.get(lang),
            names[row],
            T::PredictedClass.get(lang),
            names[column],
            report.confusion[row][column]
        ));
    }
    clicked
}
