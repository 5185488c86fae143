//! The atlas panel's side: the selected cell with its real patches, the class legend, placed
//! pictures, export, and the form that builds a new atlas.

use eframe::egui;

use super::{AtlasPanel, WORLD, class_colour, largest_attribution};
use crate::app::context::{AppAction, AppContext};
use crate::app::dialogs::DialogKind;
use crate::app::i18n;
use crate::app::i18n::T;

impl AtlasPanel {
    pub(super) fn side_panel_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        self.selection_side_ui(ui, cx);
        self.selected_cell_ui(ui, cx);
        if self.map.class_colours {
            self.legend_ui(ui, cx);
        }
        if !self.map.dropped.is_empty() {
            self.placed_ui(ui, cx);
        }
        self.export_ui(ui, cx);
        ui.separator();
        egui::CollapsingHeader::new(cx.t(T::BuildAtlas)).show(ui, |ui| self.builder.form_ui(ui, cx));
    }

    /// The selected cell: its icon enlarged, its classes, the real patches behind it (a click
    /// opens the photo in 分类).
    fn selected_cell_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        let (Some(atlas), Some((size, index))) = (&self.atlas, self.inspector.selected) else { return };
        let Some(level) = atlas.level(size) else { return };
        let Some(cell) = level.cells.get(index) else { return };
        ui.strong(format!("{} ({}, {}) · {} {}", T::Cell.get(lang), cell.x, cell.y, cell.count, T::Vectors.get(lang)));
        // The cell drawn three ways, synthetic beside real.
        ui.horizontal(|ui| {
            let side = 96.0;
            ui.vertical(|ui| {
                match self.map.textures.get(&size).and_then(|t| Some((&t.texture, t.uv(index)?))) {
                    Some((texture, uv)) => {
                        ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))).uv(uv).alt_text(T::CellPictureSynthetic.get(lang)));
                    }
                    None => {
                        ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
                    }
                }
                ui.small(T::CellPictureSynthetic.get(lang));
            });
            for (picture, caption) in self.inspector.real_pictures.iter().zip([T::CellPictureMean, T::CellPictureTypical]) {
                ui.vertical(|ui| {
                    match picture {
                        Some(texture) => {
                            ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))).alt_text(caption.get(lang)));
                        }
                        None => {
                            ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
                        }
                    }
                    ui.small(caption.get(lang));
                });
            }
        });
        if let Some(fidelity) = atlas.icons_of(size).and_then(|icons| {
            let slot = icons.cells.iter().position(|&c| c as usize == index)?;
            icons.fidelity.get(slot)
        }) {
            ui.small(i18n::icon_fidelity(lang, fidelity.cosine)).on_hover_text(i18n::cell_numbers_definition(lang));
        }
        let largest = largest_attribution(level);
        for &(class, attribution) in &cell.top_by_attribution {
            let words = i18n::attribution_in_words(lang, &cx.label_of(&atlas.meta.class_names, class as usize), attribution, largest);
            ui.label(words).on_hover_text(i18n::cell_numbers_definition(lang));
        }
        ui.add(egui::Label::new(T::RealPatches.get(lang)).wrap());
        if !self.inspector.missing_patches.is_empty() {
            // Say what is missing and where it was expected, never an empty list.
            let warn = ui.visuals().warn_fg_color;
            ui.colored_label(warn, crate::app::i18n::missing_patches(lang, self.inspector.missing_patches.len()));
            for path in self.inspector.missing_patches.iter().take(5) {
                ui.small(path.display().to_string());
            }
        }
        let files = self.patch_files(cx).to_vec();
        ui.horizontal_wrapped(|ui| {
            for ((texture, label, path, _), here) in self.inspector.patches.iter().zip(files) {
                let name = self
                    .atlas
                    .as_ref()
                    .map_or_else(|| cx.class_label(*label as usize), |a| cx.label_of(&a.meta.class_names, *label as usize));
                let image = egui::Image::new((texture.id(), egui::vec2(64.0, 64.0))).alt_text(name.as_str());
                // The photo opens in 分类 and 解释 when its file is on this machine (see
                // `photo_folders`); a shared or shipped atlas may hold only its network input.
                if let Some(file) = here {
                    let hint = format!("{name}\n{}\n{}", file.display(), T::OpenInClassifier.get(lang));
                    if ui.add(image.sense(egui::Sense::click())).on_hover_text(hint).clicked() {
                        cx.actions.push(AppAction::ExplainPhoto(file));
                    }
                } else {
                    ui.add(image).on_hover_text(format!("{name}\n{}\n{}", path.display(), T::OnlyInAtlas.get(lang)));
                }
            }
        });
        ui.separator();
    }

    /// The colour of each class, while the map is coloured by class.
    fn legend_ui(&self, ui: &mut egui::Ui, cx: &AppContext) {
        let Some(atlas) = &self.atlas else { return };
        let classes = atlas.meta.class_names.len();
        ui.strong(cx.t(T::ClassColours));
        egui::Grid::new("atlas-legend").num_columns(2).show(ui, |ui| {
            for class in 0..classes {
                ui.horizontal(|ui| {
                    let (swatch, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter().rect_filled(swatch, 2.0, class_colour(class, classes));
                    ui.small(cx.label_of(&atlas.meta.class_names, class));
                });
                if class % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        ui.separator();
    }

    fn placed_ui(&mut self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        ui.strong(T::PlacedImages.get(lang));
        let (mut focus, mut remove) = (None, None);
        for (i, dropped) in self.map.dropped.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                ui.checkbox(&mut dropped.visible, "").on_hover_text(T::Show.get(lang));
                ui.add(egui::Image::new((dropped.thumbnail.id(), egui::vec2(32.0, 32.0))).alt_text(dropped.path.display().to_string()));
                let name = dropped.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ui.vertical(|ui| {
                    ui.label(name).on_hover_text(dropped.path.display().to_string());
                    ui.small(format!("{} {:.0}%", cx.class_label(dropped.placement.predicted_class), dropped.placement.confidence * 100.0));
                });
                if ui.small_button(T::Focus.get(lang)).clicked() {
                    focus = Some(i);
                }
                if ui.small_button(T::Remove.get(lang)).clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = focus {
            let c = self.map.dropped[i].placement.centre;
            self.map.scene_rect =
                egui::Rect::from_center_size(egui::pos2(c[0] * WORLD, c[1] * WORLD), egui::vec2(WORLD / 5.0, WORLD / 5.0));
        }
        if let Some(i) = remove {
            self.map.dropped.remove(i);
        }
        if ui.button(T::ClearAll.get(lang)).clicked() {
            self.map.dropped.clear();
        }
        ui.separator();
    }

    fn export_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.strong(T::ExportPng.get(lang));
        ui.horizontal(|ui| {
            let label = ui.label(T::SizePx.get(lang));
            ui.add(egui::DragValue::new(&mut self.export.size).range(256..=8192).speed(16)).labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.export.labels, T::Labels.get(lang));
            ui.checkbox(&mut self.export.grid_lines, T::GridLines.get(lang));
        });
        ui.horizontal(|ui| {
            let ready = self.atlas.is_some();
            if ui.add_enabled(ready, egui::Button::new(T::ExportView.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ExportAtlasView));
            }
            if ui.add_enabled(ready, egui::Button::new(T::ExportWhole.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ExportAtlasWhole));
            }
        });
    }
}
