//! The 地图集 tab's views and their switch; the paper's class mosaic of conv2 maps (the data
//! distribution is in `distribution.rs`).

use eframe::egui;

use super::{AtlasPanel, AtlasView};
use crate::app::context::{AppAction, AppContext};
use crate::app::dialogs::DialogKind;
use crate::app::i18n::T;

impl AtlasPanel {
    pub(super) fn page_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let _lang = cx.lang;
        self.toolbar_ui(ui, cx);
        ui.separator();
        // The class mosaic has nothing to inspect, select or build: no side panel.
        if self.view != AtlasView::Mosaic {
            egui::Panel::right("atlas-side").resizable(true).default_size(330.0).min_size(260.0).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| match self.view {
                    AtlasView::Timeline => self.timeline_side_ui(ui, cx),
                    AtlasView::Distribution => {
                        self.selection_side_ui(ui, cx);
                        self.distribution_side_ui(ui, cx);
                    }
                    _ => self.side_panel_ui(ui, cx),
                });
            });
        }
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            AtlasView::Map => self.map_ui(ui, cx),
            AtlasView::Mosaic => self.mosaic_ui(ui, cx),
            AtlasView::Distribution => self.distribution_ui(ui, cx),
            AtlasView::Timeline => self.timeline_ui(ui, cx),
        });
    }

    /// Two rows that each fit at 1000 px: the views, the atlas file and the drag tool; then, on
    /// the map, what its cells show. A label and its control stay together on a row.
    fn toolbar_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal(|ui| {
            for (view, label) in [
                (AtlasView::Map, T::AtlasMap),
                (AtlasView::Mosaic, T::ClassMosaic),
                (AtlasView::Distribution, T::DataDistribution),
                (AtlasView::Timeline, T::TimelineTab),
            ] {
                ui.selectable_value(&mut self.view, view, label.get(lang));
            }
            if self.view == AtlasView::Timeline {
                // The timeline has its own buttons; it is of a run, not of the atlas.
                return;
            }
            ui.separator();
            if ui.button(T::LoadAtlas.get(lang)).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::OpenAtlas));
            }
            if let Some(path) = &self.path {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ui.small(name).on_hover_text(path.display().to_string());
            }
            if self.atlas.is_some() && matches!(self.view, AtlasView::Map | AtlasView::Distribution) {
                ui.separator();
                self.select_tool_ui(ui, cx);
            }
        });
        if self.view == AtlasView::Map {
            ui.horizontal(|ui| self.map_options_ui(ui, cx));
        }
    }

    /// The map's own controls: place photos, and how cells are coloured and drawn.
    fn map_options_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        if ui.add_enabled(self.atlas.is_some(), egui::Button::new(T::PlaceImages.get(lang))).clicked() {
            cx.actions.push(AppAction::OpenDialog(DialogKind::PlaceImage));
        }
        ui.checkbox(&mut self.map.class_colours, T::ClassColours.get(lang));
        if self.atlas.is_some() {
            use super::CellPicture;
            let name = |kind| match kind {
                CellPicture::Synthetic => T::CellPictureSynthetic.get(lang),
                CellPicture::Mean => T::CellPictureMean.get(lang),
                CellPicture::Typical => T::CellPictureTypical.get(lang),
            };
            let label = ui.label(T::CellPictureLabel.get(lang));
            egui::ComboBox::from_id_salt("atlas-cell-picture")
                .selected_text(name(self.map.cell_picture))
                .show_ui(ui, |ui| {
                    for kind in [CellPicture::Synthetic, CellPicture::Mean, CellPicture::Typical] {
                        ui.selectable_value(&mut self.map.cell_picture, kind, name(kind));
                    }
                })
                .response
                .labelled_by(label.id);
        }
        if let Some(atlas) = &self.atlas {
            let names = cx.labels_of(&atlas.meta.class_names);
            let label = ui.label(T::TintByAttribution.get(lang));
            let selected = self.map.tint_class.and_then(|c| names.get(c).cloned()).unwrap_or_else(|| T::TintOff.get(lang).to_string());
            egui::ComboBox::from_id_salt("atlas-tint")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.map.tint_class, None, T::TintOff.get(lang));
                    for (class, name) in names.iter().enumerate() {
                        ui.selectable_value(&mut self.map.tint_class, Some(class), name);
                    }
                })
                .response
                .labelled_by(label.id);
        }
        if self.atlas.is_some() && self.map.current_level > 0 {
            // Which grid the zoom shows, here rather than over the map (where icons hid it and
            // it floated over the file browser).
            ui.separator();
            let size = self.map.current_level;
            ui.label(format!("{} {size}×{size}", T::GridLevel.get(lang)));
        }
    }

    fn mosaic_ui(&self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        if self.paper.mosaic.is_empty() {
            ui.label(T::NoPaperViews.get(lang));
            return;
        }
        ui.label(T::MosaicNote.get(lang));
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("mosaic").num_columns(2).show(ui, |ui| {
                for (class, texture) in &self.paper.mosaic {
                    ui.label(cx.class_label(*class));
                    let size = texture.size_vec2() * 2.0;
                    ui.add(egui::Image::new((texture.id(), size)).alt_text(cx.class_label(*class)));
                    ui.end_row();
                }
            });
        });
    }
}
