//! 解释: ways to look inside the network for the picture open in the classifier, each computed
//! on the worker, each exportable as PNG.

use eframe::egui;
use egui_plot::{Line, Plot, PlotPoints};

use super::context::{AppAction, AppContext};
use super::dialogs::DialogKind;
use super::i18n::{self, Lang, T};
use crate::engine::attribution::{AttributionMethod, AttributionSettings, IgBaseline};
use crate::engine::explain::{LayerSummary, MapNormalisation, VisConfig, VisObjective};
use crate::engine::faithfulness::{FaithfulnessReport, SanityReport};
use crate::engine::model::Layer;
use crate::worker::{ExplainEvent, ExplainJob, ExplainRequest, ExplainView, Job, JobError, JobId, Picture, PictureKind};

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
    pub const ALL: [Method; 8] = [
        Method::Summary,
        Method::FeatureMaps,
        Method::PaperMap,
        Method::Filters,
        Method::Saliency,
        Method::GradCam,
        Method::Occlusion,
        Method::Visualize,
    ];

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

    /// The tab that shows an attribution method's maps.
    fn of_attribution(method: AttributionMethod) -> Method {
        if AttributionMethod::CAM.contains(&method) {
            Method::GradCam
        } else if method == AttributionMethod::Occlusion {
            Method::Occlusion
        } else {
            Method::Saliency
        }
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
    Picture {
        texture: egui::TextureHandle,
        picture: Picture,
        caption: String,
    },
    Heat {
        photo: egui::TextureHandle,
        heat: egui::TextureHandle,
        photo_picture: Picture,
        heat_picture: Picture,
        caption: String,
        all_zero: bool,
        method: AttributionMethod,
        class: usize,
        /// The class as the window names it.
        class_name: String,
        faithfulness: Option<Box<FaithfulnessReport>>,
    },
}

/// A sanity check's result, for the map it checked.
pub struct SanityShown {
    pub method: AttributionMethod,
    pub class: usize,
    pub report: SanityReport,
}

pub struct ExplainPanel {
    pub method: Method,
    /// None: the predicted class.
    pub class: Option<usize>,
    pub feature_layer: Layer,
    pub normalisation: MapNormalisation,
    pub filter_layer: Layer,
    pub gradcam_layer: Layer,
    /// The method of the 梯度归因 tab (saliency, SmoothGrad, Integrated Gradients, Guided Backprop).
    pub gradient_method: AttributionMethod,
    /// The method of the CAM tab.
    pub cam_method: AttributionMethod,
    pub samples: usize,
    pub ig_steps: usize,
    pub ig_baseline: IgBaseline,
    pub patch: usize,
    pub stride: usize,
    pub opacity: f32,
    pub vis_target: VisTarget,
    pub vis_layer: Layer,
    pub vis_channel: usize,
    pub vis_class: usize,
    pub vis_second_class: usize,
    pub vis_config: VisConfig,
    /// The job computing `method`, while it runs.
    pub running: Option<(JobId, Method)>,
    /// The request of the running (or last) job.
    last_request: Option<ExplainRequest>,
    /// A request that failed: quick views do not retry it by themselves every frame.
    failed_request: Option<ExplainRequest>,
    pub objective_values: Vec<[f64; 2]>,
    pub shown: Vec<(Method, Shown)>,
    pub sanity: Option<SanityShown>,
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
            gradient_method: AttributionMethod::Saliency,
            cam_method: AttributionMethod::GradCam,
            samples: 16,
            ig_steps: 64,
            ig_baseline: IgBaseline::Black,
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
            last_request: None,
            failed_request: None,
            objective_values: Vec::new(),
            shown: Vec::new(),
            sanity: None,
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
        self.failed_request = None;
        self.shown.clear();
        self.sanity = None;
        self.objective_values.clear();
    }

    pub fn on_event(&mut self, ctx: &egui::Context, _job: JobId, event: ExplainEvent, cx: &mut AppContext) {
        match event {
            ExplainEvent::Explained { request, view } => self.received(ctx, &request, view, cx),
            ExplainEvent::VisualizeStep { step, value, preview, .. } => self.visualize_step(ctx, step, value, preview),
        }
    }

    pub fn job_failed(&mut self, job: JobId, _error: &JobError) {
        if self.running.is_some_and(|(running, _)| running == job) {
            self.failed_request = self.last_request.clone();
        }
    }

    pub fn job_finished(&mut self, job: JobId) {
        if self.running.is_some_and(|(running, _)| running == job) {
            self.running = None;
        }
    }

    /// Shows a result, captioned in the window's language.
    fn received(&mut self, ctx: &egui::Context, request: &ExplainRequest, view: ExplainView, cx: &AppContext) {
        let method = method_of(request);
        let texture = |name: String, picture: &Picture, options| {
            let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
            ctx.load_texture(name, image, options)
        };
        let shown = match view {
            ExplainView::Summary(rows) => Shown::Summary(rows),
            ExplainView::Picture { picture, kind } => {
                let options = if kind == PictureKind::Visualization { egui::TextureOptions::LINEAR } else { egui::TextureOptions::NEAREST };
                let caption = match kind {
                    PictureKind::FeatureMaps { layer, channels } => i18n::feature_maps_caption(cx.lang, layer.name(), channels),
                    PictureKind::PaperMap { channel } => i18n::paper_map_caption(cx.lang, channel),
                    PictureKind::Filters { layer } => layer.name().to_string(),
                    PictureKind::Visualization => String::new(),
                };
                Shown::Picture { texture: texture(format!("explain-{method:?}"), &picture, options), picture, caption }
            }
            ExplainView::Sanity { class, report } => {
                self.sanity = Some(SanityShown { method: report.method, class, report });
                return;
            }
            ExplainView::Heat { method: attribution, photo, heat, class, all_zero, layer, base_probability, faithfulness } => {
                let name = cx.class_label(class);
                let caption = match (layer, base_probability) {
                    (Some(layer), _) => format!("{} · {layer} · {name}", attribution.display_name()),
                    (None, Some(p)) => i18n::occlusion_caption(cx.lang, &name, p),
                    (None, None) => format!("{} · {name}", attribution.display_name()),
                };
                Shown::Heat {
                    photo: texture(format!("explain-photo-{method:?}"), &photo, egui::TextureOptions::LINEAR),
                    heat: texture(format!("explain-heat-{method:?}"), &heat, egui::TextureOptions::LINEAR),
                    photo_picture: photo,
                    heat_picture: heat,
                    caption,
                    all_zero,
                    method: attribution,
                    class,
                    class_name: name,
                    faithfulness,
                }
            }
        };
        self.show(method, shown);
    }

    fn visualize_step(&mut self, ctx: &egui::Context, step: usize, value: f32, preview: Option<Picture>) {
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
            Method::Saliency | Method::GradCam | Method::Occlusion => ExplainRequest::Attribute {
                method: self.attribution_method(),
                class: self.class,
                settings: self.attribution_settings(),
                faithfulness: true,
            },
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

    /// The attribution method of the selected tab.
    fn attribution_method(&self) -> AttributionMethod {
        match self.method {
            Method::GradCam => self.cam_method,
            Method::Occlusion => AttributionMethod::Occlusion,
            _ => self.gradient_method,
        }
    }

    fn attribution_settings(&self) -> AttributionSettings {
        AttributionSettings {
            layer: self.gradcam_layer,
            smooth_samples: self.samples,
            ig_steps: self.ig_steps,
            ig_baseline: self.ig_baseline,
            occlusion_patch: self.patch,
            occlusion_stride: self.stride,
            ..AttributionSettings::default()
        }
    }

    /// Starts the sanity check of the map on screen.
    pub fn check_sanity(&mut self, cx: &mut AppContext) {
        let Some(Shown::Heat { method, class, .. }) = self.result_for(self.method) else { return };
        let request = ExplainRequest::SanityCheck { method: *method, class: Some(*class), settings: self.attribution_settings() };
        self.sanity = None;
        self.last_request = Some(request.clone());
        self.failed_request = None;
        let job = cx.submit(Job::Explain(ExplainJob::Run { path: cx.photo.clone(), request }));
        self.running = job.map(|job| (job, self.method));
    }

    /// Computes the selected view on the interactive worker.
    pub fn compute(&mut self, cx: &mut AppContext) {
        let method = self.method;
        let path = cx.photo.clone();
        if method.needs_picture() && path.is_none() {
            cx.messages.notice = Some(cx.t(T::OpenPictureFirst).to_string());
            return;
        }
        if method == Method::Visualize {
            self.objective_values.clear();
        }
        let request = self.request();
        self.last_request = Some(request.clone());
        self.failed_request = None;
        let job = cx.submit(Job::Explain(ExplainJob::Run { path, request }));
        self.running = job.map(|job| (job, method));
    }

    /// Writes the current view as PNG (a heat map blended at the chosen opacity).
    pub fn export(&mut self, path: &std::path::Path, cx: &mut AppContext) {
        let Some(shown) = self.result_for(self.method) else { return };
        let image = match shown {
            Shown::Summary(_) => return,
            Shown::Picture { picture, .. } => rgba_image(picture),
            Shown::Heat { photo_picture, heat_picture, .. } => blend(&rgba_image(photo_picture), &rgba_image(heat_picture), self.opacity),
        };
        match crate::engine::fsutil::write_png(&image::DynamicImage::ImageRgba8(image), path) {
            Ok(()) => cx.messages.notice = Some(format!("{} {}", cx.t(T::Saved), path.display())),
            Err(error) => {
                cx.messages.error =
                    Some(i18n::job_error(cx.lang, &JobError::Write { path: path.to_path_buf(), message: error.to_string() }))
            }
        }
    }
}

/// `heat` laid over `photo`, each pixel by the heat's alpha times `opacity`.
fn blend(photo: &image::RgbaImage, heat: &image::RgbaImage, opacity: f32) -> image::RgbaImage {
    let mut out = photo.clone();
    for (o, h) in out.pixels_mut().zip(heat.pixels()) {
        let alpha = f32::from(h[3]) / 255.0 * opacity;
        for c in 0..3 {
            o[c] = (f32::from(o[c]) * (1.0 - alpha) + f32::from(h[c]) * alpha).round() as u8;
        }
    }
    out
}

fn method_of(request: &ExplainRequest) -> Method {
    match request {
        ExplainRequest::Summary => Method::Summary,
        ExplainRequest::FeatureMaps { .. } => Method::FeatureMaps,
        ExplainRequest::PaperMap => Method::PaperMap,
        ExplainRequest::Filters { .. } => Method::Filters,
        ExplainRequest::Attribute { method, .. } | ExplainRequest::SanityCheck { method, .. } => Method::of_attribution(*method),
        ExplainRequest::Visualize { .. } => Method::Visualize,
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

impl ExplainPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        let class_names = cx.class_labels();
        ui.horizontal_wrapped(|ui| {
            for method in Method::ALL {
                ui.selectable_value(&mut self.method, method, method.label().get(lang));
            }
        });
        ui.separator();
        ui.horizontal_wrapped(|ui| match self.method {
            Method::Summary | Method::PaperMap => {}
            Method::FeatureMaps => self.feature_map_options_ui(ui, lang),
            Method::Filters => layer_combo(ui, "filter-layer", T::Layer.get(lang), &mut self.filter_layer, &Layer::CONV),
            Method::Saliency | Method::GradCam | Method::Occlusion => self.heat_options_ui(ui, lang, &class_names),
            Method::Visualize => self.visualize_options_ui(ui, lang, &class_names),
        });
        self.buttons_ui(ui, cx);
        ui.separator();
        // Quick views compute as soon as they are chosen; slow ones (occlusion, feature
        // visualisation, SmoothGrad) wait for 计算.
        let quick = matches!(self.method, Method::Summary | Method::FeatureMaps | Method::PaperMap | Method::Filters)
            || (matches!(self.method, Method::Saliency | Method::GradCam) && !self.attribution_method().is_slow());
        let has_input = !self.method.needs_picture() || cx.photo.is_some();
        let failed_before = self.failed_request.as_ref() == Some(&self.request());
        // A result of another method or layer than the one chosen is recomputed.
        if let Some(Shown::Heat { method, .. }) = self.result_for(self.method)
            && *method != self.attribution_method()
            && quick
        {
            let tab = self.method;
            self.shown.retain(|(m, _)| *m != tab);
        }
        if quick
            && !failed_before
            && cx.model_info().is_some()
            && self.running.is_none()
            && has_input
            && self.result_for(self.method).is_none()
        {
            self.compute(cx);
        }
        egui::ScrollArea::both().show(ui, |ui| self.result_ui(ui, lang));
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal(|ui| {
            let ready = cx.model_info().is_some() && self.running.is_none();
            if ui.add_enabled(ready, egui::Button::new(egui::RichText::new(T::Compute.get(lang)).size(16.0))).clicked() {
                self.compute(cx);
            }
            let exportable = matches!(self.result_for(self.method), Some(Shown::Picture { .. } | Shown::Heat { .. }));
            if ui.add_enabled(exportable, egui::Button::new(T::ExportPng.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ExportPng));
            }
            let has_map = matches!(self.result_for(self.method), Some(Shown::Heat { .. }));
            if has_map && ui.add_enabled(ready, egui::Button::new(T::SanityCheck.get(lang))).clicked() {
                self.check_sanity(cx);
            }
            if let Some((job, _)) = self.running {
                ui.spinner();
                if let Some((done, total)) = cx.jobs.running().iter().find(|j| j.id == job).and_then(|j| j.progress) {
                    ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(240.0).text(format!("{done}/{total}")));
                }
                if ui.button(T::Cancel.get(lang)).clicked() {
                    cx.jobs.cancel(job);
                }
            }
            if self.method.needs_picture() && cx.photo.is_none() {
                ui.label(T::OpenPictureFirst.get(lang));
            }
        });
    }

    fn feature_map_options_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        layer_combo(ui, "feature-layer", T::Layer.get(lang), &mut self.feature_layer, &Layer::ALL);
        let name = |n| match n {
            MapNormalisation::PerChannel => T::PerChannel.get(lang),
            MapNormalisation::PerLayer => T::PerLayer.get(lang),
            MapNormalisation::Global => T::Global.get(lang),
        };
        let label = ui.label(T::Normalisation.get(lang));
        egui::ComboBox::from_id_salt("normalisation")
            .selected_text(name(self.normalisation))
            .show_ui(ui, |ui| {
                for choice in [MapNormalisation::PerChannel, MapNormalisation::PerLayer, MapNormalisation::Global] {
                    ui.selectable_value(&mut self.normalisation, choice, name(choice));
                }
            })
            .response
            .labelled_by(label.id);
    }

    fn heat_options_ui(&mut self, ui: &mut egui::Ui, lang: Lang, class_names: &[String]) {
        let label = ui.label(T::Class.get(lang));
        let selected =
            self.class.and_then(|c| class_names.get(c).cloned()).unwrap_or_else(|| T::PredictedClassOption.get(lang).to_string());
        egui::ComboBox::from_id_salt("explain-class")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.class, None, T::PredictedClassOption.get(lang));
                for (index, name) in class_names.iter().enumerate() {
                    ui.selectable_value(&mut self.class, Some(index), name);
                }
            })
            .response
            .labelled_by(label.id);
        let method_combo = |ui: &mut egui::Ui, id: &str, value: &mut AttributionMethod, methods: &[AttributionMethod]| {
            let label = ui.label(T::AttributionMethodLabel.get(lang));
            egui::ComboBox::from_id_salt(id)
                .selected_text(value.display_name())
                .show_ui(ui, |ui| {
                    for &method in methods {
                        ui.selectable_value(value, method, method.display_name());
                    }
                })
                .response
                .labelled_by(label.id);
        };
        match self.method {
            Method::GradCam => {
                method_combo(ui, "cam-method", &mut self.cam_method, &AttributionMethod::CAM);
                layer_combo(ui, "gradcam-layer", T::Layer.get(lang), &mut self.gradcam_layer, &Layer::CONV);
            }
            Method::Saliency => {
                method_combo(ui, "gradient-method", &mut self.gradient_method, &AttributionMethod::GRADIENT);
                match self.gradient_method {
                    AttributionMethod::SmoothGrad => {
                        let label = ui.label(T::Samples.get(lang));
                        ui.add(egui::DragValue::new(&mut self.samples).range(2..=64)).labelled_by(label.id);
                    }
                    AttributionMethod::IntegratedGradients => {
                        let label = ui.label(T::IgSteps.get(lang));
                        ui.add(egui::DragValue::new(&mut self.ig_steps).range(4..=512)).labelled_by(label.id);
                        let name = |baseline| match baseline {
                            IgBaseline::Black => T::BaselineBlack.get(lang),
                            IgBaseline::Blurred => T::BaselineBlurred.get(lang),
                            IgBaseline::Noise => T::BaselineNoise.get(lang),
                        };
                        let label = ui.label(T::IgBaselineLabel.get(lang));
                        egui::ComboBox::from_id_salt("ig-baseline")
                            .selected_text(name(self.ig_baseline))
                            .show_ui(ui, |ui| {
                                for baseline in IgBaseline::ALL {
                                    ui.selectable_value(&mut self.ig_baseline, baseline, name(baseline));
                                }
                            })
                            .response
                            .labelled_by(label.id);
                    }
                    _ => {}
                }
            }
            _ => {
                let label = ui.label(T::PatchSize.get(lang));
                ui.add(egui::DragValue::new(&mut self.patch).range(4..=60)).labelled_by(label.id);
                let label = ui.label(T::Stride.get(lang));
                ui.add(egui::DragValue::new(&mut self.stride).range(1..=30)).labelled_by(label.id);
            }
        }
        let label = ui.label(T::Opacity.get(lang));
        ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0)).labelled_by(label.id);
    }

    fn visualize_options_ui(&mut self, ui: &mut egui::Ui, lang: Lang, class_names: &[String]) {
        let name = |t| match t {
            VisTarget::Channel => T::TargetChannel.get(lang),
            VisTarget::Class => T::TargetClass.get(lang),
            VisTarget::TwoClasses => T::TargetTwoClasses.get(lang),
        };
        let label = ui.label(T::Target.get(lang));
        egui::ComboBox::from_id_salt("vis-target")
            .selected_text(name(self.vis_target))
            .show_ui(ui, |ui| {
                for target in [VisTarget::Channel, VisTarget::Class, VisTarget::TwoClasses] {
                    ui.selectable_value(&mut self.vis_target, target, name(target));
                }
            })
            .response
            .labelled_by(label.id);
        match self.vis_target {
            VisTarget::Channel => {
                layer_combo(
                    ui,
                    "vis-layer",
                    T::Layer.get(lang),
                    &mut self.vis_layer,
                    &[Layer::Conv1, Layer::Conv2, Layer::Conv3, Layer::Conv4, Layer::Fc1, Layer::Fc2],
                );
                let channels = crate::engine::model::layer_output_shape(self.vis_layer, class_names.len() as i64)[0] as usize;
                self.vis_channel = self.vis_channel.min(channels.saturating_sub(1));
                let label = ui.label(T::Channel.get(lang));
                ui.add(egui::DragValue::new(&mut self.vis_channel).range(0..=channels.saturating_sub(1))).labelled_by(label.id);
            }
            VisTarget::Class => class_combo(ui, "vis-class", T::Class.get(lang), &mut self.vis_class, class_names),
            VisTarget::TwoClasses => {
                class_combo(ui, "vis-class", T::Class.get(lang), &mut self.vis_class, class_names);
                class_combo(ui, "vis-class-2", T::SecondClass.get(lang), &mut self.vis_second_class, class_names);
            }
        }
        let label = ui.label(T::Steps.get(lang));
        ui.add(egui::DragValue::new(&mut self.vis_config.steps).range(8..=4096)).labelled_by(label.id);
        let label = ui.label(T::LearningRate.get(lang));
        ui.add(egui::DragValue::new(&mut self.vis_config.learning_rate).range(0.001..=1.0).speed(0.005)).labelled_by(label.id);
        let label = ui.label(T::Seed.get(lang));
        ui.add(egui::DragValue::new(&mut self.vis_config.seed)).labelled_by(label.id);
    }
    fn result_ui(&self, ui: &mut egui::Ui, lang: Lang) {
        let panel = self;
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
                        ui.label(super::i18n::layer_kind(lang, row.kind));
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
            Shown::Heat { photo, heat, caption, all_zero, faithfulness, class_name, .. } => {
                ui.label(caption);
                if *all_zero {
                    ui.colored_label(ui.visuals().warn_fg_color, T::NoPositiveEvidence.get(lang));
                }
                ui.horizontal(|ui| {
                    let size = egui::vec2(400.0, 400.0);
                    ui.vertical(|ui| {
                        let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
                        ui.painter().image(
                            photo.id(),
                            rect,
                            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                            egui::Color32::WHITE,
                        );
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
                            ui.painter().image(
                                heat.id(),
                                rect,
                                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                                egui::Color32::WHITE,
                            );
                        }
                        ui.small(T::MapAlone.get(lang));
                    });
                    // How far to believe the map, beside it.
                    ui.vertical(|ui| {
                        ui.set_max_width(480.0);
                        if let Some(report) = faithfulness {
                            faithfulness_ui(ui, lang, report, class_name);
                        }
                        if let Some(sanity) = &panel.sanity
                            && let Some(Shown::Heat { method, class, .. }) = panel.result_for(panel.method)
                            && sanity.method == *method
                            && sanity.class == *class
                        {
                            sanity_ui(ui, lang, &sanity.report);
                        }
                    });
                });
            }
        }
    }
}

/// Deletion and insertion curves of the map beside a random and a Sobel map, a table of the
/// numbers, and one plain sentence.
fn faithfulness_ui(ui: &mut egui::Ui, lang: Lang, report: &FaithfulnessReport, class: &str) {
    ui.strong(T::FaithfulnessHeading.get(lang));
    ui.label(i18n::deletion_sentence(
        lang,
        class,
        report.probability,
        report.map.probability_after_deleting(0.1),
        report.random.probability_after_deleting(0.1),
    ));
    // One colour per map in both plots and the table, so no legend covers the curves.
    let maps = [
        (T::FaithfulnessMap, &report.map, egui::Color32::from_rgb(255, 110, 60)),
        (T::FaithfulnessRandom, &report.random, egui::Color32::from_rgb(120, 160, 255)),
        (T::FaithfulnessSobel, &report.sobel, egui::Color32::from_rgb(140, 210, 110)),
    ];
    let curve = |values: &[f32]| -> PlotPoints<'static> {
        let steps = (values.len() - 1).max(1) as f64;
        values.iter().enumerate().map(|(k, p)| [k as f64 / steps, f64::from(*p)]).collect()
    };
    type Pick = fn(&crate::engine::faithfulness::Faithfulness) -> &[f32];
    let plots: [(T, &str, Pick); 2] =
        [(T::DeletionCurve, "deletion-curves", |f| &f.deletion), (T::InsertionCurve, "insertion-curves", |f| &f.insertion)];
    ui.horizontal(|ui| {
        for (title, id, pick) in plots {
            ui.vertical(|ui| {
                ui.label(title.get(lang));
                Plot::new(id)
                    .width(230.0)
                    .height(150.0)
                    .include_x(0.0)
                    .include_x(1.0)
                    .include_y(0.0)
                    .include_y(1.05)
                    .x_axis_label(T::FractionOfPixels.get(lang))
                    .y_axis_label(T::ClassProbability.get(lang))
                    .allow_scroll(false)
                    .allow_drag(false)
                    .show(ui, |plot| {
                        for (name, faithfulness, colour) in maps {
                            plot.line(Line::new(name.get(lang), curve(pick(faithfulness))).color(colour).width(2.0));
                        }
                    });
            });
        }
    });
    egui::Grid::new("faithfulness-table").striped(true).num_columns(5).show(ui, |ui| {
        for header in [T::FaithfulnessMapColumn, T::DeletionAuc, T::InsertionAuc, T::AverageDrop, T::ConfidenceIncreased] {
            ui.strong(header.get(lang));
        }
        ui.end_row();
        for (name, faithfulness, colour) in maps {
            ui.colored_label(colour, name.get(lang));
            ui.label(format!("{:.3}", faithfulness.deletion_auc));
            ui.label(format!("{:.3}", faithfulness.insertion_auc));
            ui.label(format!("{:.1}%", faithfulness.average_drop * 100.0));
            ui.label(if faithfulness.increased { T::Yes.get(lang) } else { T::No.get(lang) });
            ui.end_row();
        }
    });
}

fn sanity_ui(ui: &mut egui::Ui, lang: Lang, report: &SanityReport) {
    ui.separator();
    ui.label(egui::RichText::new(T::SanityHeading.get(lang)).strong());
    egui::Grid::new("sanity-table").striped(true).num_columns(3).show(ui, |ui| {
        for header in [T::SanityRandomisedDownTo.get(lang), "Spearman ρ", "SSIM"] {
            ui.strong(header);
        }
        ui.end_row();
        for stage in &report.stages {
            ui.label(stage.randomised_down_to.name());
            ui.label(format!("{:.3}", stage.spearman));
            ui.label(format!("{:.3}", stage.ssim));
            ui.end_row();
        }
    });
    if report.insensitive {
        ui.colored_label(ui.visuals().warn_fg_color, T::SanityInsensitive.get(lang));
    } else {
        ui.label(T::SanitySensitive.get(lang));
    }
}
