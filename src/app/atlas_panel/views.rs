//! The paper's views of an atlas's data: the class mosaic of conv2 maps and the data
//! distribution (UMAP and t-SNE, in 2-D and 3-D).

use eframe::egui;
use egui_plot::{Legend, Plot, PlotPoints, Points};

use super::{AtlasPanel, AtlasView, class_colour};
use crate::app::context::{AppAction, AppContext};
use crate::app::dialogs::DialogKind;
use crate::app::i18n::T;

impl AtlasPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal_wrapped(|ui| {
            for (view, label) in
                [(AtlasView::Map, T::AtlasMap), (AtlasView::Mosaic, T::ClassMosaic), (AtlasView::Distribution, T::DataDistribution)]
            {
                ui.selectable_value(&mut self.view, view, label.get(lang));
            }
            ui.separator();
            if ui.button(T::LoadAtlas.get(lang)).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::OpenAtlas));
            }
            if ui.add_enabled(self.atlas.is_some(), egui::Button::new(T::PlaceImages.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::PlaceImage));
            }
            ui.checkbox(&mut self.class_colours, T::ClassColours.get(lang));
            if self.atlas.is_some() {
                use super::CellPicture;
                let name = |kind| match kind {
                    CellPicture::Synthetic => T::CellPictureSynthetic.get(lang),
                    CellPicture::Mean => T::CellPictureMean.get(lang),
                    CellPicture::Typical => T::CellPictureTypical.get(lang),
                };
                let label = ui.label(T::CellPictureLabel.get(lang));
                egui::ComboBox::from_id_salt("atlas-cell-picture")
                    .selected_text(name(self.cell_picture))
                    .show_ui(ui, |ui| {
                        for kind in [CellPicture::Synthetic, CellPicture::Mean, CellPicture::Typical] {
                            ui.selectable_value(&mut self.cell_picture, kind, name(kind));
                        }
                    })
                    .response
                    .labelled_by(label.id);
            }
            if let Some(atlas) = &self.atlas {
                let names: Vec<String> = (0..atlas.meta.class_names.len()).map(|c| cx.class_label(c)).collect();
                let label = ui.label(T::TintByAttribution.get(lang));
                let selected = self.tint_class.and_then(|c| names.get(c).cloned()).unwrap_or_else(|| T::TintOff.get(lang).to_string());
                egui::ComboBox::from_id_salt("atlas-tint")
                    .selected_text(selected)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.tint_class, None, T::TintOff.get(lang));
                        for (class, name) in names.iter().enumerate() {
                            ui.selectable_value(&mut self.tint_class, Some(class), name);
                        }
                    })
                    .response
                    .labelled_by(label.id);
            }
            if let Some(path) = &self.path {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ui.small(name).on_hover_text(path.display().to_string());
            }
        });
        ui.separator();
        egui::Panel::right("atlas-side").resizable(true).default_size(330.0).min_size(260.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.side_panel_ui(ui, cx));
        });
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            AtlasView::Map => self.map_ui(ui, cx),
            AtlasView::Mosaic => self.mosaic_ui(ui, cx),
            AtlasView::Distribution => self.distribution_ui(ui, cx),
        });
    }

    fn mosaic_ui(&self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        if self.mosaic.is_empty() {
            ui.label(T::NoPaperViews.get(lang));
            return;
        }
        ui.label(T::MosaicNote.get(lang));
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("mosaic").num_columns(2).show(ui, |ui| {
                for (class, texture) in &self.mosaic {
                    ui.label(cx.class_label(*class));
                    let size = texture.size_vec2() * 2.0;
                    ui.add(egui::Image::new((texture.id(), size)).alt_text(cx.class_label(*class)));
                    ui.end_row();
                }
            });
        });
    }

    fn distribution_ui(&mut self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        let Some(atlas) = self.atlas.clone() else { return };
        let Some(d) = &atlas.distribution else {
            ui.label(T::NoPaperViews.get(lang));
            return;
        };
        let classes = atlas.meta.class_names.len();
        let names: Vec<String> = (0..classes).map(|c| cx.class_label(c)).collect();
        let label = ui.label(T::Rotate3d.get(lang));
        ui.add(egui::Slider::new(&mut self.yaw, 0.0..=360.0)).labelled_by(label.id);
        let yaw = self.yaw.to_radians();
        // 3-D points seen from the side, turned by `yaw` around the vertical axis.
        let project = |p: &[f32]| -> [f64; 2] {
            let (x, y, z) = (p[0] - 0.5, p[1] - 0.5, p[2] - 0.5);
            [f64::from(x * yaw.cos() + z * yaw.sin()), f64::from(-y)]
        };
        let scatter = |ui: &mut egui::Ui, id: &str, title: &str, points: Vec<[f64; 2]>| {
            ui.vertical(|ui| {
                ui.strong(title);
                Plot::new(id).width(ui.available_width().min(380.0)).height(280.0).data_aspect(1.0).legend(Legend::default()).show(
                    ui,
                    |plot| {
                        for (class, name) in names.iter().enumerate() {
                            let own: Vec<[f64; 2]> =
                                points.iter().zip(&d.labels).filter(|(_, l)| **l as usize == class).map(|(p, _)| *p).collect();
                            plot.points(Points::new(name.clone(), PlotPoints::from(own)).radius(2.0).color(class_colour(class, classes)));
                        }
                    },
                );
            });
        };
        let flat = |v: &[f32]| v.chunks_exact(2).map(|p| [f64::from(p[0]), -f64::from(p[1])]).collect::<Vec<_>>();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.horizontal(|ui| {
                scatter(ui, "umap2", "UMAP 2-D", flat(&d.umap2));
                scatter(ui, "tsne2", "t-SNE 2-D", flat(&d.tsne2));
            });
            ui.horizontal(|ui| {
                scatter(ui, "umap3", "UMAP 3-D", d.umap3.chunks_exact(3).map(project).collect());
                scatter(ui, "tsne3", "t-SNE 3-D", d.tsne3.chunks_exact(3).map(project).collect());
            });
        });
    }
}
