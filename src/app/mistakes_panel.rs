//! 错误: where the model in use goes wrong. Its wrong answers on the photos it was validated on,
//! the surest first; each with Grad-CAM maps for the class it chose and for the true class, the
//! training photos nearest to it in fc2 space, and buttons to explain it or place it on the atlas.

use std::collections::HashMap;
use std::path::PathBuf;

use eframe::egui;

use super::context::{AppAction, AppContext};
use super::dialogs::DialogKind;
use super::i18n::{self, T};
use super::panel::Panel;
use super::photo_button::photo_button;
use super::state::Tab;
use crate::worker::{Event, JobError, ModelInfo};
use crate::worker::{Job, JobId, MistakeView, MistakesEvent, MistakesJob, MistakesView, Picture};

/// Side of the photo and its maps in a row, in points.
const PICTURE_SIDE: f32 = 96.0;
/// Side of a neighbour's thumbnail.
const NEAR_SIDE: f32 = 64.0;
/// Width of a row's words (classes, probabilities, file, buttons).
const INFO_WIDTH: f32 = 250.0;

/// In which order the mistakes are listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MistakeOrder {
    /// The surest wrong answers first: what the model has learned wrongly.
    #[default]
    SurestFirst,
    /// The least sure first: near misses.
    LeastSureFirst,
}

#[derive(Default)]
pub struct MistakesPanel {
    /// The folder examined: chosen here, else the model's training folder or the training tab's.
    pub(crate) folder: Option<PathBuf>,
    folder_chosen: bool,
    pub(crate) finding: Option<JobId>,
    pub(crate) found: Option<MistakesView>,
    /// Show only mistakes whose true class is this one.
    pub(crate) truth_filter: Option<usize>,
    pub(crate) order: MistakeOrder,
    textures: HashMap<String, egui::TextureHandle>,
    /// The model and training folder the default folder was worked out for: it is looked up on
    /// disk when they change, not every frame.
    default_for: Option<(Option<PathBuf>, Option<PathBuf>)>,
}

impl MistakesPanel {
    /// The folder examined.
    pub fn folder(&self) -> Option<&PathBuf> {
        self.folder.as_ref()
    }

    /// The job looking for mistakes, while it runs.
    pub fn finding(&self) -> Option<JobId> {
        self.finding
    }

    /// The mistakes found last.
    pub fn found(&self) -> Option<&MistakesView> {
        self.found.as_ref()
    }

    fn find(&mut self, cx: &mut AppContext) {
        let (Some(weights), Some(data_dir)) = (cx.model_info().map(|i| i.path.clone()), self.folder.clone()) else { return };
        self.finding = cx.submit(Job::Mistakes(MistakesJob::Find { weights, data_dir }));
    }

    pub fn folder_chosen(&mut self, folder: PathBuf) {
        self.folder = Some(folder);
        self.folder_chosen = true;
    }

    fn mistakes_event(&mut self, job: JobId, event: MistakesEvent) {
        if self.finding != Some(job) {
            return;
        }
        let MistakesEvent::Found(view) = event;
        self.textures.clear();
        self.found = Some(view);
    }

    fn texture(&mut self, ctx: &egui::Context, key: String, picture: &Picture) -> egui::TextureHandle {
        self.textures
            .entry(key.clone())
            .or_insert_with(|| {
                let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
                ctx.load_texture(key, image, egui::TextureOptions::LINEAR)
            })
            .clone()
    }

    /// Photos the model may have trained on say little about its mistakes: say so, give the
    /// estimate that does (its cross-validation), and offer a folder it has not seen.
    fn not_held_out_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        let cv = cx.model_info().and_then(|info| info.cross_validation.as_deref());
        let estimate = cv.map(|cv| i18n::cross_validation_estimate(lang, cv));
        let said = ui.colored_label(ui.visuals().warn_fg_color, i18n::mistakes_on_training_photos(lang, estimate.as_deref()));
        if let Some(cv) = cv {
            said.on_hover_text(i18n::cross_validation_definition(lang, cv));
        }
        if ui.button(T::ChooseUnseenFolder.get(lang)).clicked() {
            cx.actions.push(AppAction::OpenDialog(DialogKind::PickMistakesFolder));
        }
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, found: &MistakesView, cx: &mut AppContext) {
        let lang = cx.lang;
        let names = cx.class_labels();
        let name = |class: usize| names.get(class).cloned().unwrap_or_else(|| class.to_string());
        ui.strong(i18n::mistakes_summary(lang, found.wrong, found.examined, found.held_out));
        if !found.held_out {
            self.not_held_out_ui(ui, cx);
        }
        if found.mistakes.len() < found.wrong {
            ui.small(i18n::mistakes_shown(lang, found.mistakes.len()));
        }
        ui.horizontal(|ui| {
            let label = ui.label(T::MistakesTrueClass.get(lang));
            let selected = self.truth_filter.map(name).unwrap_or_else(|| T::AllClasses.get(lang).to_string());
            egui::ComboBox::from_id_salt("mistakes-truth")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.truth_filter, None, T::AllClasses.get(lang));
                    for class in 0..names.len() {
                        let count = found.mistakes.iter().filter(|m| m.truth == class).count();
                        if count > 0 {
                            ui.selectable_value(&mut self.truth_filter, Some(class), format!("{} ({count})", name(class)));
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            ui.selectable_value(&mut self.order, MistakeOrder::SurestFirst, T::SurestFirst.get(lang));
            ui.selectable_value(&mut self.order, MistakeOrder::LeastSureFirst, T::LeastSureFirst.get(lang));
        });
        let mut shown: Vec<&MistakeView> = found.mistakes.iter().filter(|m| self.truth_filter.is_none_or(|c| m.truth == c)).collect();
        if self.order == MistakeOrder::LeastSureFirst {
            shown.reverse();
        }
        if found.wrong == 0 {
            ui.label(T::NoMistakes.get(lang));
            return;
        }
        let row_height = PICTURE_SIDE + 40.0;
        egui::ScrollArea::vertical().auto_shrink(false).show_rows(ui, row_height, shown.len(), |ui, rows| {
            for mistake in &shown[rows] {
                self.mistake_row_ui(ui, mistake, &name, cx);
                ui.separator();
            }
        });
    }

    fn mistake_row_ui(&mut self, ui: &mut egui::Ui, m: &MistakeView, name: &dyn Fn(usize) -> String, cx: &mut AppContext) {
        let lang = cx.lang;
        let file = m.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let key = m.path.display().to_string();
        let side = egui::vec2(PICTURE_SIDE, PICTURE_SIDE);
        // The neighbours go beside the row only where all of them fit.
        let gap = ui.spacing().item_spacing.x;
        let row = 3.0 * (PICTURE_SIDE + 2.0 * gap) + INFO_WIDTH + 3.0 * gap;
        let neighbours = m.near.len() as f32 * (NEAR_SIDE + 2.0 * gap) + gap;
        let beside = ui.available_width() >= row + neighbours;
        ui.horizontal(|ui| {
            let photo = self.texture(ui.ctx(), format!("mistake-{key}"), &m.picture);
            let response = ui.add(egui::Button::image(egui::Image::new((photo.id(), side))));
            response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &file));
            if response.on_hover_text(T::ClickToExplain.get(lang)).clicked() {
                cx.actions.push(AppAction::ExplainPhoto(m.path.clone()));
            }
            for (picture, caption, tag) in [
                (&m.predicted_map, i18n::evidence_for(lang, &name(m.predicted)), "predicted"),
                (&m.truth_map, i18n::evidence_for(lang, &name(m.truth)), "truth"),
            ] {
                ui.vertical(|ui| {
                    let texture = self.texture(ui.ctx(), format!("mistake-{tag}-{key}"), picture);
                    ui.add(egui::Image::new((texture.id(), side)).alt_text(caption.clone()));
                    ui.small(caption);
                });
            }
            ui.vertical(|ui| {
                // A fixed width, so the neighbours line up from row to row.
                ui.set_width(INFO_WIDTH);
                ui.strong(format!("{} {} → {} {}", T::TrueClass.get(lang), name(m.truth), T::PredictedClass.get(lang), name(m.predicted)));
                ui.label(i18n::mistake_probabilities(lang, m.confidence, m.truth_probability));
                ui.small(&file);
                ui.horizontal(|ui| {
                    if ui.small_button(T::ExplainThis.get(lang)).clicked() {
                        cx.actions.push(AppAction::ExplainPhoto(m.path.clone()));
                    }
                    if ui.small_button(T::ShowOnAtlas.get(lang)).clicked() {
                        cx.actions.push(AppAction::PlaceOnAtlas(vec![m.path.clone()]));
                        cx.actions.push(AppAction::ShowTab(Tab::Atlas));
                    }
                });
            });
            if beside {
                ui.separator();
                ui.vertical(|ui| self.neighbours_ui(ui, m, name, cx));
            }
        });
        if !beside {
            // Under the row, where the window is too narrow for them beside it.
            ui.horizontal(|ui| {
                ui.add_space(PICTURE_SIDE + ui.spacing().item_spacing.x);
                ui.vertical(|ui| self.neighbours_ui(ui, m, name, cx));
            });
        }
    }

    /// The training photos nearest to a mistake, each opening in 解释 on a click.
    fn neighbours_ui(&mut self, ui: &mut egui::Ui, m: &MistakeView, name: &dyn Fn(usize) -> String, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.small(T::NearestTraining.get(lang));
        ui.horizontal(|ui| {
            for near in &m.near {
                let near_file = near.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let tip = format!("{near_file}\n{} · {} {:.2}", name(near.class), T::Similarity.get(lang), near.similarity);
                ui.vertical(|ui| {
                    let texture =
                        near.picture.as_ref().map(|picture| self.texture(ui.ctx(), format!("near-{}", near.path.display()), picture).id());
                    let response = photo_button(ui, texture, NEAR_SIDE, &near_file);
                    if response.on_hover_text(tip).clicked() {
                        cx.actions.push(AppAction::ExplainPhoto(near.path.clone()));
                    }
                    // The neighbour's class, marked when it is the wrongly predicted one.
                    let text = egui::RichText::new(name(near.class)).small();
                    ui.label(if near.class == m.predicted { text.color(ui.visuals().warn_fg_color) } else { text });
                });
            }
        });
    }
}

impl Panel for MistakesPanel {
    fn on_event(&mut self, _ctx: &egui::Context, job: JobId, event: Event, _cx: &mut AppContext) -> Option<Event> {
        let Event::Mistakes(event) = event else { return Some(event) };
        self.mistakes_event(job, event);
        None
    }

    fn job_failed(&mut self, job: JobId, _error: &JobError) {
        if self.finding == Some(job) {
            self.finding = None;
        }
    }

    fn job_finished(&mut self, job: JobId) {
        if self.finding == Some(job) {
            self.finding = None;
        }
    }

    /// A new model: the mistakes shown were another model's.
    fn model_changed(&mut self, info: &ModelInfo) {
        let weights = info.path.as_path();
        if self.found.as_ref().is_some_and(|f| f.weights != weights) {
            self.found = None;
            self.textures.clear();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.heading(T::MistakesTitle.get(lang));
        ui.label(T::MistakesIntro.get(lang));
        let inputs = (cx.model_info().map(|info| info.path.clone()), cx.settings.last_data_dir.clone());
        if !self.folder_chosen && self.default_for.as_ref() != Some(&inputs) {
            let trained_on = cx.model_info().and_then(|info| info.data_dir.clone()).filter(|d| d.is_dir());
            self.folder = trained_on.or_else(|| inputs.1.clone().filter(|d| d.is_dir()));
            self.default_for = Some(inputs);
        }
        ui.horizontal(|ui| {
            ui.label(T::MistakesFolder.get(lang));
            match &self.folder {
                Some(folder) => ui.monospace(folder.display().to_string()),
                None => ui.weak(T::MistakesNoFolder.get(lang)),
            };
            if ui.button(T::ChooseFolder.get(lang)).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::PickMistakesFolder));
            }
        });
        ui.horizontal(|ui| {
            let ready = cx.model_info().is_some() && self.folder.is_some() && self.finding.is_none();
            if ui.add_enabled(ready, egui::Button::new(T::FindMistakes.get(lang))).clicked() {
                self.find(cx);
            }
            if let Some(job) = self.finding {
                ui.spinner();
                if let Some((done, total)) = cx.jobs.running().iter().find(|j| j.id == job).and_then(|j| j.progress) {
                    ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(200.0));
                }
                if ui.button(T::Cancel.get(lang)).clicked() {
                    cx.jobs.cancel(job);
                }
            }
        });
        ui.separator();
        let Some(found) = self.found.take() else { return };
        self.results_ui(ui, &found, cx);
        self.found = Some(found);
    }
}
