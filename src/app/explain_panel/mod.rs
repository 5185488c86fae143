//! 解释: ways to look inside the network for the picture open in the classifier, each computed
//! on the worker, each exportable as PNG. Parts: `settings` (method settings), `visualisation`
//! (feature-visualisation settings), `results` (what was computed and how it is shown).

mod results;
mod settings;
mod visualisation;

pub use results::{Caption, ExplainResults, SanityShown, Shown};
pub use settings::MethodSettings;
pub use visualisation::VisSettings;

use eframe::egui;

use super::context::{AppAction, AppContext};
use super::dialogs::DialogKind;
use super::i18n::{self, Lang, T};
use crate::app::panel::Panel;
use crate::engine::attribution::{AttributionMethod, AttributionSettings};
use crate::engine::explain::VisObjective;
use crate::engine::model::Layer;
use crate::worker::{Event, ModelInfo};
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

    /// Views with a form for the paper's network only (its figure); other networks show them
    /// disabled, saying so.
    pub fn paper_only(self) -> bool {
        matches!(self, Method::PaperMap)
    }

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

/// 解释: method settings, feature-visualisation settings and the results, each a part of its own.
#[derive(Default)]
pub struct ExplainPanel {
    pub(crate) settings: MethodSettings,
    pub(crate) vis: VisSettings,
    pub(crate) results: ExplainResults,
    /// A photo someone asked to see explained (from another tab): its map is computed once it
    /// is open, whatever the method's speed.
    pub(crate) explain_when_open: Option<std::path::PathBuf>,
}

impl ExplainPanel {
    /// What has been computed, and the job computing now.
    pub fn results(&self) -> &ExplainResults {
        &self.results
    }

    pub fn settings(&self) -> &MethodSettings {
        &self.settings
    }

    pub fn result_for(&self, method: Method) -> Option<&Shown> {
        self.results.shown.iter().find(|(m, _)| *m == method).map(|(_, shown)| shown)
    }

    fn show(&mut self, method: Method, shown: Shown) {
        self.results.shown.retain(|(m, _)| *m != method);
        self.results.shown.push((method, shown));
    }

    /// Results describe one picture and one model; a new one of either clears them.
    /// "See its explanation" from another tab: the photo's class activation map, unless a map of
    /// the photo is already the chosen view; computed as soon as the photo is open.
    pub fn explain_photo(&mut self, path: &std::path::Path) {
        if !matches!(self.settings.method, Method::Saliency | Method::GradCam | Method::Occlusion) {
            self.settings.method = Method::GradCam;
        }
        self.explain_when_open = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    }

    pub fn clear(&mut self) {
        self.results.failed_request = None;
        self.results.shown.clear();
        self.results.sanity = None;
        self.results.objective_values.clear();
    }

    fn explain_event(&mut self, ctx: &egui::Context, event: ExplainEvent) {
        match event {
            ExplainEvent::Explained { request, view } => self.received(ctx, &request, view),
            ExplainEvent::VisualizeStep { step, value, preview, .. } => self.visualize_step(ctx, step, value, preview),
        }
    }

    /// Shows a result; its caption is worded when drawn, in the language of the moment.
    fn received(&mut self, ctx: &egui::Context, request: &ExplainRequest, view: ExplainView) {
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
                    PictureKind::FeatureMaps { layer, channels } => Caption::FeatureMaps { layer, channels },
                    PictureKind::PaperMap { channel } => Caption::PaperMap { channel },
                    PictureKind::Filters { layer } => Caption::Filters { layer },
                    PictureKind::Visualization => Caption::None,
                };
                Shown::Picture { texture: texture(format!("explain-{method:?}"), &picture, options), picture, caption }
            }
            ExplainView::Sanity { class, report } => {
                self.results.sanity = Some(SanityShown { method: report.method, class, report });
                return;
            }
            ExplainView::Heat { method: attribution, photo, heat, class, all_zero, layer, base_probability, faithfulness } => {
                let caption = Caption::Map { method: attribution, layer, class, base_probability };
                Shown::Heat {
                    photo: texture(format!("explain-photo-{method:?}"), &photo, egui::TextureOptions::LINEAR),
                    heat: texture(format!("explain-heat-{method:?}"), &heat, egui::TextureOptions::LINEAR),
                    photo_picture: photo,
                    heat_picture: heat,
                    caption,
                    all_zero,
                    method: attribution,
                    class,
                    faithfulness,
                }
            }
        };
        self.show(method, shown);
    }

    fn visualize_step(&mut self, ctx: &egui::Context, step: usize, value: f32, preview: Option<Picture>) {
        self.results.objective_values.push([step as f64, f64::from(value)]);
        if let Some(picture) = preview {
            let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
            let texture = ctx.load_texture("explain-visualize-preview", image, egui::TextureOptions::LINEAR);
            self.show(Method::Visualize, Shown::Picture { texture, picture, caption: Caption::None });
        }
    }

    fn request(&self) -> ExplainRequest {
        match self.settings.method {
            Method::Summary => ExplainRequest::Summary,
            Method::FeatureMaps => {
                ExplainRequest::FeatureMaps { layer: self.settings.feature_layer, normalisation: self.settings.normalisation }
            }
            Method::PaperMap => ExplainRequest::PaperMap,
            Method::Filters => ExplainRequest::Filters { layer: self.settings.filter_layer },
            Method::Saliency | Method::GradCam | Method::Occlusion => ExplainRequest::Attribute {
                method: self.attribution_method(),
                class: self.settings.class,
                settings: self.attribution_settings(),
                faithfulness: true,
            },
            Method::Visualize => {
                let objective = match self.vis.target {
                    VisTarget::Channel => VisObjective::Channel { layer: self.vis.layer, channel: self.vis.channel },
                    VisTarget::Class => VisObjective::Class(self.vis.class),
                    VisTarget::TwoClasses => VisObjective::TwoClasses(self.vis.class, self.vis.second_class),
                };
                ExplainRequest::Visualize { objective, config: self.vis.config }
            }
        }
    }

    /// The attribution method of the selected tab.
    /// Quick views compute as soon as they are chosen; slow ones (occlusion, feature
    /// visualisation, SmoothGrad, Score-CAM) wait for 计算.
    fn computes_by_itself(&self) -> bool {
        matches!(self.settings.method, Method::Summary | Method::FeatureMaps | Method::PaperMap | Method::Filters)
            || (matches!(self.settings.method, Method::Saliency | Method::GradCam) && !self.attribution_method().is_slow())
    }

    /// Whether a class activation map on screen is of another layer than the one chosen.
    fn other_layer(&self, caption: &Caption) -> bool {
        matches!(caption, Caption::Map { layer: Some(layer), .. } if *layer != self.settings.gradcam_layer)
    }

    fn attribution_method(&self) -> AttributionMethod {
        match self.settings.method {
            Method::GradCam => self.settings.cam_method,
            Method::Occlusion => AttributionMethod::Occlusion,
            _ => self.settings.gradient_method,
        }
    }

    fn attribution_settings(&self) -> AttributionSettings {
        AttributionSettings {
            layer: self.settings.gradcam_layer,
            smooth_samples: self.settings.samples,
            ig_steps: self.settings.ig_steps,
            ig_baseline: self.settings.ig_baseline,
            occlusion_patch: self.settings.patch,
            occlusion_stride: self.settings.stride,
            ..AttributionSettings::default()
        }
    }

    /// Starts the sanity check of the map on screen.
    pub fn check_sanity(&mut self, cx: &mut AppContext) {
        let Some(Shown::Heat { method, class, .. }) = self.result_for(self.settings.method) else { return };
        let request = ExplainRequest::SanityCheck { method: *method, class: Some(*class), settings: self.attribution_settings() };
        self.results.sanity = None;
        self.results.last_request = Some(request.clone());
        self.results.failed_request = None;
        let job = cx.submit(Job::Explain(ExplainJob::Run { path: cx.photo.clone(), request }));
        self.results.running = job.map(|job| (job, self.settings.method));
    }

    /// Computes the selected view on the interactive worker.
    pub fn compute(&mut self, cx: &mut AppContext) {
        let method = self.settings.method;
        let path = cx.photo.clone();
        if method.needs_picture() && path.is_none() {
            cx.messages.notice = Some(cx.t(T::OpenPictureFirst).to_string());
            return;
        }
        if method == Method::Visualize {
            self.results.objective_values.clear();
        }
        let request = self.request();
        self.results.last_request = Some(request.clone());
        self.results.failed_request = None;
        let job = cx.submit(Job::Explain(ExplainJob::Run { path, request }));
        self.results.running = job.map(|job| (job, method));
    }

    /// Writes the current view as PNG (a heat map blended at the chosen opacity).
    pub fn export(&mut self, path: &std::path::Path, cx: &mut AppContext) {
        let Some(shown) = self.result_for(self.settings.method) else { return };
        let image = match shown {
            Shown::Summary(_) => return,
            Shown::Picture { picture, .. } => rgba_image(picture),
            Shown::Heat { photo_picture, heat_picture, .. } => {
                blend(&rgba_image(photo_picture), &rgba_image(heat_picture), self.settings.opacity)
            }
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
    /// The chosen method's own settings.
    fn options_ui(&mut self, ui: &mut egui::Ui, lang: Lang, class_names: &[String]) {
        match self.settings.method {
            Method::Summary | Method::PaperMap => {}
            Method::FeatureMaps => self.settings.feature_map_options_ui(ui, lang),
            Method::Filters => {
                layer_combo(ui, "filter-layer", T::Layer.get(lang), &mut self.settings.filter_layer, &self.settings.layers.spatial)
            }
            Method::Saliency | Method::GradCam | Method::Occlusion => self.settings.heat_options_ui(ui, lang, class_names),
            Method::Visualize => self.vis.options_ui(ui, lang, class_names, &self.settings.layers),
        }
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal(|ui| {
            let ready = cx.model_info().is_some() && self.results.running.is_none();
            if ui.add_enabled(ready, egui::Button::new(egui::RichText::new(T::Compute.get(lang)).size(16.0))).clicked() {
                self.compute(cx);
            }
            let exportable = matches!(self.result_for(self.settings.method), Some(Shown::Picture { .. } | Shown::Heat { .. }));
            if ui.add_enabled(exportable, egui::Button::new(T::ExportPng.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ExportPng));
            }
            let has_map = matches!(self.result_for(self.settings.method), Some(Shown::Heat { .. }));
            let sanity = egui::Button::new(T::SanityCheck.get(lang));
            if has_map && ui.add_enabled(ready, sanity).clicked() {
                self.check_sanity(cx);
            }
            if let Some((job, _)) = self.results.running {
                ui.spinner();
                let running = cx.jobs.running().iter().find(|j| j.id == job);
                if let Some(((done, total), running)) = running.and_then(|j| Some((j.progress?, j))) {
                    let left = running.time_left().map(|left| format!(" · {}", i18n::time_left(lang, left))).unwrap_or_default();
                    let bar = egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(240.0);
                    ui.add(bar.text(format!("{done}/{total}{left}")));
                }
                if ui.button(T::Cancel.get(lang)).clicked() {
                    cx.jobs.cancel(job);
                }
            }
            if self.settings.method.needs_picture() && cx.photo.is_none() {
                ui.label(T::OpenPictureFirst.get(lang));
            }
            let nothing_yet = self.result_for(self.settings.method).is_none() && self.results.running.is_none();
            if nothing_yet && cx.photo.is_some() && cx.model_info().is_some() && !self.computes_by_itself() {
                ui.colored_label(ui.visuals().warn_fg_color, T::PressComputeHint.get(lang));
            }
            // A slow method just chosen is not computed by itself: the map on screen is the
            // previous method's until 计算 is pressed.
            if let Some(Shown::Heat { method, .. }) = self.result_for(self.settings.method)
                && *method != self.attribution_method()
                && self.results.running.is_none()
            {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    i18n::stale_map_hint(lang, method.display_name(), self.attribution_method().display_name()),
                );
            }
        });
    }
}

impl Panel for ExplainPanel {
    fn on_event(&mut self, ctx: &egui::Context, _job: JobId, event: Event, _cx: &mut AppContext) -> Option<Event> {
        let Event::Explain(event) = event else { return Some(event) };
        self.explain_event(ctx, event);
        None
    }

    fn job_failed(&mut self, job: JobId, _error: &JobError) {
        if self.results.running.is_some_and(|(running, _)| running == job) {
            self.results.failed_request = self.results.last_request.clone();
        }
    }

    fn job_finished(&mut self, job: JobId) {
        if self.results.running.is_some_and(|(running, _)| running == job) {
            self.results.running = None;
        }
    }

    /// Explanations were of the previous model's answers; its layers are the pickers' now.
    fn model_changed(&mut self, info: &ModelInfo) {
        self.clear();
        if !info.is_paper_network() && self.settings.method.paper_only() {
            self.settings.method = Method::GradCam;
        }
        self.settings.use_layers(settings::LayerLists {
            all: info.all_layers(),
            spatial: info.spatial_layers(),
            input_size: info.input_size,
            channels: info.layers.iter().map(|layer| layer.channels()).collect(),
        });
        if !self.settings.layers.visualisable().contains(&self.vis.layer) {
            self.vis.layer = self.settings.layers.spatial.get(self.settings.layers.spatial.len() / 2).copied().unwrap_or(Layer::CONV2);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        let class_names = cx.class_labels();
        let paper = cx.model_info().is_none_or(|info| info.is_paper_network());
        ui.horizontal_wrapped(|ui| {
            for method in Method::ALL {
                let tab = egui::Button::selectable(self.settings.method == method, method.label().get(lang));
                let response = ui.add_enabled(paper || !method.paper_only(), tab).on_disabled_hover_text(T::PaperNetworkOnly.get(lang));
                if response.clicked() {
                    self.settings.method = method;
                }
            }
        });
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            // A narrow window wraps the row between controls, never inside a label.
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            self.options_ui(ui, lang, &class_names);
        });
        self.buttons_ui(ui, cx);
        ui.separator();
        // Quick views compute as soon as they are chosen; slow ones (occlusion, feature
        // visualisation, SmoothGrad) wait for 计算.
        let quick = self.computes_by_itself();
        let has_input = !self.settings.method.needs_picture() || cx.photo.is_some();
        let failed_before = self.results.failed_request.as_ref() == Some(&self.request());
        // A result of another method or layer than the one chosen is recomputed.
        if let Some(Shown::Heat { method, caption, .. }) = self.result_for(self.settings.method)
            && (*method != self.attribution_method() || self.other_layer(caption))
            && quick
        {
            let tab = self.settings.method;
            self.results.shown.retain(|(m, _)| *m != tab);
        }
        let asked = self.explain_when_open.is_some() && self.explain_when_open == cx.photo;
        if asked && cx.model_info().is_some() && self.results.running.is_none() {
            self.explain_when_open = None;
            self.compute(cx);
        }
        if quick
            && !failed_before
            && cx.model_info().is_some()
            && self.results.running.is_none()
            && has_input
            && self.result_for(self.settings.method).is_none()
        {
            self.compute(cx);
        }
        egui::ScrollArea::both().show(ui, |ui| self.result_ui(ui, lang, &class_names));
    }
}
