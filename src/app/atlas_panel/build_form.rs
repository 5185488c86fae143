//! 地图集's build form: which photos, which layer, what the map shows, and the build it starts
//! (its progress streams back here). A control for the form is added in `form_ui`.

use std::path::PathBuf;

use eframe::egui;

use super::texture;
use crate::app::context::{AppAction, AppContext};
use crate::app::dialogs::DialogKind;
use crate::app::i18n::T;
use crate::engine::atlas::Stage;
use crate::engine::atlas::build::{AtlasFocus, AtlasParams, FOCUS_VECTORS};
use crate::engine::model::Layer;
use crate::worker::{AtlasBuild, AtlasBuildProgress, AtlasJob, Job, JobId};

/// An atlas being built: stage progress, the latest layout, icons received so far.
pub struct Building {
    pub job: JobId,
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
    /// When the current stage began, for its time left.
    pub stage_started: std::time::Instant,
    pub layout: Vec<f32>,
    pub icons: Vec<(u16, [u16; 2], egui::TextureHandle)>,
}

/// What a new atlas maps, as the form offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FocusKind {
    All,
    Class,
    Compare,
}

pub struct BuildForm {
    pub focus: FocusKind,
    /// The class of a class atlas; the first of a comparison.
    pub focus_class: usize,
    pub focus_second: usize,
    pub layer: Layer,
    pub samples: usize,
    pub neighbours: usize,
    pub min_dist: f32,
    pub icon_steps: usize,
    /// Grid sizes, as typed: "10 20 40 80".
    pub grid_levels: String,
    /// The grid sizes whose cells get icons, as typed.
    pub icon_levels: String,
}

impl Default for BuildForm {
    fn default() -> Self {
        let defaults = AtlasParams::default();
        let join = |levels: &[usize]| levels.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
        BuildForm {
            focus: FocusKind::All,
            focus_class: 0,
            focus_second: 1,
            layer: defaults.layer,
            samples: defaults.samples_per_image,
            neighbours: defaults.umap.n_neighbors,
            min_dist: defaults.umap.min_dist,
            icon_steps: defaults.icons.steps,
            grid_levels: join(&defaults.grid_levels),
            icon_levels: join(&defaults.icon_levels),
        }
    }
}

/// Grid sizes typed by the user ("10 20 40" or "10, 20, 40"), sorted; None if any is not a
/// number from 2 to 256 or none is given.
pub fn parse_levels(text: &str) -> Option<Vec<usize>> {
    let mut levels = text
        .split(|c: char| c == ',' || c == '，' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse::<usize>().ok().filter(|n| (2..=256).contains(n)))
        .collect::<Option<Vec<usize>>>()?;
    levels.sort_unstable();
    levels.dedup();
    (!levels.is_empty()).then_some(levels)
}

/// The classes and number of images in a folder, counted without decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderCount {
    pub dir: PathBuf,
    pub classes: Vec<String>,
    pub images: usize,
}

/// Width of the form's lists (a long choice is cut short rather than widening the side panel).
const COMBO_WIDTH: f32 = 170.0;

/// The build part of the panel: the form, the folder it reads and what a look into it found, and
/// the build while it runs.
#[derive(Default)]
pub struct AtlasBuilder {
    pub form: BuildForm,
    /// The image folder the next build reads: chosen here, else the model's training folder.
    pub folder: Option<PathBuf>,
    /// Whether the user chose `folder` (kept when the model changes).
    folder_chosen: bool,
    /// What a look into `folder` found, before a build starts.
    pub folder_count: Option<FolderCount>,
    counting: Option<JobId>,
    pub building: Option<Building>,
}

impl AtlasBuilder {
    pub(super) fn progress(&mut self, ctx: &egui::Context, progress: AtlasBuildProgress) {
        let Some(building) = self.building.as_mut() else { return };
        match progress {
            AtlasBuildProgress::Stage { stage, done, total } => {
                if building.stage != stage {
                    building.stage_started = std::time::Instant::now();
                }
                building.stage = stage;
                building.done = done;
                building.total = total;
            }
            AtlasBuildProgress::Layout { layout, .. } => building.layout = layout,
            AtlasBuildProgress::Icons { level, positions, icons } => {
                for (position, picture) in positions.into_iter().zip(&icons) {
                    let handle =
                        texture(ctx, &format!("building-{level}-{}-{}", position[0], position[1]), picture, egui::TextureOptions::LINEAR);
                    building.icons.push((level, position, handle));
                }
            }
        }
    }

    /// Makes `dir` the folder the next build reads and counts its images. `chosen`: the user
    /// picked it (else it is the model's training folder, replaced when the model changes).
    pub fn choose_folder(&mut self, dir: PathBuf, chosen: bool, cx: &mut AppContext) {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        self.folder_chosen = chosen;
        self.folder = Some(dir.clone());
        self.folder_count = None;
        self.counting = cx.submit(Job::Atlas(AtlasJob::CountImages { dir }));
    }

    /// Where a build reads from when the user has not chosen: the folder the model in use was
    /// trained on while it exists, else the training tab's data set.
    pub(super) fn default_folder(cx: &AppContext) -> Option<PathBuf> {
        let trained_on = cx.model_info().and_then(|info| info.data_dir.clone()).filter(|dir| dir.is_dir());
        trained_on.or_else(|| cx.settings.last_data_dir.clone().filter(|dir| dir.is_dir()))
    }

    /// Fills in the default build folder the first time the form is shown for a model.
    pub(super) fn ensure_folder(&mut self, cx: &mut AppContext) {
        if self.folder.is_none()
            && let Some(dir) = Self::default_folder(cx)
        {
            self.choose_folder(dir, false, cx);
        }
    }

    /// Builds an atlas of the model in use on its own thread, from the form's settings.
    pub fn build(&mut self, cx: &mut AppContext) {
        let Some(data_dir) = self.folder.clone() else {
            cx.messages.notice = Some(cx.t(T::AtlasFolderMissing).to_string());
            return;
        };
        let Some(weights) = cx.model_info().map(|info| info.path.clone()) else { return };
        if self.form.focus == FocusKind::Compare && self.form.focus_class == self.form.focus_second {
            cx.messages.error = Some(cx.t(T::CompareSameClass).to_string());
            return;
        }
        let Some(params) = self.form.params() else {
            cx.messages.error = Some(cx.t(T::BadGridLevels).to_string());
            return;
        };
        let name = data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
        let stamp = crate::engine::fsutil::utc_timestamp_now().replace([':', '-'], "");
        // Beside the training runs: ~/.local/share/activation-atlas/atlases by default.
        let folder = cx.run_root.with_file_name("atlases");
        let base = format!("{name}-{}-{stamp}", self.form.layer);
        // Two builds within one second would otherwise share a name, the second replacing the first.
        let out = std::iter::once(folder.join(format!("{base}.atlas")))
            .chain((2..).map(|n| folder.join(format!("{base}-{n}.atlas"))))
            .find(|path| !path.exists())
            .unwrap_or_else(|| folder.join(format!("{base}.atlas")));
        if let Some(job) = cx.submit(Job::Atlas(AtlasJob::Build(AtlasBuild { weights, data_dir, params, out }))) {
            self.building = Some(Building {
                job,
                stage: Stage::Collect,
                done: 0,
                total: 1,
                stage_started: std::time::Instant::now(),
                layout: Vec::new(),
                icons: Vec::new(),
            });
        }
    }

    /// The classes a class atlas can focus on: the folder's, which are the model's own unless it
    /// was trained on other classes (an imported ImageNet network).
    fn focus_class_names(&self, cx: &AppContext) -> Vec<String> {
        match (&self.folder_count, cx.model_info()) {
            (Some(count), Some(info)) if count.classes != info.class_names && !info.is_paper_network() => cx.labels_of(&count.classes),
            _ => cx.class_labels(),
        }
    }

    /// The folder the build reads, with what a look into it found, before anything starts.
    fn folder_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) -> Option<PathBuf> {
        let lang = cx.lang;
        let data = self.folder.clone();
        ui.horizontal_wrapped(|ui| {
            ui.label(T::AtlasDataFolder.get(lang));
            if ui.add_enabled(self.building.is_none(), egui::Button::new(T::ChooseAtlasDataFolder.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::PickAtlasFolder));
            }
        });
        match (&data, &self.folder_count) {
            (None, _) => {
                ui.colored_label(ui.visuals().warn_fg_color, T::AtlasFolderMissing.get(lang));
            }
            (Some(dir), Some(count)) if count.dir == *dir => {
                ui.label(crate::app::i18n::atlas_build_source(lang, dir, count.classes.len(), count.images));
                let model_classes = cx.model_info().map(|info| info.class_names.clone()).unwrap_or_default();
                let unknown: Vec<&String> = count.classes.iter().filter(|c| !model_classes.contains(c)).collect();
                let paper = cx.model_info().is_none_or(|info| info.is_paper_network());
                if !unknown.is_empty() && !paper {
                    // A network of other classes (ImageNet's) maps any folder: say how.
                    ui.small(T::AtlasOutputsMapped.get(lang));
                } else if !unknown.is_empty() {
                    let names = unknown.iter().take(5).map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
                    ui.colored_label(ui.visuals().warn_fg_color, format!("{} {names}", T::AtlasFolderOtherClasses.get(lang)));
                }
            }
            // Still counting; or the count failed, and the message area says why.
            (Some(dir), _) => {
                ui.horizontal(|ui| {
                    if self.counting.is_some() {
                        ui.spinner();
                    }
                    ui.small(dir.display().to_string());
                });
            }
        }
        data
    }

    /// The layers the model in use can map; on a change to another kind of network, the form
    /// takes that network's usual layer and icon levels.
    fn fit_to_network(&mut self, cx: &AppContext) -> Vec<Layer> {
        let (layers, usual) = cx.model_info().map_or((Layer::CONV.to_vec(), Layer::CONV2), |info| info.atlas_layers());
        if !layers.contains(&self.form.layer) {
            self.form.layer = usual;
            let paper = cx.model_info().is_none_or(|info| info.is_paper_network());
            self.form.icon_levels = AtlasParams::default_icon_levels(paper).iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
            self.form.icon_steps = AtlasParams::default_icon_steps(paper);
        }
        layers
    }

    /// The form: what to map, which layer, and the settings of the layout and the icons; a new
    /// control goes into the grid here.
    pub(super) fn form_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        self.ensure_folder(cx);
        let data = self.folder_ui(ui, cx);
        let names = self.focus_class_names(cx);
        let layers = self.fit_to_network(cx);
        let form = &mut self.form;
        egui::Grid::new("atlas-form").num_columns(2).show(ui, |ui| {
            let focus_name = |kind| match kind {
                FocusKind::All => T::FocusAll.get(lang),
                FocusKind::Class => T::FocusClass.get(lang),
                FocusKind::Compare => T::FocusCompare.get(lang),
            };
            let label = ui.label(T::AtlasFocusLabel.get(lang));
            // Fixed widths, cut short where a name is longer: a long choice must not widen the
            // side panel and shift the map.
            egui::ComboBox::from_id_salt("atlas-focus")
                .width(COMBO_WIDTH)
                .truncate()
                .selected_text(focus_name(form.focus))
                .show_ui(ui, |ui| {
                    for kind in [FocusKind::All, FocusKind::Class, FocusKind::Compare] {
                        ui.selectable_value(&mut form.focus, kind, focus_name(kind));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            if form.focus != FocusKind::All && !names.is_empty() {
                form.focus_class = form.focus_class.min(names.len() - 1);
                form.focus_second = form.focus_second.min(names.len() - 1);
                let class_row = |ui: &mut egui::Ui, id: &str, caption: T, value: &mut usize| {
                    let label = ui.label(caption.get(lang));
                    egui::ComboBox::from_id_salt(id)
                        .width(COMBO_WIDTH)
                        .truncate()
                        .selected_text(names[*value].clone())
                        .show_ui(ui, |ui| {
                            for (class, name) in names.iter().enumerate() {
                                ui.selectable_value(value, class, name);
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    ui.end_row();
                };
                class_row(ui, "atlas-focus-class", T::Class, &mut form.focus_class);
                if form.focus == FocusKind::Compare {
                    class_row(ui, "atlas-focus-second", T::SecondClass, &mut form.focus_second);
                }
            }
            let label = ui.label(T::Layer.get(lang));
            egui::ComboBox::from_id_salt("atlas-layer")
                .selected_text(form.layer.name())
                .show_ui(ui, |ui| {
                    for layer in &layers {
                        ui.selectable_value(&mut form.layer, *layer, layer.name());
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let mut row = |name: T, widget: &mut dyn FnMut(&mut egui::Ui) -> egui::Response, hint: Option<T>| {
                let label = ui.label(name.get(lang));
                let response = widget(ui).labelled_by(label.id);
                if let Some(hint) = hint {
                    response.on_hover_text(hint.get(lang));
                }
                ui.end_row();
            };
            row(T::SamplesPerImage, &mut |ui| ui.add(egui::DragValue::new(&mut form.samples).range(1..=64)), None);
            row(T::Neighbours, &mut |ui| ui.add(egui::DragValue::new(&mut form.neighbours).range(2..=100)), None);
            row(T::MinDist, &mut |ui| ui.add(egui::DragValue::new(&mut form.min_dist).range(0.0..=1.0).speed(0.01)), None);
            row(
                T::GridLevels,
                &mut |ui| ui.add(egui::TextEdit::singleline(&mut form.grid_levels).desired_width(110.0)),
                Some(T::GridLevelsHint),
            );
            row(
                T::IconLevels,
                &mut |ui| ui.add(egui::TextEdit::singleline(&mut form.icon_levels).desired_width(110.0)),
                Some(T::IconLevelsHint),
            );
            row(T::IconSteps, &mut |ui| ui.add(egui::DragValue::new(&mut form.icon_steps).range(8..=1024)), None);
        });
        ui.horizontal(|ui| {
            // One build at a time; classifying, explaining and the map keep working meanwhile.
            let ready = data.is_some() && cx.model_info().is_some() && self.building.is_none();
            let build = ui.add_enabled(ready, egui::Button::new(T::Build.get(lang)));
            if build.on_disabled_hover_text(T::BuildAlreadyRunning.get(lang)).clicked() {
                self.build(cx);
            }
            if ui.add_enabled(self.building.is_some(), egui::Button::new(T::Cancel.get(lang))).clicked()
                && let Some(building) = &self.building
            {
                cx.jobs.cancel(building.job);
            }
        });
    }

    pub(super) fn images_counted(&mut self, count: FolderCount) {
        if self.folder.as_ref() == Some(&count.dir) {
            self.folder_count = Some(count);
        }
    }

    pub(super) fn job_failed(&mut self, job: JobId) {
        if self.counting == Some(job) {
            self.folder_count = None;
        }
    }

    pub(super) fn job_finished(&mut self, job: JobId) {
        if self.counting == Some(job) {
            self.counting = None;
        }
        if self.building.as_ref().is_some_and(|b| b.job == job) {
            self.building = None;
        }
    }

    /// What stays when the panel is reset for another model's atlas: the form and a running build.
    pub(super) fn keep_form_and_build(&mut self) -> AtlasBuilder {
        AtlasBuilder { form: std::mem::take(&mut self.form), building: self.building.take(), ..AtlasBuilder::default() }
    }

    /// A new model: the default folder follows it; a folder the user chose stays.
    pub(super) fn model_changed(&mut self) {
        if !self.folder_chosen {
            self.folder = None;
            self.folder_count = None;
        }
    }
}

impl BuildForm {
    /// The build's parameters; None when the grid levels typed are not valid.
    fn params(&self) -> Option<AtlasParams> {
        let (grid_levels, icon_levels) = (parse_levels(&self.grid_levels)?, parse_levels(&self.icon_levels)?);
        if !icon_levels.iter().all(|l| grid_levels.contains(l)) {
            return None;
        }
        let focus = match self.focus {
            FocusKind::All => AtlasFocus::All,
            FocusKind::Class => AtlasFocus::Class { class: self.focus_class, vectors: FOCUS_VECTORS },
            FocusKind::Compare if self.focus_class == self.focus_second => return None,
            FocusKind::Compare => AtlasFocus::Compare { first: self.focus_class, second: self.focus_second, vectors: FOCUS_VECTORS },
        };
        let mut params =
            AtlasParams { layer: self.layer, samples_per_image: self.samples, grid_levels, icon_levels, focus, ..AtlasParams::default() };
        params.umap.n_neighbors = self.neighbours;
        params.umap.min_dist = self.min_dist;
        params.icons.steps = self.icon_steps;
        Some(params)
    }
}
