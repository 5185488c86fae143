//! 解释: ways to look inside the network for the picture open in the classifier, each computed
//! on the worker, each exportable as PNG.

use std::path::PathBuf;

use eframe::egui;
use egui_plot::{Line, Plot, PlotPoints};

use super::dialogs::DialogKind;
use super::i18n::{Lang, T};
use super::{AtlasApp, ModelStatus};
use crate::engine::explain::{LayerSummary, MapNormalisation, VisConfig, VisObjective};
use crate::engine::model::Layer;
use crate::worker::{ExplainRequest, ExplainResult, Job, Picture};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Summary,
    FeatureMaps,
    PaperMap,
    Filters,
    Saliency,
    GradCam,
    Occlusion,
    Visualize,
}

impl Method {
    pub const ALL: [Method; 8] =
        [Method::Summary, Method::FeatureMaps, Method::PaperMap, Method::Filters, Method::Saliency, Method::GradCam, Method::Occlusion, Method::Visualize];

    pub fn label(self) -> T {
        match self {
            Method::Summary => T::ExplainSummary,
            Method::FeatureMaps => T::ExplainFeatureMaps,
            Method::PaperMap => T::ExplainPaperMap,
            Method::Filters => T::ExplainFilters,
            Method::Saliency => T::ExplainSaliency,
            Method::GradCam => T::ExplainGradCam,
            Method::Occlusion => T::ExplainOcclusion,
            Method::Visualize => T::ExplainVisualize,
        }
    }

    fn needs_picture(self) -> bool {
        !matches!(self, Method::Summary | Method::Filters | Method::Visualize)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisTarget {
    Channel,
    Class,
    TwoClasses,
}

/// What is on screen for a method.
pub enum Shown {
    Summary(Vec<LayerSummary>),
    Picture { texture: egui::TextureHandle, picture: Picture, caption: String },
    Heat { photo: egui::TextureHandle, heat: egui::TextureHandle, photo_picture: Picture, heat_picture: Picture, caption: String, all_zero: bool },
}

pub struct ExplainPanel {
    pub method: Method,
    /// None: the predicted class.
    pub class: Option<usize>,
    pub feature_layer: Layer,
    pub normalisation: MapNormalisation,
    pub filter_layer: Layer,
    pub gradcam_layer: Layer,
    pub smooth: bool,
    pub samples: usize,
    pub patch: usize,
    pub stride: usize,
    pub opacity: f32,
    pub vis_target: VisTarget,
    pub vis_layer: Layer,
    pub vis_channel: usize,
    pub vis_class: usize,
    pub vis_second_class: usize,
    pub vis_config: VisConfig,
    pub running: Option<Method>,
    pub progress: Option<(usize, usize)>,
    pub objective_values: Vec<[f64; 2]>,
    pub shown: Vec<(Method, Shown)>,
}

impl Default for ExplainPanel {
    fn default() -> Self {
        ExplainPanel {
            method: Method::GradCam,
            class: None,
            feature_layer: Layer::Conv2,
            normalisation: MapNormalisation::PerChannel,
            filter_layer: Layer::Conv1,
            gradcam_layer: Layer::Conv4,
            smooth: false,
            samples: 16,
            patch: 20,
            stride: 5,
            opacity: 0.6,
            vis_target: VisTarget::Class,
            vis_layer: Layer::Conv2,
            vis_channel: 0,
            vis_class: 0,
            vis_second_class: 1,
            vis_config: VisConfig::default(),
            running: None,
            progress: None,
            objective_values: Vec::new(),
            shown: Vec::new(),
        }
    }
}

impl ExplainPanel {
    pub fn result_for(&self, method: Method) -> Option<&Shown> {
        self.shown.iter().find(|(m, _)| *m == method).map(|(_, shown)| shown)
    }

    fn show(&mut self, method: Method, shown: Shown) {
        self.shown.retain(|(m, _)| *m != method);
        self.shown.push((method, shown));
    }

    /// Results describe one picture and one model; a new one of either clears them.
    pub fn clear(&mut self) {
        self.shown.clear();
        self.objective_values.clear();
    }

    /// Shows a result; `class_name` gives a class's display name for captions.
    pub fn received(&mut self, ctx: &egui::Context, request: &ExplainRequest, result: ExplainResult, class_name: impl Fn(usize) -> String) {
        let method = method_of(request);
        self.running = None;
        self.progress = None;
        let texture = |name: &str, picture: &Picture| {
            let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
            ctx.load_texture(name, image, egui::TextureOptions::LINEAR)
        };
        let shown = match result {
            ExplainResult::Summary(rows) => Shown::Summary(rows),
            ExplainResult::Picture { picture, caption } => {
                let options = if method == Method::Visualize { egui::TextureOptions::LINEAR } else { egui::TextureOptions::NEAREST };
                let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
                Shown::Picture { texture: ctx.load_texture(format!("explain-{method:?}"), image, options), picture, caption }
            }
            ExplainResult::Heat { photo, heat, class, all_zero, caption } => Shown::Heat {
                photo: texture(&format!("explain-photo-{method:?}"), &photo),
                heat: texture(&format!("explain-heat-{method:?}"), &heat),
                photo_picture: photo,
                heat_picture: heat,
                caption: match request {
                    ExplainRequest::GradCam { layer, .. } => format!("{layer} · {}", class_name(class)),
                    ExplainRequest::Occlusion { .. } => caption.replacen(&caption[..caption.find(" · ").unwrap_or(0)], &class_name(class), 1),
                    _ => class_name(class),
                },
                all_zero,
            },
        };
        self.show(method, shown);
    }

    pub fn visualize_step(&mut self, ctx: &egui::Context, step: usize, steps: usize, value: f32, preview: Option<Picture>) {
        self.progress = Some((step, steps));
        self.objective_values.push([step as f64, f64::from(value)]);
        if let Some(picture) = preview {
            let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
            let texture = ctx.load_texture("explain-visualize-preview", image, egui::TextureOptions::LINEAR);
            self.show(Method::Visualize, Shown::Picture { texture, picture, caption: String::new() });
        }
    }

    fn request(&self) -> ExplainRequest {
        match self.method {
            Method::Summary => ExplainRequest::Summary,
            Method::FeatureMaps => ExplainRequest::FeatureMaps { layer: self.feature_layer, normalisation: self.normalisation },
            Method::PaperMap => ExplainRequest::PaperMap,
            Method::Filters => ExplainRequest::Filters { layer: self.filter_layer },
            Method::Saliency => ExplainRequest::Saliency { class: self.class, smooth_samples: if self.smooth { self.samples } else { 1 } },
            Method::GradCam => ExplainRequest::GradCam { layer: self.gradcam_layer, class: self.class },
            Method::Occlusion => ExplainRequest::Occlusion { class: self.class, patch: self.patch, stride: self.stride },
            Method::Visualize => {
                let objective = match self.vis_target {
                    VisTarget::Channel => VisObjective::Channel { layer: self.vis_layer, channel: self.vis_channel },
                    VisTarget::Class => VisObjective::Class(self.vis_class),
                    VisTarget::TwoClasses => VisObjective::TwoClasses(self.vis_class, self.vis_second_class),
                };
                ExplainRequest::Visualize { objective, config: self.vis_config }
            }
        }
    }
}

fn method_of(request: &ExplainRequest) -> Method {
    match request {
        ExplainRequest::Summary => Method::Summary,
        ExplainRequest::FeatureMaps { .. } => Method::FeatureMaps,
        ExplainRequest::PaperMap => Method::PaperMap,
        ExplainRequest::Filters { .. } => Method::Filters,
        ExplainRequest::Saliency { .. } => Method::Saliency,
        ExplainRequest::GradCam { .. } => Method::GradCam,
        ExplainRequest::Occlusion { .. } => Method::Occlusion,
        ExplainRequest::Visualize { .. } => Method::Visualize,
    }
}

impl AtlasApp {
    /// Computes the selected view on the worker.
    pub fn compute_explanation(&mut self) {
        let method = self.explain.method;
        let path = self.classify.image_path.clone().filter(|_| self.classify.has_picture());
        if method.needs_picture() && path.is_none() {
            self.notice = Some(self.t(T::OpenPictureFirst).to_string());
            return;
        }
        if method == Method::Visualize {
            self.explain.objective_values.clear();
        }
        self.explain.running = Some(method);
        self.explain.progress = None;
        self.worker.send(Job::Explain { path, request: self.explain.request() });
    }

    /// Writes the current view as PNG (a heat map blended at the chosen opacity).
    pub fn export_explanation(&mut self, path: PathBuf) {
        let Some(shown) = self.explain.result_for(self.explain.method) else { return };
        let image = match shown {
            Shown::Summary(_) => return,
            Shown::Picture { picture, .. } => rgba_image(picture),
            Shown::Heat { photo_picture, heat_picture, .. } => {
                let mut out = rgba_image(photo_picture);
                let heat = rgba_image(heat_picture);
                let opacity = self.explain.opacity;
                for (o, h) in out.pixels_mut().zip(heat.pixels()) {
                    let alpha = f32::from(h[3]) / 255.0 * opacity;
                    for c in 0..3 {
                        o[c] = (f32::from(o[c]) * (1.0 - alpha) + f32::from(h[c]) * alpha).round() as u8;
                    }
                }
                out
            }
        };
        let mut bytes = Vec::new();
        let written = image::DynamicImage::ImageRgba8(image)
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(|e| e.to_string())
            .and_then(|()| crate::engine::fsutil::write_atomically(&path, &bytes).map_err(|e| e.to_string()));
        match written {
            Ok(()) => self.notice = Some(path.display().to_string()),
            Err(message) => self.error = Some(super::i18n::job_failed(self.lang(), &format!("{}: {message}", path.display()))),
        }
    }
}

fn rgba_image(picture: &Picture) -> image::RgbaImage {
    image::RgbaImage::from_raw(picture.width as u32, picture.height as u32, picture.rgba.clone()).expect("picture sized to its pixels")
}

fn layer_combo(ui: &mut egui::Ui, id: &str, label: &str, value: &mut Layer, layers: &[Layer]) {
    let label = ui.label(label);
    egui::ComboBox::from_id_salt(id)
        .selected_text(value.name())
        .show_ui(ui, |ui| {
            for &layer in layers {
                ui.selectable_value(value, layer, layer.name());
            }
        })
        .response
        .labelled_by(label.id);
}

fn class_combo(ui: &mut egui::Ui, id: &str, label: &str, value: &mut usize, names: &[String]) {
    let label = ui.label(label);
    egui::ComboBox::from_id_salt(id)
        .selected_text(names.get(*value).cloned().unwrap_or_default())
        .show_ui(ui, |ui| {
            for (index, name) in names.iter().enumerate() {
                ui.selectable_value(value, index, name);
            }
        })
        .response
        .labelled_by(label.id);
}

pub fn explain_panel_ui(app: &mut AtlasApp, ui: &mut egui::Ui) {
    let lang = app.lang();
    let ctx = ui.ctx().clone();
    let class_names: Vec<String> = match &app.model {
        ModelStatus::Ready(info) => info.class_names.iter().map(|id| app.class_display_names(id).0).collect(),
        _ => Vec::new(),
    };
    ui.horizontal_wrapped(|ui| {
        for method in Method::ALL {
            ui.selectable_value(&mut app.explain.method, method, method.label().get(lang));
        }
    });
    ui.separator();
    let panel = &mut app.explain;
    ui.horizontal_wrapped(|ui| {
        match panel.method {
            Method::Summary | Method::PaperMap => {}
            Method::FeatureMaps => {
                layer_combo(ui, "feature-layer", T::Layer.get(lang), &mut panel.feature_layer, &Layer::ALL);
                let label = ui.label(T::Normalisation.get(lang));
                egui::ComboBox::from_id_salt("normalisation")
                    .selected_text(match panel.normalisation {
                        MapNormalisation::PerChannel => T::PerChannel.get(lang),
                        MapNormalisation::PerLayer => T::PerLayer.get(lang),
                        MapNormalisation::Global => T::Global.get(lang),
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut panel.normalisation, MapNormalisation::PerChannel, T::PerChannel.get(lang));
                        ui.selectable_value(&mut panel.normalisation, MapNormalisation::PerLayer, T::PerLayer.get(lang));
                        ui.selectable_value(&mut panel.normalisation, MapNormalisation::Global, T::Global.get(lang));
                    })
                    .response
                    .labelled_by(label.id);
            }
            Method::Filters => layer_combo(ui, "filter-layer", T::Layer.get(lang), &mut panel.filter_layer, &Layer::CONV),
            Method::Saliency | Method::GradCam | Method::Occlusion => {
                let label = ui.label(T::Class.get(lang));
                let selected = panel.class.and_then(|c| class_names.get(c).cloned()).unwrap_or_else(|| T::PredictedClassOption.get(lang).to_string());
                egui::ComboBox::from_id_salt("explain-class")
                    .selected_text(selected)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut panel.class, None, T::PredictedClassOption.get(lang));
                        for (index, name) in class_names.iter().enumerate() {
                            ui.selectable_value(&mut panel.class, Some(index), name);
                        }
                    })
                    .response
                    .labelled_by(label.id);
                match panel.method {
                    Method::GradCam => layer_combo(ui, "gradcam-layer", T::Layer.get(lang), &mut panel.gradcam_layer, &Layer::CONV),
                    Method::Saliency => {
                        ui.checkbox(&mut panel.smooth, T::SmoothGrad.get(lang));
                        if panel.smooth {
                            let label = ui.label(T::Samples.get(lang));
                            ui.add(egui::DragValue::new(&mut panel.samples).range(2..=64)).labelled_by(label.id);
                        }
                    }
                    _ => {
                        let label = ui.label(T::PatchSize.get(lang));
                        ui.add(egui::DragValue::new(&mut panel.patch).range(4..=60)).labelled_by(label.id);
                        let label = ui.label(T::Stride.get(lang));
                        ui.add(egui::DragValue::new(&mut panel.stride).range(1..=30)).labelled_by(label.id);
                    }
                }
                let label = ui.label(T::Opacity.get(lang));
                ui.add(egui::Slider::new(&mut panel.opacity, 0.0..=1.0)).labelled_by(label.id);
            }
            Method::Visualize => {
                let label = ui.label(T::Target.get(lang));
                egui::ComboBox::from_id_salt("vis-target")
                    .selected_text(match panel.vis_target {
                        VisTarget::Channel => T::TargetChannel.get(lang),
                        VisTarget::Class => T::TargetClass.get(lang),
                        VisTarget::TwoClasses => T::TargetTwoClasses.get(lang),
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut panel.vis_target, VisTarget::Channel, T::TargetChannel.get(lang));
                        ui.selectable_value(&mut panel.vis_target, VisTarget::Class, T::TargetClass.get(lang));
                        ui.selectable_value(&mut panel.vis_target, VisTarget::TwoClasses, T::TargetTwoClasses.get(lang));
                    })
                    .response
                    .labelled_by(label.id);
                match panel.vis_target {
                    VisTarget::Channel => {
                        layer_combo(ui, "vis-layer", T::Layer.get(lang), &mut panel.vis_layer, &[Layer::Conv1, Layer::Conv2, Layer::Conv3, Layer::Conv4, Layer::Fc1, Layer::Fc2]);
                        let channels = crate::engine::model::layer_output_shape(panel.vis_layer, class_names.len() as i64)[0] as usize;
                        panel.vis_channel = panel.vis_channel.min(channels.saturating_sub(1));
                        let label = ui.label(T::Channel.get(lang));
                        ui.add(egui::DragValue::new(&mut panel.vis_channel).range(0..=channels.saturating_sub(1))).labelled_by(label.id);
                    }
                    VisTarget::Class => class_combo(ui, "vis-class", T::Class.get(lang), &mut panel.vis_class, &class_names),
                    VisTarget::TwoClasses => {
                        class_combo(ui, "vis-class", T::Class.get(lang), &mut panel.vis_class, &class_names);
                        class_combo(ui, "vis-class-2", T::SecondClass.get(lang), &mut panel.vis_second_class, &class_names);
                    }
                }
                let label = ui.label(T::Steps.get(lang));
                ui.add(egui::DragValue::new(&mut panel.vis_config.steps).range(8..=4096)).labelled_by(label.id);
                let label = ui.label(T::LearningRate.get(lang));
                ui.add(egui::DragValue::new(&mut panel.vis_config.learning_rate).range(0.001..=1.0).speed(0.005)).labelled_by(label.id);
                let label = ui.label(T::Seed.get(lang));
                ui.add(egui::DragValue::new(&mut panel.vis_config.seed)).labelled_by(label.id);
            }
        }
    });
    ui.horizontal(|ui| {
        let ready = matches!(app.model, ModelStatus::Ready(_)) && app.explain.running.is_none() && !app.worker_busy();
        if ui.add_enabled(ready, egui::Button::new(egui::RichText::new(T::Compute.get(lang)).size(16.0))).clicked() {
            app.compute_explanation();
        }
        let exportable = matches!(app.explain.result_for(app.explain.method), Some(Shown::Picture { .. } | Shown::Heat { .. }));
        if ui.add_enabled(exportable, egui::Button::new(T::ExportPng.get(lang))).clicked() {
            app.request_dialog(&ctx, DialogKind::ExportPng);
        }
        if app.explain.running.is_some() {
            ui.spinner();
            if let Some((done, total)) = app.explain.progress {
                ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(240.0).text(format!("{done}/{total}")));
            }
        }
        if app.explain.method.needs_picture() && !app.classify.has_picture() {
            ui.label(T::OpenPictureFirst.get(lang));
        }
    });
    ui.separator();
    // Quick views compute as soon as they are chosen; slow ones (occlusion, feature
    // visualisation, SmoothGrad) wait for 计算.
    let quick = matches!(app.explain.method, Method::Summary | Method::FeatureMaps | Method::PaperMap | Method::Filters | Method::GradCam)
        || (app.explain.method == Method::Saliency && !app.explain.smooth);
    let can_run = matches!(app.model, ModelStatus::Ready(_)) && app.explain.running.is_none() && !app.worker_busy();
    let has_input = !app.explain.method.needs_picture() || app.classify.has_picture();
    if quick && can_run && has_input && app.explain.result_for(app.explain.method).is_none() {
        app.compute_explanation();
    }
    egui::ScrollArea::both().show(ui, |ui| result_ui(app, ui, lang));
}

fn result_ui(app: &AtlasApp, ui: &mut egui::Ui, lang: Lang) {
    let panel = &app.explain;
    if panel.method == Method::Visualize && !panel.objective_values.is_empty() {
        ui.horizontal(|ui| {
            if let Some(Shown::Picture { texture, .. }) = panel.result_for(Method::Visualize) {
                ui.add(egui::Image::new((texture.id(), egui::vec2(320.0, 320.0))).alt_text(T::ExplainVisualize.get(lang)));
            }
            ui.vertical(|ui| {
                ui.label(T::Objective.get(lang));
                Plot::new("objective").width(360.0).height(300.0).show(ui, |plot| {
                    plot.line(Line::new(T::Objective.get(lang), PlotPoints::from(panel.objective_values.clone())));
                });
            });
        });
        return;
    }
    let Some(shown) = panel.result_for(panel.method) else { return };
    match shown {
        Shown::Summary(rows) => {
            egui::Grid::new("summary").striped(true).num_columns(5).show(ui, |ui| {
                for header in [T::Layer, T::Class, T::OutputShape, T::Parameters, T::ReceptiveField] {
                    ui.strong(if header == T::Class { "" } else { header.get(lang) });
                }
                ui.end_row();
                for row in rows {
                    ui.label(row.layer.name());
                    ui.label(&row.description);
                    ui.label(format!("{:?}", row.output_shape));
                    ui.label(row.parameters.to_string());
                    ui.label(format!("{0}×{0}", row.receptive_field));
                    ui.end_row();
                }
                ui.strong(T::Total.get(lang));
                ui.label("");
                ui.label("");
                ui.strong(rows.iter().map(|r| r.parameters).sum::<i64>().to_string());
                ui.end_row();
            });
        }
        Shown::Picture { texture, caption, .. } => {
            if panel.method == Method::PaperMap {
                ui.label(T::PaperMapNote.get(lang));
            }
            if !caption.is_empty() {
                ui.label(caption);
            }
            let size = texture.size_vec2();
            let fit = (ui.available_width() / size.x).min(1200.0 / size.x.max(size.y)).max(1.0).floor().max(1.0);
            ui.add(egui::Image::new((texture.id(), size * fit)).alt_text(panel.method.label().get(lang)));
        }
        Shown::Heat { photo, heat, caption, all_zero, .. } => {
            ui.label(caption);
            if *all_zero {
                ui.colored_label(ui.visuals().warn_fg_color, T::NoPositiveEvidence.get(lang));
            }
            ui.horizontal(|ui| {
                let size = egui::vec2(400.0, 400.0);
                ui.vertical(|ui| {
                    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
                    ui.painter().image(photo.id(), rect, egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)), egui::Color32::WHITE);
                    if !*all_zero {
                        let tint = egui::Color32::from_white_alpha((panel.opacity * 255.0) as u8);
                        ui.painter().image(heat.id(), rect, egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)), tint);
                    }
                });
                ui.vertical(|ui| {
                    ui.add(egui::Image::new((photo.id(), egui::vec2(190.0, 190.0))).alt_text(T::AsNetworkSees.get(lang)));
                    ui.small(T::AsNetworkSees.get(lang));
                    // The map alone, on black.
                    let (rect, _) = ui.allocate_exact_size(egui::vec2(190.0, 190.0), egui::Sense::hover());
                    ui.painter().rect_filled(rect, 0.0, egui::Color32::BLACK);
                    if !*all_zero {
                        ui.painter().image(heat.id(), rect, egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)), egui::Color32::WHITE);
                    }
                    ui.small(T::MapAlone.get(lang));
                });
            });
        }
    }
}
