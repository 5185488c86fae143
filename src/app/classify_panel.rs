//! 分类: the paper's classifier window, done well. "读取图片" opens a picture, "验证" names the
//! class with its confidence, a top-5 chart and the class's introduction.

use std::path::{Path, PathBuf};

use eframe::egui;

use super::context::{AppAction, AppContext};
use super::description_editor::DescriptionEditor;
use super::dialogs::DialogKind;
use super::i18n::{Lang, T};
use super::panel::Panel;
use super::path_label::path_label;
use crate::worker::{ClassifyEvent, ClassifyJob, Job, JobError, JobId, Picture};
use crate::worker::{Event, ModelInfo};

/// The result of "验证" for the open picture.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifyResult {
    pub probabilities: Vec<f32>,
    pub model_fingerprint: String,
}

impl ClassifyResult {
    /// (class index, probability), most probable first.
    pub fn ranked(&self) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self.probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }
}

#[derive(Default)]
pub struct ClassifyPanel {
    /// The picture asked for last (it may still be opening).
    pub(crate) image_path: Option<PathBuf>,
    /// The picture on screen and the file it came from.
    shown: Option<(PathBuf, egui::TextureHandle)>,
    pub(crate) original_size: Option<(u32, u32)>,
    /// The job decoding the picture, while it runs.
    pub(crate) opening: Option<JobId>,
    /// The job classifying it, while it runs.
    pub(crate) verifying: Option<JobId>,
    pub(crate) result: Option<ClassifyResult>,
    pub(crate) editor: Option<DescriptionEditor>,
}

impl ClassifyPanel {
    /// The picture asked for last (it may still be opening).
    pub fn image_path(&self) -> Option<&PathBuf> {
        self.image_path.as_ref()
    }

    /// The job decoding the picture, while it runs.
    pub fn opening(&self) -> Option<JobId> {
        self.opening
    }

    /// The job classifying it, while it runs.
    pub fn verifying(&self) -> Option<JobId> {
        self.verifying
    }

    /// The answer of the last 验证.
    pub fn result(&self) -> Option<&ClassifyResult> {
        self.result.as_ref()
    }

    /// The description editor, while it is open.
    pub fn editor(&self) -> Option<&DescriptionEditor> {
        self.editor.as_ref()
    }

    /// Opens a picture (from the dialog, a drop, a link or a test).
    pub fn open(&mut self, path: PathBuf, cx: &mut AppContext) {
        // Remembered between runs, so keep it valid from any working directory.
        let path = std::path::absolute(&path).unwrap_or(path);
        if let Some(dir) = path.parent() {
            cx.settings.last_image_dir = Some(dir.to_path_buf());
        }
        self.image_path = Some(path.clone());
        self.result = None;
        self.opening = cx.submit(Job::Classify(ClassifyJob::Open { path }));
    }

    /// Runs the classifier on the open picture.
    pub fn verify(&mut self, cx: &mut AppContext) {
        let Some(path) = self.image_path.clone() else { return };
        if cx.model_info().is_none() {
            cx.messages.notice = Some(cx.t(T::ModelNotReady).to_string());
            return;
        }
        self.verifying = cx.submit(Job::Classify(ClassifyJob::Classify { path }));
    }

    fn classify_event(&mut self, ctx: &egui::Context, event: ClassifyEvent) {
        match event {
            ClassifyEvent::Opened { path, picture, original_size } => self.opened(ctx, path, &picture, original_size),
            ClassifyEvent::Classified { path, probabilities, model_fingerprint } => {
                if self.image_path.as_ref() == Some(&path) {
                    self.result = Some(ClassifyResult { probabilities, model_fingerprint });
                }
            }
        }
    }

    fn opened(&mut self, ctx: &egui::Context, path: PathBuf, picture: &Picture, original_size: (u32, u32)) {
        if self.image_path.as_ref() != Some(&path) {
            return; // a newer picture was asked for meanwhile
        }
        let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
        self.shown = Some((path, ctx.load_texture("classify-picture", image, egui::TextureOptions::LINEAR)));
        self.original_size = Some(original_size);
    }

    pub fn has_picture(&self) -> bool {
        self.shown.is_some()
    }

    /// The picture on screen (decoded), for the views that explain it.
    pub fn shown_photo(&self) -> Option<&Path> {
        self.shown.as_ref().map(|(path, _)| path.as_path())
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        ui.horizontal(|ui| {
            let big = |text: &str| egui::RichText::new(text).size(18.0);
            if ui.add(egui::Button::new(big(cx.t(T::ReadImage))).min_size(egui::vec2(120.0, 34.0))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::OpenImage));
            }
            // 验证 classifies the picture on screen, not one still opening.
            let can_verify = self.has_picture() && self.opening.is_none() && cx.model_info().is_some() && self.verifying.is_none();
            if ui.add_enabled(can_verify, egui::Button::new(big(cx.t(T::Verify))).min_size(egui::vec2(120.0, 34.0))).clicked() {
                self.verify(cx);
            }
            if self.opening.is_some() || self.verifying.is_some() {
                ui.spinner();
            }
            if let Some(path) = &self.image_path {
                let size = self.original_size.map(|(w, h)| format!("  ({})", super::i18n::picture_size(cx.lang, w, h))).unwrap_or_default();
                ui.label(format!("{}{size}", path.display()));
            }
        });
    }

    fn picture_ui(&self, ui: &mut egui::Ui, lang: Lang) {
        let Some((path, texture)) = &self.shown else {
            ui.centered_and_justified(|ui| {
                ui.label(egui::RichText::new(format!("{}\n\n{}", T::NoImageYet.get(lang), T::DropHint.get(lang))).size(18.0));
            });
            return;
        };
        // Fit the picture to the space, keeping its aspect ratio.
        let available = ui.available_size();
        let size = texture.size_vec2();
        let scale = (available.x / size.x).min(available.y / size.y).min(4.0);
        let alt = path.display().to_string();
        ui.centered_and_justified(|ui| {
            ui.add(egui::Image::new((texture.id(), size * scale)).alt_text(alt));
        });
    }

    fn result_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let Some(info) = cx.model_info() else {
            ui.label(cx.t(T::LoadingModel));
            return;
        };
        let class_names = info.class_names.clone();
        let Some(result) = self.result.clone() else {
            if self.has_picture() {
                ui.label(cx.t(T::PressVerify));
            }
            return;
        };
        let ranked = result.ranked();
        let Some(&(best, confidence)) = ranked.first() else { return };
        let best_id = class_names.get(best).cloned().unwrap_or_default();
        let (main_name, other_name) = cx.class_names_of(&best_id);
        ui.label(egui::RichText::new(&main_name).size(30.0).strong());
        if !other_name.is_empty() {
            ui.label(egui::RichText::new(&other_name).size(18.0));
        }
        ui.label(egui::RichText::new(format!("{} {}", cx.t(T::Confidence), percent(confidence))).size(18.0));
        ui.add_space(8.0);
        ui.label(egui::RichText::new(cx.t(T::TopFive)).strong());
        for &(class, probability) in ranked.iter().take(5) {
            let name = cx.class_label(class);
            ui.add(
                egui::ProgressBar::new(probability)
                    .desired_width(ui.available_width().min(360.0))
                    .text(format!("{name}  {}", percent(probability))),
            );
        }
        ui.add_space(10.0);
        self.introduction_ui(ui, cx, &best_id);
    }

    fn introduction_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext, class_id: &str) {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(cx.t(T::Introduction)).strong());
            // Classes nobody has described yet get "添加介绍"; described ones can be edited.
            let described = cx.descriptions.is_some_and(|set| set.get(class_id).is_some());
            let button = if described { T::EditDescription } else { T::AddDescription };
            if ui.small_button(cx.t(button)).clicked() {
                self.open_editor(class_id, cx);
            }
        });
        let description = cx.descriptions.and_then(|set| set.get(class_id));
        let intro = description.map(|d| if cx.lang == Lang::Zh { &d.intro_zh } else { &d.intro_en }).filter(|s| !s.trim().is_empty());
        match intro {
            Some(intro) => ui.label(egui::RichText::new(intro).size(15.0)),
            None => ui.label(egui::RichText::new(cx.t(T::NoDescription)).italics()),
        };
        if let Some(set) = cx.descriptions {
            ui.add_space(6.0);
            path_label(ui, cx.t(T::DescriptionsFrom), &set.path);
        }
    }

    /// Opens the description editor on all the model's classes, with `class_id` selected.
    pub fn open_editor(&mut self, class_id: &str, cx: &mut AppContext) {
        let Some(info) = cx.model_info() else { return };
        let (class_ids, data_dir) = (info.class_names.clone(), info.data_dir.clone());
        let existing = cx.descriptions.cloned();
        self.editor = Some(DescriptionEditor::open(&class_ids, existing.as_ref(), class_id, data_dir.as_deref(), cx));
    }

    /// The description editor's window, while it is open.
    pub fn description_editor_ui(&mut self, ctx: &egui::Context, cx: &mut AppContext) {
        if let Some(editor) = self.editor.as_mut()
            && !editor.ui(ctx, cx)
        {
            self.editor = None;
        }
    }
}

/// "87.3%", or "<0.1%" for what would round to zero.
pub fn percent(probability: f32) -> String {
    if probability > 0.0 && probability < 0.0005 { "<0.1%".to_string() } else { format!("{:.1}%", probability * 100.0) }
}

/// `~/.local/share/activation-atlas` (or `$XDG_DATA_HOME/activation-atlas`).
pub fn user_data_dir() -> PathBuf {
    crate::resources::user_data_dir()
}

impl Panel for ClassifyPanel {
    fn on_event(&mut self, ctx: &egui::Context, _job: JobId, event: Event, _cx: &mut AppContext) -> Option<Event> {
        let Event::Classify(event) = event else { return Some(event) };
        self.classify_event(ctx, event);
        None
    }

    fn job_failed(&mut self, job: JobId, error: &JobError) {
        let is_ours = self.opening == Some(job) || self.verifying == Some(job);
        if let (true, JobError::Image { path, .. }) = (is_ours, error)
            && self.image_path.as_deref() == Some(path.as_path())
        {
            self.image_path = None;
            self.shown = None;
            self.original_size = None;
        }
    }

    fn job_finished(&mut self, job: JobId) {
        if self.opening == Some(job) {
            self.opening = None;
        }
        if self.verifying == Some(job) {
            self.verifying = None;
        }
    }

    /// A result from another model no longer describes the picture.
    fn model_changed(&mut self, _info: &ModelInfo) {
        self.result = None;
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        self.buttons_ui(ui, cx);
        ui.separator();
        egui::Panel::right("classify-result").resizable(true).default_size(400.0).min_size(300.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.result_ui(ui, cx));
        });
        egui::CentralPanel::default().show(ui, |ui| self.picture_ui(ui, cx.lang));
    }
}
