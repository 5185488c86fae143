//! The shell around the panels: routing job events to the panel that asked, applying panels'
//! actions, dialogs, drops, shortcuts, the top bar, the status bar and the message area.

use std::path::{Path, PathBuf};

use eframe::egui;

use super::context::{AppAction, app_context};
use super::dialogs::DialogKind;
use super::i18n::{self, Lang, T};
use super::state::{ModelStatus, Tab};
use super::window::AtlasApp;
use crate::descriptions::{DescriptionSet, find_for_classes};
use crate::resources;
use crate::worker::{AtlasEvent, AtlasJob, Envelope, Event, Job, JobError, JobId, JobKind, ModelEvent, ModelInfo, ModelJob};

/// Events handled per frame at most for this long, so a flood never stalls a frame.
const EVENT_BUDGET: std::time::Duration = std::time::Duration::from_millis(8);

impl AtlasApp {
    /// Imports a PyTorch state dict (its architecture recognised from its tensors) into the
    /// user's data folder and makes it the model in use.
    pub fn import_network(&mut self, file: PathBuf) {
        let file = std::path::absolute(&file).unwrap_or(file);
        if let ModelStatus::Ready(info) = &self.model {
            self.model_before_load = Some(info.clone());
        }
        self.model = ModelStatus::Loading(file.clone());
        let out_dir = crate::resources::user_data_dir().join("networks");
        let mut cx = app_context!(self);
        if cx.submit(Job::Model(ModelJob::Import { file, out_dir })).is_none() {
            self.model = self.model_before_load.take().map_or(ModelStatus::None, ModelStatus::Ready);
        }
    }

    pub fn load_model(&mut self, path: PathBuf) {
        let path = std::path::absolute(&path).unwrap_or(path);
        if let ModelStatus::Ready(info) = &self.model {
            self.model_before_load = Some(info.clone());
        }
        self.model = ModelStatus::Loading(path.clone());
        let mut cx = app_context!(self);
        if cx.submit(Job::Model(ModelJob::Load { path })).is_none() {
            self.model = self.model_before_load.take().map_or(ModelStatus::None, ModelStatus::Ready);
        }
    }

    /// Opens a picture in the classify panel (from the dialog, a drop, a link or a test).
    pub fn open_image(&mut self, path: PathBuf) {
        self.tab = Tab::Classify;
        self.messages.error = None;
        self.messages.notice = None;
        let mut cx = app_context!(self);
        self.panels.classify.open(path, &mut cx);
    }

    /// Makes `dir` the training data set (and the default for atlas builds).
    pub fn choose_data_folder(&mut self, dir: PathBuf) {
        let mut cx = app_context!(self);
        self.panels.train.choose_folder(dir, &mut cx);
    }

    /// Starts a training run on the chosen folder with the form's recipe (as 开始训练 does).
    pub fn start_training(&mut self) {
        let mut cx = app_context!(self);
        self.panels.train.start(None, &mut cx);
    }

    /// Builds an atlas with the form's settings on the current data folder (as 构建 does).
    pub fn build_atlas(&mut self) {
        let mut cx = app_context!(self);
        self.panels.atlas.builder.build(&mut cx);
    }

    /// Asks every running job to stop.
    pub fn cancel_all_jobs(&self) {
        for job in self.jobs.running() {
            self.jobs.cancel(job.id);
        }
    }

    /// The timeline of the training tab's run; while that run trains, it follows it.
    fn timeline_of_training_run(&mut self) {
        let Some(run_dir) = self.panels.train.run.run_dir.clone() else {
            self.messages.notice = Some(T::TimelineNoTrainingRun.get(self.lang()).to_string());
            return;
        };
        let follow = self.jobs.is_running(JobKind::Train);
        let mut cx = app_context!(self);
        self.panels.atlas.build_timeline(run_dir, follow, &mut cx);
    }

    /// Places pictures on the atlas in use (dropped, chosen, or from the command line).
    pub fn place_on_atlas(&mut self, paths: Vec<PathBuf>) {
        let mut cx = app_context!(self);
        self.panels.atlas.place(paths, &mut cx);
    }

    pub fn request_dialog(&mut self, ctx: &egui::Context, kind: DialogKind) {
        let start_dir = match kind {
            DialogKind::OpenImage | DialogKind::PlaceImage => self.settings.last_image_dir.clone(),
            DialogKind::OpenCheckpoint => self.settings.last_model.as_ref().and_then(|p| p.parent().map(Path::to_path_buf)),
            DialogKind::PickDataFolder => self.settings.last_data_dir.clone(),
            DialogKind::PickAtlasFolder => self.panels.atlas.builder.folder.clone().or_else(|| self.settings.last_data_dir.clone()),
            DialogKind::ResumeCheckpoint | DialogKind::PickRunFolder => {
                self.panels.train.run.run_dir.clone().or_else(|| Some(self.folders.run_root.clone()))
            }
            DialogKind::OpenTimeline => Some(self.folders.run_root.with_file_name("timelines")),
            _ => None,
        };
        self.dialogs.request(ctx, kind, start_dir);
    }

    /// Handles what the jobs have sent, within a small time budget per frame.
    pub(super) fn drain_job_events(&mut self, ctx: &egui::Context) {
        let started = std::time::Instant::now();
        while started.elapsed() < EVENT_BUDGET {
            let Some(envelope) = self.jobs.try_recv() else { break };
            // Icons of a build are drawn for at least one frame before what follows them (the
            // finished atlas) can replace them.
            let icons = matches!(envelope.event, Event::Atlas(AtlasEvent::Build(crate::worker::AtlasBuildProgress::Icons { .. })));
            self.route_event(ctx, envelope);
            if icons {
                ctx.request_repaint();
                break;
            }
        }
    }

    fn route_event(&mut self, ctx: &egui::Context, Envelope { job, event }: Envelope) {
        // What the shell itself does with an event, before the panels see it.
        match &event {
            Event::Model(ModelEvent::Loaded(info)) => {
                self.model_loaded(info.clone());
                return;
            }
            Event::Model(ModelEvent::ClassSamples { .. }) => {
                let Event::Model(ModelEvent::ClassSamples { samples, .. }) = event else { return };
                if let Some(editor) = self.panels.classify.editor.as_mut().filter(|editor| editor.samples_job == Some(job)) {
                    editor.samples_read(ctx, samples);
                }
                return;
            }
            // Explanations describe one picture.
            Event::Classify(crate::worker::ClassifyEvent::Opened { .. }) => self.panels.explain.clear(),
            Event::Atlas(AtlasEvent::Loaded { .. }) if !self.start.placements.is_empty() => {
                let paths = std::mem::take(&mut self.start.placements);
                self.actions.push(AppAction::PlaceOnAtlas(paths));
            }
            // The job system keeps each job's progress; panels read it from there.
            Event::Progress { .. } => return,
            Event::Failed(error) => {
                let error = error.clone();
                self.job_failed(job, &error);
                return;
            }
            Event::Finished => {
                for panel in self.panels.all_mut() {
                    panel.job_finished(job);
                }
                return;
            }
            _ => {}
        }
        // Each panel takes its own slice's events.
        let mut cx = app_context!(self);
        let mut event = Some(event);
        for panel in self.panels.all_mut() {
            let Some(unclaimed) = event.take() else { break };
            event = panel.on_event(ctx, job, unclaimed, &mut cx);
        }
    }

    fn job_failed(&mut self, job: JobId, error: &JobError) {
        let kind = self.jobs.kind_of(job);
        for panel in self.panels.all_mut() {
            panel.job_failed(job, error);
        }
        if kind == Some(JobKind::LoadModel) || matches!(error, JobError::Panicked { .. }) && matches!(self.model, ModelStatus::Loading(_)) {
            // The worker still has the previous model, if there was one: keep using it.
            self.model = self.model_before_load.take().map_or(ModelStatus::None, ModelStatus::Ready);
        }
        if *error != JobError::Cancelled {
            self.messages.error = Some(i18n::job_error(self.lang(), error));
        }
    }

    fn model_loaded(&mut self, info: ModelInfo) {
        self.model_before_load = None;
        self.settings.last_model = Some(info.path.clone());
        self.run_checkpoints = list_run_checkpoints(&info.path);
        self.pick_descriptions(&info.class_names);
        for panel in self.panels.all_mut() {
            panel.model_changed(&info);
        }
        // The atlas panel keeps its atlas only when it is of this model.
        let atlas_kept = self.panels.atlas.atlas().is_some();
        self.model = ModelStatus::Ready(info);
        if !atlas_kept {
            self.offer_atlas();
        }
    }

    /// When no atlas is shown for the model: the one asked for at start, else the last one,
    /// else the shipped one, loaded quietly (skipped if it belongs to another model).
    fn offer_atlas(&mut self) {
        let job = match self.start.atlas.take() {
            Some(path) => AtlasJob::Load { path, quiet: false },
            None => {
                // The last atlas used when it is of this model, else the shipped one (the shipped
                // model's own atlas, also after the user built others).
                let last = self.settings.last_atlas.clone().filter(|p| p.exists());
                let mut paths: Vec<PathBuf> = last.into_iter().collect();
                for shipped in resources::SHIPPED_ATLASES.iter().filter_map(|atlas| resources::find_resource(Path::new(atlas))) {
                    if !paths.contains(&shipped) {
                        paths.push(shipped);
                    }
                }
                AtlasJob::LoadFirstFitting { paths }
            }
        };
        let mut cx = app_context!(self);
        cx.submit(Job::Atlas(job));
    }

    /// Chooses the description file matching the model: the user's own if it fits, else the
    /// shipped one describing the most classes.
    fn pick_descriptions(&mut self, class_names: &[String]) {
        if let Some(path) = self.settings.description_file.clone() {
            match DescriptionSet::load(&path) {
                Ok(set) if set.coverage(class_names) > 0 => {
                    self.descriptions = Some(set);
                    return;
                }
                Ok(_) => {}
                Err(error) => self.messages.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string())),
            }
        }
        // The user's own files (written by the description editor) before the shipped ones.
        let dirs: Vec<PathBuf> = std::iter::once(self.folders.user_descriptions.clone()).chain(resources::descriptions_dir()).collect();
        let (found, errors) = find_for_classes(&dirs, class_names);
        self.descriptions = found;
        if let Some(error) = errors.first() {
            self.messages.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string()));
        }
    }

    /// Applies what panels asked for during this frame.
    pub(super) fn apply_actions(&mut self, ctx: &egui::Context) {
        for action in std::mem::take(&mut self.actions) {
            match action {
                AppAction::OpenPhoto(path) => self.open_image(path),
                AppAction::LoadModel(path) => self.load_model(path),
                AppAction::UseCheckpoint(path) => {
                    self.messages.offer = None;
                    self.load_model(path);
                    self.tab = Tab::Classify;
                }
                AppAction::OfferCheckpoint(path) => {
                    let in_use = match &self.model {
                        ModelStatus::Ready(info) => info.path == path,
                        ModelStatus::Loading(loading) => *loading == path,
                        ModelStatus::None => false,
                    };
                    self.messages.offer = (!in_use).then_some(path);
                }
                AppAction::ShowTab(tab) => self.tab = tab,
                AppAction::OpenDialog(kind) => self.request_dialog(ctx, kind),
                AppAction::PlaceOnAtlas(paths) => self.place_on_atlas(paths),
                AppAction::TimelineOfTrainingRun => self.timeline_of_training_run(),
                AppAction::ExplainPhoto(path) => {
                    self.open_image(path.clone());
                    // 分类 answers for the photo too, as if 验证 had been pressed.
                    let mut cx = app_context!(self);
                    self.panels.classify.verify(&mut cx);
                    self.panels.explain.explain_photo(&path);
                    self.tab = Tab::Explain;
                }
                AppAction::SaveDescriptions { file, path } => self.save_descriptions(file, path),
            }
        }
    }

    /// Writes the description editor's file atomically and makes it the one in use; on failure
    /// the editor stays open with the user's text.
    fn save_descriptions(&mut self, file: crate::descriptions::DescriptionFile, path: PathBuf) {
        let set = DescriptionSet { file, path: path.clone() };
        match set.save(&path) {
            Ok(()) => {
                self.descriptions = Some(set);
                self.settings.description_file = Some(path);
                self.panels.classify.editor = None;
            }
            Err(error) => self.messages.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string())),
        }
    }

    pub(super) fn handle_dialog_answers(&mut self, ctx: &egui::Context) {
        let Some((kind, paths)) = self.dialogs.poll(ctx) else { return };
        let mut paths = paths.into_iter();
        // Cancelled: nothing to do.
        let Some(path) = paths.next() else { return };
        match kind {
            // The one kind that takes several.
            DialogKind::PlaceImage => self.place_on_atlas(std::iter::once(path).chain(paths).collect()),
            DialogKind::OpenImage => self.open_image(path),
            DialogKind::OpenCheckpoint => self.load_model(path),
            DialogKind::ImportNetwork => self.import_network(path),
            DialogKind::OpenDescriptions => match DescriptionSet::load(&path) {
                Ok(set) => {
                    self.settings.description_file = Some(path);
                    self.descriptions = Some(set);
                }
                Err(error) => self.messages.error = Some(i18n::descriptions_failed(self.lang(), &error.to_string())),
            },
            DialogKind::PickDataFolder => self.choose_data_folder(path),
            DialogKind::PickAtlasFolder => {
                let mut cx = app_context!(self);
                self.panels.atlas.builder.choose_folder(path, true, &mut cx);
            }
            DialogKind::ResumeCheckpoint => {
                let mut cx = app_context!(self);
                self.panels.train.start(Some(path), &mut cx);
            }
            DialogKind::ExportPng => {
                let mut cx = app_context!(self);
                self.panels.explain.export(&path, &mut cx);
            }
            DialogKind::OpenAtlas
            | DialogKind::ExportAtlasView
            | DialogKind::ExportAtlasWhole
            | DialogKind::OpenTimeline
            | DialogKind::PickRunFolder
            | DialogKind::ExportTimeline
            | DialogKind::ExportSelection
            | DialogKind::PickCopyFolder => {
                let mut cx = app_context!(self);
                self.panels.atlas.dialog_answered(kind, path, &mut cx);
            }
            DialogKind::PickMistakesFolder => self.panels.mistakes.folder_chosen(path),
            DialogKind::OpenFlowersArchive => {
                let mut cx = app_context!(self);
                self.panels.train.get_flowers17(Some(path), &mut cx);
            }
        }
    }

    /// A picture dropped anywhere on the window opens in the classifier (on the atlas it is
    /// placed on the map); a folder becomes the training data set.
    pub(super) fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|input| input.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        let Some(first) = dropped.first().cloned() else { return };
        if self.tab == Tab::Atlas && self.panels.atlas.atlas.is_some() && !first.is_dir() {
            let paths = dropped.into_iter().filter(|p| !p.is_dir()).collect();
            self.actions.push(AppAction::PlaceOnAtlas(paths));
        } else if first.is_dir() {
            if self.panels.train.run.running.is_none() {
                self.tab = Tab::Train;
                self.choose_data_folder(first);
            }
        } else {
            // One picture is shown at a time: the first dropped file.
            self.open_image(first);
        }
    }

    pub(super) fn handle_shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (open, verify) =
            ctx.input(|input| (input.modifiers.command && input.key_pressed(egui::Key::O), input.key_pressed(egui::Key::Enter)));
        if open {
            self.request_dialog(ctx, DialogKind::OpenImage);
        }
        if verify && self.tab == Tab::Classify {
            let mut cx = app_context!(self);
            self.panels.classify.verify(&mut cx);
        }
    }

    pub(super) fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let lang = self.lang();
            ui.heading(T::AppTitle.get(lang));
            ui.separator();
            for (tab, label) in [
                (Tab::Classify, T::TabClassify),
                (Tab::Train, T::TabTrain),
                (Tab::Explain, T::TabExplain),
                (Tab::Atlas, T::TabAtlas),
                (Tab::Mistakes, T::TabMistakes),
            ] {
                ui.selectable_value(&mut self.tab, tab, egui::RichText::new(label.get(lang)).size(16.0));
            }
            ui.separator();
            self.model_menu_ui(ui);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(T::LanguageSwitch.get(lang)).clicked() {
                    self.settings.lang = match lang {
                        Lang::Zh => Lang::En,
                        Lang::En => Lang::Zh,
                    };
                }
            });
        });
    }

    /// 计算精度: the arithmetic of convolutions and matrix products for everything computed from
    /// now on (a running training takes it from its next step).
    fn precision_menu_ui(&mut self, ui: &mut egui::Ui) {
        use crate::engine::precision::{Bf16Support, Precision, cpu_bf16_support, set_precision};
        let lang = self.lang();
        let support = cpu_bf16_support();
        ui.menu_button(T::PrecisionMenu.get(lang), |ui| {
            for (precision, caption) in
                [(Precision::Auto, T::PrecisionAuto), (Precision::Bf16, T::PrecisionBf16), (Precision::Fp32, T::PrecisionFp32)]
            {
                let usable = precision == Precision::Fp32 || support != Bf16Support::None;
                let button = egui::Button::selectable(self.settings.precision == precision, caption.get(lang));
                if ui
                    .add_enabled(usable || precision == Precision::Auto, button)
                    .on_disabled_hover_text(T::PrecisionNoBf16.get(lang))
                    .clicked()
                {
                    self.settings.precision = precision;
                    set_precision(precision);
                    ui.close();
                }
            }
            ui.small(i18n::precision_in_use(lang, support));
        });
    }

    fn model_menu_ui(&mut self, ui: &mut egui::Ui) {
        let lang = self.lang();
        ui.menu_button(T::ModelMenu.get(lang), |ui| {
            if ui.button(T::LoadCheckpoint.get(lang)).clicked() {
                self.actions.push(AppAction::OpenDialog(DialogKind::OpenCheckpoint));
                ui.close();
            }
            if ui.button(T::ImportNetwork.get(lang)).on_hover_text(T::ImportNetworkHint.get(lang)).clicked() {
                self.actions.push(AppAction::OpenDialog(DialogKind::ImportNetwork));
                ui.close();
            }
            if ui.button(T::LoadDescriptions.get(lang)).clicked() {
                self.actions.push(AppAction::OpenDialog(DialogKind::OpenDescriptions));
                ui.close();
            }
            // A way back to the models and atlases that came with the app, each named with its
            // cross-validated accuracy as its sidecar records it.
            let shipped = [
                (resources::shipped_model(), T::UseShippedModel, T::UseShippedModelHint),
                (resources::shipped_transfer_model(), T::UseShippedTransferModel, T::UseShippedTransferModelHint),
            ];
            for (path, caption, hint) in shipped {
                let Some(path) = path else { continue };
                let path = std::path::absolute(&path).unwrap_or(path);
                let in_use = matches!(&self.model, ModelStatus::Ready(info) if info.path == path);
                let estimate = crate::engine::checkpoint::read_sidecar_meta(&path)
                    .and_then(|meta| meta.cross_validation)
                    .map(|cv| i18n::cross_validated_short(lang, &cv))
                    .unwrap_or_default();
                let button = egui::Button::new(format!("{}{estimate}", caption.get(lang)));
                if ui.add_enabled(!in_use, button).on_hover_text(hint.get(lang)).clicked() {
                    self.actions.push(AppAction::LoadModel(path));
                    ui.close();
                }
            }
            ui.separator();
            self.precision_menu_ui(ui);
            ui.separator();
            if ui.button(T::OpenLogFolder.get(lang)).clicked() {
                self.open_log_folder();
                ui.close();
            }
            if self.run_checkpoints.len() > 1 {
                ui.separator();
                ui.label(T::RunCheckpoints.get(lang));
                let current = match &self.model {
                    ModelStatus::Ready(info) => Some(info.path.clone()),
                    _ => None,
                };
                for path in &self.run_checkpoints {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    if ui.selectable_label(current.as_ref() == Some(path), name).clicked() {
                        self.actions.push(AppAction::LoadModel(path.clone()));
                        ui.close();
                    }
                }
            }
        });
    }

    /// The model in use on the left; every running job with its own progress and Cancel on
    /// the right.
    pub(super) fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        let lang = self.lang();
        // The jobs first, from the right; the model's line takes what is left and is cut short
        // there (whole on hover), so the two never draw over each other.
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            self.jobs_status_ui(ui, lang);
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| self.model_status_ui(ui, lang));
        });
    }

    /// Every running job with its own progress and Cancel, right to left.
    fn jobs_status_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        if self.jobs.running().is_empty() {
            ui.label(T::Idle.get(lang));
            return;
        }
        let mut cancel = None;
        // Right to left: long jobs first, oldest first, so a job's Cancel does not move
        // when short jobs come and go beside it.
        let mut jobs: Vec<&crate::worker::RunningJob> = self.jobs.running().iter().collect();
        jobs.sort_by_key(|job| (job.lane == crate::worker::Lane::Interactive, job.id));
        for job in jobs {
            ui.push_id(job.id, |ui| {
                if ui.small_button(i18n::cancel_job(lang, job.kind)).clicked() {
                    cancel = Some(job.id);
                }
                if let Some(before) = self.jobs.waiting_behind(job.id) {
                    ui.weak(i18n::waiting_for(lang, before));
                } else if let Some((done, total)) = job.progress.filter(|(_, total)| *total > 0) {
                    let bar =
                        ui.add(egui::ProgressBar::new(done as f32 / total as f32).desired_width(90.0).text(format!("{done}/{total}")));
                    if let Some(left) = job.time_left() {
                        bar.on_hover_text(i18n::time_left(lang, left));
                    }
                } else {
                    ui.spinner();
                }
                ui.label(i18n::job_kind(lang, job.kind));
            });
            ui.separator();
        }
        if let Some(id) = cancel {
            self.jobs.cancel(id);
        }
    }

    fn model_status_ui(&self, ui: &mut egui::Ui, lang: Lang) {
        match &self.model {
            ModelStatus::None => {
                ui.label(T::NoModel.get(lang));
            }
            ModelStatus::Loading(path) => {
                ui.spinner();
                ui.label(format!("{} {}", T::LoadingModel.get(lang), path.display()));
            }
            ModelStatus::Ready(info) => {
                let accuracy = info
                    .validation_accuracy
                    .map(|a| format!(" · {} {:.1}%", T::ValidationAccuracy.get(lang), a * 100.0))
                    .unwrap_or_default();
                let estimate = info
                    .cross_validation
                    .as_ref()
                    .map(|cv| format!(" · {}", i18n::cross_validation_estimate(lang, cv)))
                    .unwrap_or_default();
                // Another architecture than the paper's is named beside the file.
                let architecture = if info.is_paper_network() { String::new() } else { format!(" ({})", info.architecture.display_name()) };
                // Weights imported as published have no epochs of ours to count.
                let epoch = if info.is_paper_network() || info.epoch > 0 {
                    format!("{} {}", T::Epoch.get(lang), info.epoch)
                } else {
                    T::ImportedWeights.get(lang).to_string()
                };
                let text = format!(
                    "{}: {}{architecture} · {} {}{accuracy}{estimate} · {epoch} · {} {}",
                    T::ModelMenu.get(lang),
                    info.name,
                    info.class_names.len(),
                    T::Classes.get(lang),
                    T::Device.get(lang),
                    i18n::device_with_precision(&info.device)
                );
                let definition = info
                    .cross_validation
                    .as_ref()
                    .map(|cv| format!("\n\n{}", i18n::cross_validation_definition(lang, cv)))
                    .unwrap_or_default();
                ui.add(egui::Label::new(text.clone()).truncate()).on_hover_text(format!("{text}\n{}{definition}", info.path.display()));
            }
        }
    }

    /// Opens the log folder in the file manager (detached, so the window never waits); the
    /// notice names the folder either way, for desktops without one.
    fn open_log_folder(&mut self) {
        let dir = crate::logging::log_dir();
        let _ = std::fs::create_dir_all(&dir);
        let opened = open::that_detached(&dir).is_ok();
        let lang = self.lang();
        self.messages.notice = Some(format!("{}{}", T::LogFolderIs.get(lang), dir.display()));
        if !opened {
            tracing::warn!("no file manager to open {}", dir.display());
        }
    }

    pub(super) fn messages_ui(&mut self, ui: &mut egui::Ui) {
        let lang = self.lang();
        let warn = ui.visuals().warn_fg_color;
        for (message, colour) in [(&mut self.messages.error, ui.visuals().error_fg_color), (&mut self.messages.notice, warn)] {
            if let Some(text) = message.clone() {
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(colour, text);
                    if ui.small_button(T::Dismiss.get(lang)).clicked() {
                        *message = None;
                    }
                });
            }
        }
        if let Some(path) = self.messages.offer.clone() {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(warn, T::OfferBestCheckpoint.get(lang)).on_hover_text(path.display().to_string());
                if ui.button(T::UseBestCheckpoint.get(lang)).clicked() {
                    self.actions.push(AppAction::UseCheckpoint(path));
                }
                if ui.small_button(T::Dismiss.get(lang)).clicked() {
                    self.messages.offer = None;
                }
            });
        }
    }

    pub(super) fn drop_overlay_ui(&self, ctx: &egui::Context) {
        if ctx.input(|input| input.raw.hovered_files.is_empty()) {
            return;
        }
        let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop-overlay")));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            T::DropToOpen.get(self.lang()),
            egui::FontId::proportional(28.0),
            egui::Color32::WHITE,
        );
    }
}

/// The `.safetensors` files in the same folder as `model` (a run's checkpoints), sorted.
fn list_run_checkpoints(model: &Path) -> Vec<PathBuf> {
    let Some(dir) = model.parent() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "safetensors"))
        .collect();
    paths.sort();
    paths
}
