//! 地图集: the activation atlas as a map to fly over. The grid level follows the zoom; icons come
//! from one texture per level drawn as one mesh; hover and click inspect a cell; dropped photos
//! are placed on the map; atlases are built here too; the paper's mosaic and distribution views.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

pub mod distribution;
mod map;
mod selection;
mod side;
mod timeline;
mod views;

pub use distribution::DistributionState;
pub use selection::{SelectTool, SelectionState};
pub use timeline::{TimelineBuilding, TimelineLook, TimelineState};

use super::context::AppContext;
use super::dialogs::DialogKind;
use super::i18n::{self, T};
use crate::engine::atlas::build::{AtlasFocus, AtlasParams, FOCUS_VECTORS};
use crate::engine::atlas::export::ExportOptions;
use crate::engine::atlas::{Atlas, Placement, Stage};
use crate::engine::model::Layer;
use crate::worker::{AtlasBuild, AtlasBuildProgress, AtlasEvent, AtlasJob, Job, JobError, JobId, PatchPicture, Picture};

/// Real patches shown for a selected cell.
const PATCHES_SHOWN: usize = 24;

/// Side of the map in scene units.
pub const WORLD: f32 = 1000.0;
/// A grid level is used once its cells are at least this many screen pixels wide.
const MIN_CELL_PX: f32 = 44.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtlasView {
    Map,
    Mosaic,
    Distribution,
    Timeline,
}

/// What the map draws in each cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellPicture {
    /// The feature visualisation icon.
    Synthetic,
    /// The mean of the cell's real patches.
    Mean,
    /// The cell's most typical real patch.
    Typical,
}

/// The icons of one grid level packed into one texture.
struct LevelTexture {
    texture: egui::TextureHandle,
    columns: usize,
    /// Cell index -> slot in the texture.
    slots: HashMap<usize, usize>,
    icon_px: usize,
}

pub struct DroppedImage {
    pub path: PathBuf,
    pub placement: Placement,
    thumbnail: egui::TextureHandle,
    pub visible: bool,
}

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

pub struct AtlasPanel {
    pub atlas: Option<Arc<Atlas>>,
    pub path: Option<PathBuf>,
    textures: HashMap<u16, LevelTexture>,
    pub scene_rect: egui::Rect,
    pub view: AtlasView,
    /// The grid level drawn in the last frame.
    pub current_level: u16,
    pub class_colours: bool,
    /// Cells shaded by their mean attribution to this class (None: not shaded).
    pub tint_class: Option<usize>,
    pub cell_picture: CellPicture,
    /// Levels drawn from real pictures, per kind (made on the worker when first asked for).
    real_textures: HashMap<(u16, CellPicture), LevelTexture>,
    /// Levels whose real pictures have been asked for.
    real_requested: std::collections::HashSet<u16>,
    pub selected: Option<(u16, usize)>,
    /// The selected cell's patches: picture, class, recorded file, image index in the atlas.
    patches: Vec<(egui::TextureHandle, u16, PathBuf, u32)>,
    /// The selected cell in real pictures: the mean of its patches, its most typical patch.
    real_pictures: [Option<egui::TextureHandle>; 2],
    /// Image files behind the selected cell that could not be read (atlases without embedded
    /// images, moved or not shipped data).
    pub missing_patches: Vec<PathBuf>,
    pub dropped: Vec<DroppedImage>,
    pub building: Option<Building>,
    pub form: BuildForm,
    /// The image folder the next build reads: chosen here, else the model's training folder.
    pub build_folder: Option<PathBuf>,
    /// Whether the user chose `build_folder` (kept when the model changes).
    build_folder_chosen: bool,
    /// What a look into `build_folder` found, before a build starts.
    pub build_folder_count: Option<FolderCount>,
    counting: Option<JobId>,
    pub export_size: u32,
    pub export_labels: bool,
    pub export_grid_lines: bool,
    /// Rotation of the 3-D distribution views, degrees.
    pub yaw: f32,
    mosaic: Vec<(usize, egui::TextureHandle)>,
    /// The atlas timeline shown in its view (any run's, not tied to the model in use).
    pub timeline: TimelineState,
    /// 数据分布's class filter, search and hover.
    pub distribution: DistributionState,
    /// The photo open in 分类 that was placed on the map by itself (replaced when another opens).
    pub placed_open_photo: Option<PathBuf>,
    /// Photos selected with a box or lasso on the map or in 数据分布.
    pub selection: SelectionState,
}

/// A tooltip that follows the pointer. A plain hover text sits below its widget, which for a map
/// or plot filling the panel is far from the point under the pointer.
fn pointer_tooltip(ui: &egui::Ui, id: &str, text: String) {
    egui::Tooltip::always_open(ui.ctx().clone(), ui.layer_id(), egui::Id::unique(id), egui::PopupAnchor::Pointer).show(|ui| {
        // Each line as written: a tooltip is narrow and would break names mid-word.
        ui.add(egui::Label::new(text).extend());
    });
}

impl Default for AtlasPanel {
    fn default() -> Self {
        AtlasPanel {
            atlas: None,
            path: None,
            textures: HashMap::new(),
            scene_rect: egui::Rect::ZERO,
            view: AtlasView::Map,
            current_level: 0,
            class_colours: false,
            tint_class: None,
            cell_picture: CellPicture::Synthetic,
            real_textures: HashMap::new(),
            real_requested: std::collections::HashSet::new(),
            selected: None,
            patches: Vec::new(),
            real_pictures: [None, None],
            missing_patches: Vec::new(),
            dropped: Vec::new(),
            building: None,
            form: BuildForm::default(),
            build_folder: None,
            build_folder_chosen: false,
            build_folder_count: None,
            counting: None,
            export_size: 2048,
            export_labels: true,
            export_grid_lines: false,
            yaw: 30.0,
            mosaic: Vec::new(),
            timeline: TimelineState::default(),
            distribution: DistributionState::default(),
            placed_open_photo: None,
            selection: SelectionState::default(),
        }
    }
}

fn texture(ctx: &egui::Context, name: &str, picture: &Picture, options: egui::TextureOptions) -> egui::TextureHandle {
    ctx.load_texture(name, egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba), options)
}

/// A colour per class, evenly spaced hues (the same as the exported pictures).
pub fn class_colour(class: usize, classes: usize) -> egui::Color32 {
    let c = crate::engine::atlas::export::class_colour(class, classes);
    egui::Color32::from_rgb(c[0], c[1], c[2])
}

impl AtlasPanel {
    fn loaded(&mut self, ctx: &egui::Context, atlas: Arc<Atlas>, path: PathBuf) {
        self.textures.clear();
        self.real_textures.clear();
        self.real_requested.clear();
        for icons in &atlas.icons {
            let pictures: Vec<(usize, image::RgbImage)> =
                icons.cells.iter().enumerate().map(|(i, &cell)| (cell as usize, icons.icon(i))).collect();
            if let Some(texture) = pack_level(ctx, &format!("atlas-icons-{}", icons.size), &pictures) {
                self.textures.insert(icons.size, texture);
            }
        }
        self.mosaic = mosaic_textures(ctx, &atlas);
        // A class atlas is shaded by its class from the start.
        self.tint_class = atlas.meta.params.focus.class();
        self.atlas = Some(atlas);
        self.path = Some(path);
        self.scene_rect = egui::Rect::ZERO;
        self.selected = None;
        self.patches.clear();
        self.real_pictures = [None, None];
        self.missing_patches.clear();
        self.building = None;
        self.selection.clear();
    }

    fn build_progress(&mut self, ctx: &egui::Context, progress: AtlasBuildProgress) {
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

    fn placed(&mut self, ctx: &egui::Context, path: PathBuf, placement: Placement, thumbnail: Picture) {
        let handle = texture(ctx, &format!("dropped-{}", path.display()), &thumbnail, egui::TextureOptions::LINEAR);
        self.dropped.retain(|d| d.path != path);
        self.dropped.push(DroppedImage { path, placement, thumbnail: handle, visible: true });
    }

    fn patches_received(&mut self, ctx: &egui::Context, patches: Vec<PatchPicture>) {
        self.patches = patches
            .into_iter()
            .enumerate()
            .map(|(i, patch)| {
                let picture = texture(ctx, &format!("patch-{i}"), &patch.picture, egui::TextureOptions::NEAREST);
                (picture, patch.label, patch.path, patch.image_index)
            })
            .collect();
    }

    /// The texture the map draws grid `size` with: the chosen real pictures once they have
    /// arrived, the icons until then.
    fn level_texture(&self, size: u16) -> Option<&LevelTexture> {
        match self.cell_picture {
            CellPicture::Synthetic => None,
            kind => self.real_textures.get(&(size, kind)),
        }
        .or_else(|| self.textures.get(&size))
    }

    /// Whether grid `size` is drawn from the kind of real pictures chosen.
    pub fn shows_real_pictures(&self, size: u16) -> bool {
        self.cell_picture != CellPicture::Synthetic && self.real_textures.contains_key(&(size, self.cell_picture))
    }

    /// Asks the worker for grid `size`'s real pictures the first time they are needed.
    fn request_real_pictures(&mut self, size: u16, cx: &mut AppContext) {
        if self.cell_picture != CellPicture::Synthetic && self.real_requested.insert(size) {
            cx.submit(Job::Atlas(AtlasJob::RealLevelPictures { level: size }));
        }
    }

    /// Whether the selected cell's mean and most typical real patches have arrived.
    pub fn has_real_cell_pictures(&self) -> bool {
        self.real_pictures.iter().all(Option::is_some)
    }

    /// How many real image patches are shown for the selected cell.
    pub fn patch_count(&self) -> usize {
        self.patches.len()
    }

    /// Levels with icons, coarse to fine.
    fn icon_levels(&self) -> Vec<u16> {
        let mut levels: Vec<u16> = self.textures.keys().copied().collect();
        levels.sort_unstable();
        levels
    }

    /// The finest level with icons whose cells are at least [`MIN_CELL_PX`] wide on screen.
    pub fn level_for_zoom(&self, pixels_per_unit: f32) -> u16 {
        let levels = self.icon_levels();
        let fallback = self.atlas.as_ref().and_then(|a| a.levels.first().map(|l| l.size)).unwrap_or(10);
        let Some(&coarsest) = levels.first() else { return fallback };
        levels.iter().rev().copied().find(|&l| WORLD / f32::from(l) * pixels_per_unit >= MIN_CELL_PX).unwrap_or(coarsest)
    }
}

/// Square pictures of one level's cells (cell index, picture; all the same size) packed into one
/// texture, so the level draws as one mesh. None when there are none.
fn pack_level(ctx: &egui::Context, name: &str, pictures: &[(usize, image::RgbImage)]) -> Option<LevelTexture> {
    let px = pictures.first()?.1.width() as usize;
    let count = pictures.len();
    let columns = (count as f64).sqrt().ceil() as usize;
    let rows = count.div_ceil(columns);
    let mut image = egui::ColorImage::filled([columns * px, rows * px], egui::Color32::TRANSPARENT);
    for (slot, (_, picture)) in pictures.iter().enumerate() {
        let (col, row) = (slot % columns, slot / columns);
        for (x, y, p) in picture.enumerate_pixels().filter(|(x, y, _)| (*x as usize) < px && (*y as usize) < px) {
            image[(col * px + x as usize, row * px + y as usize)] = egui::Color32::from_rgb(p[0], p[1], p[2]);
        }
    }
    let texture = ctx.load_texture(name, image, egui::TextureOptions::LINEAR);
    let slots = pictures.iter().enumerate().map(|(slot, (cell, _))| (*cell, slot)).collect();
    Some(LevelTexture { texture, columns, slots, icon_px: px })
}

/// An attribution value with three significant digits, however small.
pub fn format_attribution(value: f32) -> String {
    if value != 0.0 && value.abs() < 0.01 { format!("{value:.2e}") } else { format!("{value:.3}") }
}

fn mosaic_textures(ctx: &egui::Context, atlas: &Atlas) -> Vec<(usize, egui::TextureHandle)> {
    let Some(mosaic) = &atlas.mosaic else { return Vec::new() };
    let side = mosaic.map_side;
    let per_row = 14;
    mosaic
        .order
        .iter()
        .map(|&class| {
            let members: Vec<usize> = (0..mosaic.labels.len()).filter(|&i| mosaic.labels[i] as usize == class).take(per_row).collect();
            let width = (members.len().max(1)) * (side + 1);
            let mut image = egui::ColorImage::filled([width, side], egui::Color32::from_gray(20));
            for (slot, &i) in members.iter().enumerate() {
                for y in 0..side {
                    for x in 0..side {
                        let v = mosaic.maps[i * side * side + y * side + x];
                        image[(slot * (side + 1) + x, y)] = egui::Color32::from_gray(v);
                    }
                }
            }
            (class, ctx.load_texture(format!("mosaic-{class}"), image, egui::TextureOptions::NEAREST))
        })
        .collect()
}

impl AtlasPanel {
    pub fn on_event(&mut self, ctx: &egui::Context, _job: JobId, event: AtlasEvent, cx: &mut AppContext) {
        match event {
            AtlasEvent::Loaded { atlas, path } => {
                cx.settings.last_atlas = Some(path.clone());
                self.loaded(ctx, atlas, path);
            }
            AtlasEvent::Build(progress) => self.build_progress(ctx, progress),
            AtlasEvent::Placed { path, placement, thumbnail } => self.placed(ctx, path, placement, thumbnail),
            AtlasEvent::Patches { patches, missing, mean, typical, .. } => {
                self.patches_received(ctx, patches);
                self.missing_patches = missing;
                self.real_pictures = [
                    mean.map(|p| texture(ctx, "cell-mean-patch", &p, egui::TextureOptions::LINEAR)),
                    typical.map(|p| texture(ctx, "cell-typical-patch", &p, egui::TextureOptions::NEAREST)),
                ];
            }
            AtlasEvent::RealLevelPictures { level, cells, mean, typical } => {
                for (kind, pictures) in [(CellPicture::Mean, mean), (CellPicture::Typical, typical)] {
                    let pictures: Vec<(usize, image::RgbImage)> =
                        cells.iter().zip(&pictures).filter_map(|(&cell, picture)| Some((cell as usize, picture.to_rgb()?))).collect();
                    if let Some(texture) = pack_level(ctx, &format!("atlas-real-{kind:?}-{level}"), &pictures) {
                        self.real_textures.insert((level, kind), texture);
                    }
                }
            }
            AtlasEvent::Exported { path } => cx.messages.notice = Some(format!("{} {}", cx.t(T::Saved), path.display())),
            AtlasEvent::SelectionSaved { path, count } => {
                cx.messages.notice = Some(i18n::selection_saved(cx.lang, count, &path));
            }
            AtlasEvent::SelectionCopied { dest, copied, failed } => {
                let text = i18n::selection_copied(cx.lang, copied, &dest, &failed);
                if failed.is_empty() {
                    cx.messages.notice = Some(text);
                } else {
                    cx.messages.error = Some(text);
                }
            }
            AtlasEvent::ImagesCounted { dir, classes, images } => {
                if self.build_folder.as_ref() == Some(&dir) {
                    self.build_folder_count = Some(FolderCount { dir, classes, images });
                }
            }
        }
    }

    pub fn job_failed(&mut self, job: JobId, _error: &JobError) {
        if self.counting == Some(job) {
            self.build_folder_count = None;
        }
    }

    /// Makes `dir` the folder the next build reads and counts its images. `chosen`: the user
    /// picked it (else it is the model's training folder, replaced when the model changes).
    pub fn choose_build_folder(&mut self, dir: PathBuf, chosen: bool, cx: &mut AppContext) {
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        self.build_folder_chosen = chosen;
        self.build_folder = Some(dir.clone());
        self.build_folder_count = None;
        self.counting = cx.submit(Job::Atlas(AtlasJob::CountImages { dir }));
    }

    /// Where a build reads from when the user has not chosen: the folder the model in use was
    /// trained on while it exists, else the training tab's data set.
    fn default_build_folder(cx: &AppContext) -> Option<PathBuf> {
        let trained_on = cx.model_info().and_then(|info| info.data_dir.clone()).filter(|dir| dir.is_dir());
        trained_on.or_else(|| cx.settings.last_data_dir.clone().filter(|dir| dir.is_dir()))
    }

    /// Fills in the default build folder the first time the form is shown for a model.
    pub(super) fn ensure_build_folder(&mut self, cx: &mut AppContext) {
        if self.build_folder.is_none()
            && let Some(dir) = Self::default_build_folder(cx)
        {
            self.choose_build_folder(dir, false, cx);
        }
    }

    pub fn job_finished(&mut self, job: JobId) {
        self.timeline_job_finished(job);
        if self.counting == Some(job) {
            self.counting = None;
        }
        if self.selection.copying == Some(job) {
            self.selection.copying = None;
        }
        if self.building.as_ref().is_some_and(|b| b.job == job) {
            self.building = None;
        }
    }

    /// A new model: an atlas of another model is put away (the worker drops it too). Returns
    /// whether the shown atlas belongs to the new model.
    pub fn model_changed(&mut self, model_fingerprint: &str) -> bool {
        // The default folder follows the model; a folder the user chose stays.
        if !self.build_folder_chosen {
            self.build_folder = None;
            self.build_folder_count = None;
        }
        match &self.atlas {
            Some(atlas) if atlas.meta.model_fingerprint == model_fingerprint => true,
            Some(_) => {
                let form = std::mem::take(&mut self.form);
                let building = self.building.take();
                // A timeline is of a run, not of the model in use: it stays.
                let timeline = std::mem::take(&mut self.timeline);
                *self = AtlasPanel { form, building, timeline, ..AtlasPanel::default() };
                false
            }
            None => false,
        }
    }

    /// The photo open in 分类 shows on the map too (its activations and a pin), without being
    /// dropped there: placed when the map is looked at, replaced when another photo opens.
    pub(super) fn follow_open_photo(&mut self, cx: &mut AppContext) {
        if self.atlas.is_none() || cx.photo == self.placed_open_photo {
            return;
        }
        if let Some(previous) = self.placed_open_photo.take() {
            self.dropped.retain(|d| d.path != previous);
        }
        if let Some(photo) = cx.photo.clone() {
            // Already on the map (dropped by the user): leave it as it is.
            if !self.dropped.iter().any(|d| d.path == photo) {
                cx.submit(Job::Atlas(AtlasJob::Place { paths: vec![photo.clone()] }));
                self.placed_open_photo = Some(photo);
            }
        }
    }

    /// Places dropped or chosen pictures on the atlas.
    pub fn place(&mut self, paths: Vec<PathBuf>, cx: &mut AppContext) {
        if self.atlas.is_none() {
            cx.messages.notice = Some(cx.t(T::NoAtlas).to_string());
            return;
        }
        cx.submit(Job::Atlas(AtlasJob::Place { paths }));
    }

    pub fn dialog_answered(&mut self, kind: DialogKind, path: PathBuf, cx: &mut AppContext) {
        match kind {
            DialogKind::OpenAtlas => {
                cx.submit(Job::Atlas(AtlasJob::Load { path, quiet: false }));
            }
            DialogKind::ExportAtlasView => self.export(path, false, cx),
            DialogKind::ExportAtlasWhole => self.export(path, true, cx),
            DialogKind::ExportSelection | DialogKind::PickCopyFolder => self.selection_dialog_answered(kind, path, cx),
            kind => self.timeline_dialog_answered(kind, path, cx),
        }
    }

    /// Builds an atlas of the model in use on its own thread, from the form's settings.
    pub fn build(&mut self, cx: &mut AppContext) {
        let Some(data_dir) = self.build_folder.clone() else {
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
        let out = cx.run_root.with_file_name("atlases").join(format!("{name}-{}-{stamp}.atlas", self.form.layer));
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

    fn export(&mut self, path: PathBuf, whole: bool, cx: &mut AppContext) {
        let grid = if self.current_level > 0 { self.current_level } else { 20 };
        let crop = (!whole && self.scene_rect.width() > 0.0).then(|| {
            let r = self.scene_rect;
            [r.min.x / WORLD, r.min.y / WORLD, r.max.x / WORLD, r.max.y / WORLD]
        });
        let options = ExportOptions {
            size_px: self.export_size.clamp(64, 8192),
            grid,
            grid_lines: self.export_grid_lines,
            class_colours: self.export_labels,
        };
        let classes = self.atlas.as_ref().map_or(0, |a| a.meta.class_names.len());
        let names = self.export_labels.then(|| (0..classes).map(|c| cx.class_label(c)).collect());
        // The view as seen includes the visible dropped pictures; the whole atlas is the map alone.
        let placements = if whole { Vec::new() } else { self.dropped.iter().filter(|d| d.visible).map(|d| d.placement.clone()).collect() };
        cx.submit(Job::Atlas(AtlasJob::Export { options, names, placements, crop, path }));
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
