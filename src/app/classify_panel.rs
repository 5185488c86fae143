//! 分类: the paper's classifier window, done well. "读取图片" opens a picture, "验证" names the
//! class with its confidence, a top-5 chart and the class's introduction.

use std::path::{Path, PathBuf};

use eframe::egui;

use super::dialogs::DialogKind;
use super::i18n::{Lang, T};
use super::{AtlasApp, ModelStatus};
use crate::descriptions::{ClassDescription, DescriptionSet};
use crate::worker::Picture;

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

/// An open description editor for one class.
pub struct DescriptionEditor {
    pub class_id: String,
    pub draft: ClassDescription,
}

#[derive(Default)]
pub struct ClassifyPanel {
    pub image_path: Option<PathBuf>,
    texture: Option<egui::TextureHandle>,
    pub original_size: Option<(u32, u32)>,
    pub opening: bool,
    pub verifying: bool,
    pub result: Option<ClassifyResult>,
    pub editor: Option<DescriptionEditor>,
}

impl ClassifyPanel {
    pub fn begin_open(&mut self, path: PathBuf) {
        self.image_path = Some(path);
        self.opening = true;
        self.result = None;
    }

    pub fn opened(&mut self, ctx: &egui::Context, path: PathBuf, picture: Picture, original_size: (u32, u32)) {
        if self.image_path.as_ref() != Some(&path) {
            return; // a newer picture was asked for meanwhile
        }
        let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
        self.texture = Some(ctx.load_texture("classify-picture", image, egui::TextureOptions::LINEAR));
        self.original_size = Some(original_size);
        self.opening = false;
    }

    pub fn failed(&mut self, path: &Path) {
        if self.image_path.as_deref() == Some(path) {
            self.image_path = None;
            self.texture = None;
            self.original_size = None;
            self.opening = false;
            self.verifying = false;
        }
    }

    pub fn begin_verify(&mut self) {
        self.verifying = true;
    }

    pub fn classified(&mut self, path: PathBuf, probabilities: Vec<f32>, model_fingerprint: String) {
        if self.image_path.as_ref() == Some(&path) {
            self.result = Some(ClassifyResult { probabilities, model_fingerprint });
            self.verifying = false;
        }
    }

    /// A result from another model no longer describes the picture.
    pub fn model_changed(&mut self) {
        self.result = None;
        self.verifying = false;
    }

    pub fn has_picture(&self) -> bool {
        self.texture.is_some()
    }
}

impl AtlasApp {
    /// Writes the current descriptions (with the open edit applied) to `path`, atomically.
    pub fn save_descriptions(&mut self, path: PathBuf) {
        let Some(set) = self.descriptions.as_mut() else { return };
        if let Some(editor) = self.classify.editor.take() {
            *set.entry_mut(&editor.class_id) = editor.draft;
        }
        match set.save(&path) {
            Ok(()) => {
                set.path = path.clone();
                self.settings.description_file = Some(path);
            }
            Err(error) => self.error = Some(super::i18n::descriptions_failed(self.lang(), &error.to_string())),
        }
    }

    /// The names of a class in the current language: (main, secondary).
    pub fn class_display_names(&self, class_id: &str) -> (String, String) {
        let description = self.descriptions.as_ref().and_then(|set| set.get(class_id));
        let zh = description.map(|d| d.name_zh.clone()).filter(|s| !s.is_empty());
        let en = description.map(|d| d.name_en.clone()).filter(|s| !s.is_empty());
        let en = en.unwrap_or_else(|| class_id.to_string());
        match (self.lang(), zh) {
            (Lang::Zh, Some(zh)) => (zh, en),
            (Lang::En, Some(zh)) => (en, zh),
            (_, None) => (en, String::new()),
        }
    }

    fn class_introduction(&self, class_id: &str) -> Option<String> {
        let description = self.descriptions.as_ref()?.get(class_id)?;
        let intro = match self.lang() {
            Lang::Zh => &description.intro_zh,
            Lang::En => &description.intro_en,
        };
        Some(intro.clone()).filter(|s| !s.trim().is_empty())
    }
}

pub fn classify_panel_ui(app: &mut AtlasApp, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    ui.horizontal(|ui| {
        let big = |text: &str| egui::RichText::new(text).size(18.0);
        if ui.add(egui::Button::new(big(app.t(T::ReadImage))).min_size(egui::vec2(120.0, 34.0))).clicked() {
            app.request_dialog(&ctx, DialogKind::OpenImage);
        }
        let can_verify = app.classify.has_picture() && matches!(app.model, ModelStatus::Ready(_)) && !app.classify.verifying;
        let verify = ui.add_enabled(can_verify, egui::Button::new(big(app.t(T::Verify))).min_size(egui::vec2(120.0, 34.0)));
        if verify.clicked() {
            app.verify();
        }
        if app.classify.opening || app.classify.verifying {
            ui.spinner();
        }
        if let Some(path) = &app.classify.image_path {
            let size = app.classify.original_size.map(|(w, h)| format!("  ({})", super::i18n::picture_size(app.lang(), w, h))).unwrap_or_default();
            ui.label(format!("{}{size}", path.display()));
        }
    });
    ui.separator();

    egui::Panel::right("classify-result").resizable(true).default_size(400.0).min_size(300.0).show(ui, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| result_ui(app, ui));
    });
    egui::CentralPanel::default().show(ui, |ui| picture_ui(app, ui));
}

fn picture_ui(app: &AtlasApp, ui: &mut egui::Ui) {
    let Some(texture) = &app.classify.texture else {
        ui.centered_and_justified(|ui| {
            ui.label(egui::RichText::new(format!("{}\n\n{}", app.t(T::NoImageYet), app.t(T::DropHint))).size(18.0));
        });
        return;
    };
    // Fit the picture to the space, keeping its aspect ratio.
    let available = ui.available_size();
    let size = texture.size_vec2();
    let scale = (available.x / size.x).min(available.y / size.y).min(4.0);
    ui.centered_and_justified(|ui| {
        ui.add(egui::Image::new((texture.id(), size * scale)).alt_text(app.classify.image_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default()));
    });
}

fn result_ui(app: &mut AtlasApp, ui: &mut egui::Ui) {
    let ModelStatus::Ready(info) = &app.model else {
        ui.label(app.t(T::LoadingModel));
        return;
    };
    let class_names = info.class_names.clone();
    let Some(result) = app.classify.result.clone() else {
        if app.classify.has_picture() {
            ui.label(app.t(T::PressVerify));
        }
        return;
    };
    let ranked = result.ranked();
    let Some(&(best, confidence)) = ranked.first() else { return };
    let best_id = class_names.get(best).cloned().unwrap_or_default();
    let (main_name, other_name) = app.class_display_names(&best_id);
    ui.label(egui::RichText::new(&main_name).size(30.0).strong());
    if !other_name.is_empty() {
        ui.label(egui::RichText::new(&other_name).size(18.0));
    }
    ui.label(egui::RichText::new(format!("{} {}", app.t(T::Confidence), percent(confidence))).size(18.0));
    ui.add_space(8.0);

    ui.label(egui::RichText::new(app.t(T::TopFive)).strong());
    for &(class, probability) in ranked.iter().take(5) {
        let id = class_names.get(class).cloned().unwrap_or_default();
        let (name, _) = app.class_display_names(&id);
        ui.add(
            egui::ProgressBar::new(probability)
                .desired_width(ui.available_width().min(360.0))
                .text(format!("{name}  {}", percent(probability))),
        );
    }
    ui.add_space(10.0);

    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(app.t(T::Introduction)).strong());
        if app.descriptions.is_some() && ui.small_button(app.t(T::EditDescription)).clicked() {
            open_editor(app, &best_id);
        }
    });
    match app.class_introduction(&best_id) {
        Some(intro) => {
            ui.label(egui::RichText::new(intro).size(15.0));
        }
        None => {
            ui.label(egui::RichText::new(app.t(T::NoDescription)).italics());
        }
    }
    if let Some(set) = &app.descriptions {
        ui.add_space(6.0);
        ui.small(format!("{}: {}", app.t(T::DescriptionsFrom), set.path.display()));
    }
}

/// "87.3%", or "<0.1%" for what would round to zero.
pub fn percent(probability: f32) -> String {
    if probability > 0.0 && probability < 0.0005 { "<0.1%".to_string() } else { format!("{:.1}%", probability * 100.0) }
}

fn open_editor(app: &mut AtlasApp, class_id: &str) {
    let Some(set) = app.descriptions.as_mut() else { return };
    let draft = set.entry_mut(class_id).clone();
    app.classify.editor = Some(DescriptionEditor { class_id: class_id.to_string(), draft });
}

/// A small window to edit the predicted class's names and introductions.
pub fn description_editor_ui(app: &mut AtlasApp, ctx: &egui::Context) {
    let Some(editor) = app.classify.editor.as_mut() else { return };
    let lang = app.settings.lang;
    let mut save = false;
    let mut close = false;
    egui::Window::new(format!("{} — {}", T::EditDescription.get(lang), editor.class_id))
        .collapsible(false)
        .default_width(460.0)
        .show(ctx, |ui| {
            let draft = &mut editor.draft;
            for (label, value, multiline) in [
                (T::ChineseName, &mut draft.name_zh, false),
                (T::EnglishName, &mut draft.name_en, false),
                (T::IntroZh, &mut draft.intro_zh, true),
                (T::IntroEn, &mut draft.intro_en, true),
            ] {
                let label = ui.label(label.get(lang));
                let edit = if multiline { egui::TextEdit::multiline(value).desired_rows(4) } else { egui::TextEdit::singleline(value) };
                ui.add(edit.desired_width(f32::INFINITY)).labelled_by(label.id);
            }
            ui.horizontal(|ui| {
                save = ui.button(T::Save.get(lang)).clicked();
                close = ui.button(T::Close.get(lang)).clicked();
            });
        });
    if close {
        app.classify.editor = None;
    } else if save {
        let target = user_descriptions_path(app.descriptions.as_ref());
        app.save_descriptions(target);
    }
}

/// Shipped description files are not edited in place: edits go to the user's data folder.
fn user_descriptions_path(set: Option<&DescriptionSet>) -> PathBuf {
    let shipped = crate::resources::descriptions_dir();
    let current = set.map(|s| s.path.clone()).unwrap_or_else(|| PathBuf::from("descriptions.toml"));
    let is_shipped = shipped.as_ref().is_some_and(|dir| current.starts_with(dir));
    if !is_shipped {
        return current;
    }
    let name = current.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "descriptions.toml".into());
    user_data_dir().join("user-descriptions").join(name)
}

/// `~/.local/share/activation-atlas` (or `$XDG_DATA_HOME/activation-atlas`).
pub fn user_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join(super::APP_ID)
}
