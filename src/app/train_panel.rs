//! 训练: pick a data set folder, set the training recipe (the paper's defaults), watch loss and
//! accuracy live, then compare the run's checkpoints and use one for classification.

use std::path::{Path, PathBuf};
use std::time::Instant;

use eframe::egui;
use egui_extras::{Column, TableBuilder};
use egui_plot::{Line, Plot, PlotPoints, Points};

use super::confusion_matrix::{confusion_ui, confusion_width};
use super::context::{AppAction, AppContext};
use super::dialogs::DialogKind;
use super::i18n::{self, Lang, T};
use super::panel::Panel;
use super::path_label::path_label;
pub use super::train_form::{ScheduleChoice, TrainForm};
use super::train_form::{StartChoice, augmentation_rows, backbone_ui, form_row, optimiser_rows};
use crate::engine::checkpoint::CheckpointSummary;
use crate::engine::data::DatasetSummary;
use crate::engine::eval::EvalReport;
use crate::engine::train::{EpochRecord, LrSchedule, TrainConfig, TrainEvent, TrainOutcome};
use crate::worker::{DatasetOverview, Job, JobError, JobId, TrainJob, TrainRun, TrainingEvent};
use crate::worker::{Event, ModelInfo};

/// Where a running job is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    pub epoch: u32,
    pub first_epoch: u32,
    pub epochs: u32,
    pub step: usize,
    pub steps_per_epoch: usize,
}

/// The data set part: the folder, what a look into it found, and getting flowers17.
#[derive(Default)]
pub struct DatasetPart {
    pub data_dir: Option<PathBuf>,
    pub overview: Option<DatasetSummary>,
    thumbnails: Vec<Vec<egui::TextureHandle>>,
    /// The job reading the data set, while it runs.
    pub scanning: Option<JobId>,
    /// The job getting flowers17, while it runs.
    pub getting_flowers17: Option<JobId>,
}

/// The run part: the training job while it runs, where it writes, how far it is.
#[derive(Default)]
pub struct RunState {
    pub run_dir: Option<PathBuf>,
    /// The training run, while it runs.
    pub running: Option<JobId>,
    /// Use each new best checkpoint for classification while the run goes on.
    pub follow: bool,
    /// Test hook: the next run's training thread panics after this many steps.
    #[doc(hidden)]
    pub panic_after_steps: Option<usize>,
    started: Option<Instant>,
    steps_done_at_start: usize,
    pub progress: Option<Progress>,
    pub outcome: Option<String>,
}

/// What the run has measured so far, for the charts and tables.
#[derive(Default)]
pub struct RunHistory {
    /// (epochs elapsed as a fraction, loss) per optimiser step.
    pub step_losses: Vec<[f64; 2]>,
    pub epochs: Vec<EpochRecord>,
    pub last_validation: Option<EvalReport>,
    pub checkpoints: Vec<CheckpointSummary>,
}

/// 训练: the recipe form, the data set, the run and its history, each a part of its own.
#[derive(Default)]
pub struct TrainPanel {
    pub(crate) form: TrainForm,
    pub(crate) dataset: DatasetPart,
    pub(crate) run: RunState,
    pub(crate) history: RunHistory,
    /// The per-class table's order, chosen by clicking a column header.
    pub(crate) per_class_sort: TableSort,
    /// The validation photos behind a confusion-matrix cell.
    pub(crate) confusion_photos: super::confusion_photos::ConfusionPhotos,
}

/// A table's order: which column (0 = the rows' own order) and which way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableSort {
    pub column: usize,
    pub descending: bool,
}

impl TableSort {
    /// A click on a column's header: sorts by it, or turns the order round if it already does.
    fn click(&mut self, column: usize) {
        if self.column == column {
            self.descending = !self.descending;
        } else {
            *self = TableSort { column, descending: false };
        }
    }

    fn arrow(&self, column: usize) -> &'static str {
        match (self.column == column, self.descending) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        }
    }
}

impl TrainPanel {
    /// The recipe form.
    pub fn form(&self) -> &TrainForm {
        &self.form
    }

    pub fn form_mut(&mut self) -> &mut TrainForm {
        &mut self.form
    }

    /// The data set folder and what a look into it found.
    pub fn dataset(&self) -> &DatasetPart {
        &self.dataset
    }

    /// The run while it runs.
    pub fn run(&self) -> &RunState {
        &self.run
    }

    pub fn run_mut(&mut self) -> &mut RunState {
        &mut self.run
    }

    /// What the run has measured so far.
    pub fn history(&self) -> &RunHistory {
        &self.history
    }

    /// The validation photos of a clicked confusion-matrix cell.
    pub fn confusion_photos(&self) -> &super::confusion_photos::ConfusionPhotos {
        &self.confusion_photos
    }
}

impl TrainPanel {
    /// Makes `dir` the data set: its summary and thumbnails are read on the worker.
    pub fn choose_folder(&mut self, dir: PathBuf, cx: &mut AppContext) {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        cx.settings.last_data_dir = Some(dir.clone());
        self.dataset.data_dir = Some(dir.clone());
        self.dataset.overview = None;
        self.dataset.scanning = cx.submit(Job::Train(TrainJob::ScanDataset { dir }));
    }

    /// Starts (or, with `resume`, continues) a run on the chosen folder, on its own thread.
    pub fn start(&mut self, resume: Option<PathBuf>, cx: &mut AppContext) {
        let Some(data_dir) = self.dataset.data_dir.clone() else { return };
        let run_dir = match &resume {
            Some(checkpoint) => checkpoint.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => new_run_dir(cx.run_root, &data_dir),
        };
        let config = self.form.to_config(&data_dir);
        let run = TrainRun {
            data_dir,
            config,
            run_dir: run_dir.clone(),
            resume: resume.clone(),
            panic_after_steps: self.run.panic_after_steps.take(),
        };
        let Some(job) = cx.submit(Job::Train(TrainJob::Run(Box::new(run)))) else { return };
        self.run.running = Some(job);
        self.run.run_dir = Some(run_dir);
        self.run.outcome = None;
        self.run.progress = None;
        if resume.is_none() {
            self.history.step_losses.clear();
            self.history.epochs.clear();
            self.history.last_validation = None;
            self.history.checkpoints.clear();
            self.confusion_photos.clear();
        }
        cx.messages.error = None;
    }

    fn training_job_event(&mut self, ctx: &egui::Context, job: JobId, event: TrainingEvent, cx: &mut AppContext) {
        match event {
            TrainingEvent::DatasetScanned(overview) => self.overview_received(ctx, overview),
            TrainingEvent::Progress(event) => self.training_event(event, cx),
            TrainingEvent::Ended(outcome) => {
                self.ended(cx.lang, &outcome);
                if let TrainOutcome::Finished { best: Some(best), .. } = &outcome {
                    cx.actions.push(AppAction::OfferCheckpoint(best.clone()));
                }
                if let Some(dir) = self.run.run_dir.clone() {
                    cx.submit(Job::Train(TrainJob::ListCheckpoints { dir }));
                }
            }
            TrainingEvent::DatasetReady { dir } => self.choose_folder(dir, cx),
            TrainingEvent::Pictures { paths, pictures } => self.confusion_photos.pictures_read(ctx, paths, pictures),
            TrainingEvent::CheckpointsListed { dir, checkpoints } => {
                if self.run.run_dir.as_ref() == Some(&dir) && self.run.running != Some(job) {
                    self.history.checkpoints = checkpoints;
                }
            }
        }
    }

    fn overview_received(&mut self, ctx: &egui::Context, overview: DatasetOverview) {
        self.dataset.thumbnails = overview
            .thumbnails
            .iter()
            .enumerate()
            .map(|(class, pictures)| {
                let texture = |(i, picture): (usize, &crate::worker::Picture)| {
                    let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
                    ctx.load_texture(format!("thumbnail-{class}-{i}"), image, egui::TextureOptions::LINEAR)
                };
                pictures.iter().enumerate().map(texture).collect()
            })
            .collect();
        self.dataset.overview = Some(overview.summary);
    }

    fn training_event(&mut self, event: TrainEvent, cx: &mut AppContext) {
        match event {
            TrainEvent::Started { steps_per_epoch, first_epoch, epochs, .. } => {
                self.run.progress = Some(Progress { epoch: first_epoch, first_epoch, epochs, step: 0, steps_per_epoch });
                self.run.started = Some(Instant::now());
                self.run.steps_done_at_start = 0;
            }
            TrainEvent::Step { epoch, step, steps_per_epoch, loss } => {
                if let Some(progress) = &mut self.run.progress {
                    (progress.epoch, progress.step, progress.steps_per_epoch) = (epoch, step, steps_per_epoch);
                }
                let x = f64::from(epoch - 1) + step as f64 / steps_per_epoch.max(1) as f64;
                self.history.step_losses.push([x, loss]);
            }
            TrainEvent::Epoch { record, validation, photos } => {
                self.history.epochs.retain(|r| r.epoch < record.epoch);
                self.history.epochs.push(record);
                self.history.last_validation = Some(validation);
                self.confusion_photos.epoch_done(photos, cx);
            }
            TrainEvent::CheckpointSaved { path, epoch, is_best } => {
                if is_best && self.run.follow {
                    cx.actions.push(AppAction::LoadModel(path.clone()));
                }
                // Shown at once; the list is re-read from the run folder when the run ends.
                let record = self.history.epochs.iter().find(|r| r.epoch == epoch);
                let summary = CheckpointSummary {
                    path: path.clone(),
                    epoch,
                    validation_accuracy: record.map(|r| r.validation_accuracy),
                    validation_loss: record.map(|r| r.validation_loss),
                    created_at: String::new(),
                };
                self.history.checkpoints.retain(|c| c.path != path);
                self.history.checkpoints.push(summary);
                self.history.checkpoints.sort_by(|a, b| a.path.cmp(&b.path));
            }
        }
    }

    fn ended(&mut self, lang: Lang, outcome: &TrainOutcome) {
        self.run.outcome = Some(match outcome {
            TrainOutcome::Finished { .. } => T::TrainingFinished.get(lang).to_string(),
            TrainOutcome::Cancelled { .. } => T::TrainingCancelled.get(lang).to_string(),
        });
    }

    /// Seconds left, from the pace of the steps so far.
    fn seconds_left(&self) -> Option<f64> {
        let progress = self.run.progress?;
        let done = (progress.epoch - progress.first_epoch) as usize * progress.steps_per_epoch + progress.step;
        let total = (progress.epochs + 1 - progress.first_epoch) as usize * progress.steps_per_epoch;
        let elapsed = self.run.started?.elapsed().as_secs_f64();
        (done > 0).then(|| elapsed / done as f64 * total.saturating_sub(done) as f64)
    }

    fn dataset_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        if ui.add_enabled(self.run.running.is_none(), egui::Button::new(T::PickDataFolder.get(lang))).clicked() {
            cx.actions.push(AppAction::OpenDialog(DialogKind::PickDataFolder));
        }
        let Some(dir) = &self.dataset.data_dir else {
            ui.label(T::DatasetNone.get(lang));
            self.get_flowers17_ui(ui, cx);
            return;
        };
        ui.label(dir.display().to_string());
        let Some(summary) = &self.dataset.overview else {
            if let Some(job) = self.dataset.scanning {
                let progress = cx.jobs.running().iter().find(|j| j.id == job).and_then(|j| j.progress).filter(|(_, total)| *total > 0);
                ui.horizontal(|ui| {
                    ui.spinner();
                    match (cx.jobs.waiting_behind(job), progress) {
                        // Not started: say what it waits for rather than count 0/0.
                        (Some(before), _) => ui.label(i18n::waiting_for(lang, before)),
                        (None, Some((done, total))) => ui.label(format!("{} {done}/{total}", T::ReadingImages.get(lang))),
                        (None, None) => ui.label(format!("{}…", T::ReadingImages.get(lang))),
                    };
                });
            }
            return;
        };
        let images: usize = summary.counts.iter().sum();
        ui.strong(i18n::dataset_line(lang, summary.class_names.len(), images, summary.skipped.len()));
        let small = summary.classes_too_small_to_split();
        if !small.is_empty() {
            ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {} {}", T::TooSmallToSplit.get(lang), small.join(", ")));
        }
        egui::ScrollArea::vertical().id_salt("class-strip-scroll").max_height(200.0).show(ui, |ui| {
            egui::Grid::new("class-strip").num_columns(2).spacing([8.0, 4.0]).show(ui, |ui| {
                for (class, (name, count)) in summary.class_names.iter().zip(&summary.counts).enumerate() {
                    // The description's name in the UI language where the model in use has one.
                    let (shown, _) = cx.class_names_of(name);
                    let label = if shown == *name { format!("{name} ({count})") } else { format!("{shown} · {name} ({count})") };
                    ui.label(label);
                    ui.horizontal(|ui| {
                        ui.spacing_mut().item_spacing.x = 2.0;
                        for texture in self.dataset.thumbnails.get(class).into_iter().flatten() {
                            ui.add(egui::Image::new((texture.id(), egui::vec2(36.0, 36.0))).alt_text(name.as_str()));
                        }
                    });
                    ui.end_row();
                }
            });
        });
        if !summary.skipped.is_empty() {
            egui::CollapsingHeader::new(format!("{} ({})", T::SkippedFiles.get(lang), summary.skipped.len())).show(ui, |ui| {
                for skipped in &summary.skipped {
                    ui.small(&skipped.reason);
                }
            });
        }
    }

    /// No data set yet: offer the paper's, downloaded and sorted in one step.
    fn get_flowers17_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal(|ui| {
            let idle = self.dataset.getting_flowers17.is_none();
            if ui.add_enabled(idle, egui::Button::new(T::GetFlowers17.get(lang))).on_hover_text(T::GetFlowers17Hint.get(lang)).clicked() {
                self.get_flowers17(None, cx);
            }
            let from_file = ui.add_enabled(idle, egui::Button::new(T::GetFlowers17FromFile.get(lang)));
            if from_file.on_hover_text(T::GetFlowers17FromFileHint.get(lang)).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::OpenFlowersArchive));
            }
            if let Some(job) = self.dataset.getting_flowers17 {
                ui.spinner();
                if let Some((done, _)) = cx.jobs.running().iter().find(|j| j.id == job).and_then(|j| j.progress) {
                    ui.label(format!("{done}%"));
                }
            }
        });
    }

    /// Gets flowers17 into the user's data folder: downloaded, or from the archive `from`.
    pub fn get_flowers17(&mut self, from: Option<PathBuf>, cx: &mut AppContext) {
        let dir = crate::resources::user_data_dir().join("datasets").join("flowers17");
        self.dataset.getting_flowers17 = cx.submit(Job::Train(TrainJob::GetFlowers17 { dir, from }));
    }

    /// Where training starts: the paper's network from scratch, or a pretrained network (the
    /// shipped one, or the open network when it is an imported one) with a new last layer, alone
    /// or with its last blocks; choosing one puts that start's own recipe in the form.
    fn start_ui(&mut self, ui: &mut egui::Ui, lang: Lang, open_network: Option<&ModelInfo>) {
        let form = &mut self.form;
        let current = StartChoice::of(&form.recipe);
        let mut choice = current;
        ui.add_enabled_ui(self.run.running.is_none(), |ui| {
            ui.label(T::TrainStart.get(lang));
            ui.radio_value(&mut choice, StartChoice::Scratch, T::StartScratch.get(lang));
            ui.radio_value(&mut choice, StartChoice::Linear, T::StartPretrained.get(lang));
            ui.radio_value(&mut choice, StartChoice::Finetune, T::StartFinetune.get(lang));
        });
        ui.small(match choice {
            StartChoice::Scratch => T::StartScratchExplained.get(lang),
            StartChoice::Linear => T::StartPretrainedExplained.get(lang),
            StartChoice::Finetune => T::StartFinetuneExplained.get(lang),
        });
        let running = self.run.running.is_some();
        if let Some(start) = &mut form.recipe.pretrained {
            ui.add_enabled_ui(!running, |ui| backbone_ui(ui, lang, &mut start.backbone, open_network));
        }
        if choice != current {
            let (seed, validation_fraction) = (form.recipe.seed, form.recipe.validation_fraction);
            let shipped = crate::engine::transfer::BACKBONES[0].0.to_string();
            let backbone = form.recipe.pretrained.as_ref().map_or(shipped, |start| start.backbone.clone());
            form.recipe = match choice {
                StartChoice::Scratch => TrainConfig::default(),
                StartChoice::Linear => crate::engine::recipe::linear_head_recipe(&backbone),
                StartChoice::Finetune => crate::engine::recipe::finetune_recipe(&backbone, crate::engine::recipe::DEFAULT_UNFREEZE),
            };
            (form.recipe.seed, form.recipe.validation_fraction) = (seed, validation_fraction);
            (form.schedule, form.warmup_epochs) = match form.recipe.lr_schedule {
                LrSchedule::Cosine { warmup_epochs } => (ScheduleChoice::Cosine, warmup_epochs),
                _ => (ScheduleChoice::Constant, 0),
            };
        }
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, lang: Lang, open_network: Option<&ModelInfo>) {
        self.start_ui(ui, lang, open_network);
        ui.strong(T::Hyperparameters.get(lang));
        ui.add_enabled_ui(self.run.running.is_none(), |ui| {
            let form = &mut self.form;
            let start = StartChoice::of(&form.recipe);
            egui::Grid::new("train-form").num_columns(3).spacing([8.0, 6.0]).show(ui, |ui| {
                optimiser_rows(ui, lang, form);
                if let Some(crate::engine::recipe::PretrainedStart {
                    mode: crate::engine::recipe::TransferMode::Finetune { unfreeze },
                    ..
                }) = &mut form.recipe.pretrained
                {
                    form_row(ui, lang, T::Unfreeze, T::HintUnfreeze, |ui| ui.add(egui::DragValue::new(unfreeze).range(0..=17)));
                }
                // A linear head is trained on fixed features: augmentation and mixing do not apply.
                if start != StartChoice::Linear {
                    augmentation_rows(ui, lang, &mut form.recipe);
                }
                if start == StartChoice::Scratch {
                    form_row(ui, lang, T::Mixup, T::HintMixup, |ui| {
                        ui.add(egui::Slider::new(&mut form.recipe.mixing.mixup_alpha, 0.0..=1.0))
                    });
                    form_row(ui, lang, T::CutMix, T::HintCutMix, |ui| {
                        ui.add(egui::Slider::new(&mut form.recipe.mixing.cutmix_alpha, 0.0..=1.0))
                    });
                    form_row(ui, lang, T::WeightAverage, T::HintWeightAverage, |ui| {
                        ui.add(egui::DragValue::new(&mut form.recipe.ema_decay).range(0.0..=0.9999).speed(0.001).max_decimals(4))
                    });
                }
                form_row(ui, lang, T::Seed, T::HintSeed, |ui| ui.add(egui::DragValue::new(&mut form.recipe.seed)));
                form_row(ui, lang, T::ValidationFraction, T::HintValidation, |ui| {
                    ui.add(egui::Slider::new(&mut form.recipe.validation_fraction, 0.05..=0.5))
                });
                if start != StartChoice::Linear {
                    form_row(ui, lang, T::CheckpointEvery, T::HintCheckpointEvery, |ui| {
                        ui.add(egui::DragValue::new(&mut form.recipe.checkpoint_every).range(1..=100))
                    });
                    form_row(ui, lang, T::KeepLast, T::HintKeepLast, |ui| {
                        ui.add(egui::DragValue::new(&mut form.recipe.keep_last).range(1..=100))
                    });
                }
            });
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        // Only one run at a time; everything else in the window keeps working while it runs.
        let ready = self.dataset.overview.is_some() && self.run.running.is_none() && self.dataset.scanning.is_none();
        ui.horizontal(|ui| {
            let start = ui.add_enabled(ready, egui::Button::new(egui::RichText::new(T::StartTraining.get(lang)).size(16.0)));
            if start.on_disabled_hover_text(T::TrainingAlreadyRunning.get(lang)).clicked() {
                self.start(None, cx);
            }
            if ui.add_enabled(self.run.running.is_some(), egui::Button::new(T::Cancel.get(lang))).clicked()
                && let Some(job) = self.run.running
            {
                cx.jobs.cancel(job);
            }
            if ui.add_enabled(ready, egui::Button::new(T::ResumeTraining.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ResumeCheckpoint));
            }
        });
        if self.run.running.is_some() {
            ui.small(T::TrainingAlreadyRunning.get(lang));
        }
        ui.checkbox(&mut self.run.follow, T::FollowRun.get(lang)).on_hover_text(T::FollowRunHint.get(lang));
        if let Some(dir) = &self.run.run_dir {
            path_label(ui, T::RunFolder.get(lang), dir);
        }
    }

    fn progress_ui(&self, ui: &mut egui::Ui, lang: Lang) {
        if let Some(outcome) = &self.run.outcome {
            ui.strong(outcome);
        }
        let Some(progress) = self.run.progress else { return };
        let steps_total = (progress.epochs + 1 - progress.first_epoch) as usize * progress.steps_per_epoch;
        let done = (progress.epoch - progress.first_epoch) as usize * progress.steps_per_epoch + progress.step;
        let fraction = if steps_total == 0 { 0.0 } else { done as f32 / steps_total as f32 };
        let mut text = i18n::progress_line(lang, progress.epoch, progress.epochs, progress.step, progress.steps_per_epoch);
        if let (Some(_), Some(left)) = (self.run.running, self.seconds_left()) {
            text += &format!(" · {}", i18n::time_left(lang, std::time::Duration::from_secs_f64(left.max(0.0))));
        }
        ui.add(egui::ProgressBar::new(fraction).text(text));
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        if let Some(report) = &self.history.last_validation {
            ui.separator();
            let names: Vec<String> = report.per_class.iter().map(|class| cx.class_names_of(&class.name).0).collect();
            let mut clicked = None;
            // Side by side where both fit at a readable size, else one above the other.
            if ui.available_width() >= 2.0 * confusion_width(ui, report.confusion.len(), &names) + 24.0 {
                ui.columns(2, |columns| {
                    columns[0].strong(T::ConfusionMatrix.get(lang));
                    clicked = confusion_ui(&mut columns[0], report, &names, lang);
                    columns[1].strong(T::PerClass.get(lang));
                    per_class_ui(&mut columns[1], report, &names, &mut self.per_class_sort, lang);
                });
            } else {
                ui.strong(T::ConfusionMatrix.get(lang));
                clicked =
                    egui::ScrollArea::horizontal().id_salt("confusion-scroll").show(ui, |ui| confusion_ui(ui, report, &names, lang)).inner;
                ui.add_space(8.0);
                ui.strong(T::PerClass.get(lang));
                per_class_ui(ui, report, &names, &mut self.per_class_sort, lang);
            }
            if let Some(cell) = clicked {
                self.confusion_photos.open(cell, cx);
            }
            self.confusion_photos.ui(ui, &names, cx);
        }
        if self.history.checkpoints.is_empty() {
            return;
        }
        ui.separator();
        ui.strong(T::Checkpoints.get(lang));
        let current = cx.model_info().map(|info| info.path.clone());
        let row_height = ui.spacing().interact_size.y + 4.0;
        let headers = [T::File, T::Epoch, T::ValidationAccuracyShort, T::ValidationLoss];
        TableBuilder::new(ui)
            .id_salt("checkpoint-table")
            .striped(true)
            .max_scroll_height(200.0)
            .column(Column::auto().at_least(140.0))
            .columns(Column::auto().at_least(60.0), headers.len() - 1)
            .column(Column::remainder())
            .header(row_height, |mut row| {
                for header in headers {
                    row.col(|ui| {
                        ui.strong(header.get(lang));
                    });
                }
                row.col(|_| {});
            })
            .body(|body| {
                body.rows(row_height, self.history.checkpoints.len(), |mut row| {
                    let checkpoint = &self.history.checkpoints[row.index()];
                    let name = checkpoint.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    for cell in [
                        name,
                        checkpoint.epoch.to_string(),
                        checkpoint.validation_accuracy.map(|a| format!("{:.1}%", a * 100.0)).unwrap_or_default(),
                        checkpoint.validation_loss.map(|l| format!("{l:.4}")).unwrap_or_default(),
                    ] {
                        row.col(|ui| {
                            ui.label(cell);
                        });
                    }
                    row.col(|ui| {
                        if current.as_ref() == Some(&checkpoint.path) {
                            ui.label(T::InUse.get(lang));
                        } else if ui
                            .button(T::UseForClassification.get(lang))
                            .on_hover_text(checkpoint.path.display().to_string())
                            .clicked()
                        {
                            cx.actions.push(AppAction::UseCheckpoint(checkpoint.path.clone()));
                        }
                    });
                });
            });
    }
}

/// `<root>/<data set name>-<UTC time>`.
fn new_run_dir(root: &Path, data_dir: &Path) -> PathBuf {
    let name = data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let stamp = crate::engine::fsutil::utc_timestamp_now().replace([':', '-'], "");
    root.join(format!("{name}-{stamp}"))
}

/// The charts' two series colours: training and validation, the same in both charts.
const TRAINING_COLOUR: egui::Color32 = egui::Color32::from_rgb(100, 160, 255);
const VALIDATION_COLOUR: egui::Color32 = egui::Color32::from_rgb(255, 160, 60);

/// A chart's legend on one line under its title, outside the plot, so it never hides a curve.
fn chart_legend(ui: &mut egui::Ui, entries: [(&str, egui::Color32); 2]) {
    ui.horizontal(|ui| {
        for (name, colour) in entries {
            let (swatch, _) = ui.allocate_exact_size(egui::vec2(18.0, 10.0), egui::Sense::hover());
            ui.painter().line_segment([swatch.left_center(), swatch.right_center()], egui::Stroke::new(2.5, colour));
            ui.label(name);
            ui.add_space(8.0);
        }
    });
}

fn charts_ui(panel: &TrainPanel, ui: &mut egui::Ui, lang: Lang) {
    if panel.history.step_losses.is_empty() && panel.history.epochs.is_empty() {
        return;
    }
    let epoch_points =
        |value: fn(&EpochRecord) -> f64| -> Vec<[f64; 2]> { panel.history.epochs.iter().map(|r| [f64::from(r.epoch), value(r)]).collect() };
    let height = 220.0;
    let series = |training: T, validation: T| [(training.get(lang), TRAINING_COLOUR), (validation.get(lang), VALIDATION_COLOUR)];
    ui.columns(2, |columns| {
        columns[0].strong(T::LossChart.get(lang));
        chart_legend(&mut columns[0], series(T::TrainingLoss, T::ValidationLoss));
        Plot::new("loss-chart").height(height).x_axis_label(T::Epochs.get(lang)).include_y(0.0).show(&mut columns[0], |plot| {
            let steps = PlotPoints::from(panel.history.step_losses.clone());
            plot.line(Line::new(T::TrainingLoss.get(lang), steps).color(TRAINING_COLOUR));
            let validation = epoch_points(|r| r.validation_loss);
            plot.line(Line::new(T::ValidationLoss.get(lang), PlotPoints::from(validation.clone())).color(VALIDATION_COLOUR));
            plot.points(Points::new(T::ValidationLoss.get(lang), PlotPoints::from(validation)).radius(3.0).color(VALIDATION_COLOUR));
        });
        columns[1].strong(T::AccuracyChart.get(lang));
        chart_legend(&mut columns[1], series(T::TrainingAccuracy, T::ValidationAccuracyShort));
        let chart = Plot::new("accuracy-chart").height(height).x_axis_label(T::Epochs.get(lang)).include_y(0.0).include_y(1.0);
        chart.show(&mut columns[1], |plot| {
            for (name, colour, value) in [
                (T::TrainingAccuracy, TRAINING_COLOUR, (|r: &EpochRecord| r.train_accuracy) as fn(&EpochRecord) -> f64),
                (T::ValidationAccuracyShort, VALIDATION_COLOUR, |r: &EpochRecord| r.validation_accuracy),
            ] {
                let points = epoch_points(value);
                plot.line(Line::new(name.get(lang), PlotPoints::from(points.clone())).color(colour));
                plot.points(Points::new(name.get(lang), PlotPoints::from(points)).radius(3.0).color(colour));
            }
        });
    });
}

fn epoch_table_ui(panel: &TrainPanel, ui: &mut egui::Ui, lang: Lang) {
    if panel.history.epochs.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(T::EpochTable.get(lang)).default_open(true).show(ui, |ui| {
        // A table with a header that stays while the rows scroll, drawing only the visible rows
        // (runs of hundreds of epochs), newest first.
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        let headers =
            [T::Epoch, T::TrainingLoss, T::TrainingAccuracy, T::ValidationLoss, T::ValidationAccuracyShort, T::LearningRate, T::Duration];
        TableBuilder::new(ui)
            .id_salt("epoch-table")
            .striped(true)
            .max_scroll_height(180.0)
            .columns(Column::auto().at_least(48.0), headers.len())
            .header(row_height, |mut row| {
                for header in headers {
                    row.col(|ui| {
                        ui.strong(header.get(lang));
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, panel.history.epochs.len(), |mut row| {
                    let record = &panel.history.epochs[panel.history.epochs.len() - 1 - row.index()];
                    for cell in [
                        record.epoch.to_string(),
                        format!("{:.4}", record.train_loss),
                        format!("{:.1}%", record.train_accuracy * 100.0),
                        format!("{:.4}", record.validation_loss),
                        format!("{:.1}%", record.validation_accuracy * 100.0),
                        format!("{:.1e}", record.learning_rate),
                        format!("{:.1} s", record.duration_secs),
                    ] {
                        row.col(|ui| {
                            ui.label(cell);
                        });
                    }
                });
            });
    });
}

/// The confusion matrix as a heat map: rows are true classes, columns predicted ones.
/// `names`: the classes' display names, in the report's order. Returns the cell clicked
/// (true, predicted).
/// Precision, recall, F1 and support per class; a click on a header sorts by that column (the
/// weakest classes first, or last on a second click).
fn per_class_ui(ui: &mut egui::Ui, report: &EvalReport, names: &[String], sort: &mut TableSort, lang: Lang) {
    let classes = &report.per_class;
    let key = |index: usize| {
        let class = &classes[index];
        match sort.column {
            1 => class.precision,
            2 => class.recall,
            3 => class.f1,
            4 => class.support as f64,
            _ => index as f64,
        }
    };
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    if sort.descending {
        order.reverse();
    }
    let row_height = ui.spacing().interact_size.y + 2.0;
    let headers = [T::Class, T::Precision, T::Recall, T::F1, T::Support];
    let mut clicked = None;
    TableBuilder::new(ui)
        .id_salt("per-class-table")
        .striped(true)
        .max_scroll_height(320.0)
        .column(Column::auto().at_least(110.0))
        .columns(Column::auto().at_least(56.0), headers.len() - 1)
        .header(row_height, |mut row| {
            for (column, header) in headers.into_iter().enumerate() {
                row.col(|ui| {
                    let title = format!("{}{}", header.get(lang), sort.arrow(column));
                    if ui.add(egui::Button::new(egui::RichText::new(title).strong()).frame(false)).clicked() {
                        clicked = Some(column);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, order.len(), |mut row| {
                let index = order[row.index()];
                let class = &classes[index];
                for cell in [
                    format!("{} {}", index + 1, names.get(index).unwrap_or(&class.name)),
                    format!("{:.2}", class.precision),
                    format!("{:.2}", class.recall),
                    format!("{:.2}", class.f1),
                    class.support.to_string(),
                ] {
                    row.col(|ui| {
                        ui.label(cell);
                    });
                }
            });
        });
    if let Some(column) = clicked {
        sort.click(column);
    }
}

impl Panel for TrainPanel {
    fn on_event(&mut self, ctx: &egui::Context, job: JobId, event: Event, cx: &mut AppContext) -> Option<Event> {
        let Event::Train(event) = event else { return Some(event) };
        self.training_job_event(ctx, job, event, cx);
        None
    }

    fn job_failed(&mut self, job: JobId, _error: &JobError) {
        if self.run.running == Some(job) {
            self.run.outcome = None;
        }
    }

    fn job_finished(&mut self, job: JobId) {
        self.confusion_photos.job_finished(job);
        if self.dataset.scanning == Some(job) {
            self.dataset.scanning = None;
        }
        if self.dataset.getting_flowers17 == Some(job) {
            self.dataset.getting_flowers17 = None;
        }
        if self.run.running == Some(job) {
            self.run.running = None;
        }
    }

    /// A run trains a network of its own: nothing here belongs to the model in use.
    fn model_changed(&mut self, _info: &ModelInfo) {}

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        // Wide enough that each field's hint reads on one line beside it; the charts take the rest.
        egui::Panel::left("train-setup").resizable(true).default_size(540.0).min_size(340.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                self.dataset_ui(ui, cx);
                ui.separator();
                self.controls_ui(ui, cx);
                ui.separator();
                self.form_ui(ui, cx.lang, cx.model_info());
            });
        });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                self.progress_ui(ui, cx.lang);
                charts_ui(self, ui, cx.lang);
                epoch_table_ui(self, ui, cx.lang);
                self.results_ui(ui, cx);
            });
        });
    }
}
