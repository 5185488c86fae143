//! 地图集: the activation atlas as a map to fly over. The grid level follows the zoom; icons come
//! from one texture per level drawn as one mesh; hover and click inspect a cell; dropped photos
//! are placed on the map; atlases are built here too; the paper's mosaic and distribution views.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

mod build_form;
pub mod distribution;
mod map;
mod selection;
mod side;
mod timeline;
mod views;

pub use build_form::{AtlasBuilder, BuildForm, Building, FocusKind, FolderCount, parse_levels};
pub use distribution::DistributionState;
pub use selection::{SelectTool, SelectionState};
pub use timeline::{TimelineBuilding, TimelineLook, TimelineState};

use super::context::AppContext;
use super::dialogs::DialogKind;
use super::i18n::{self, T};
use crate::app::panel::Panel;
use crate::engine::atlas::export::ExportOptions;
use crate::engine::atlas::{Atlas, Placement};
use crate::worker::{AtlasEvent, AtlasJob, Job, JobError, JobId, PatchPicture, Picture};
use crate::worker::{Event, ModelInfo};

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
    /// The same thumbnail for exports, which draw it on the photo's pin.
    picture: Option<image::RgbImage>,
    pub visible: bool,
}

/// The map as drawn: its textures per grid level, where the view is, how cells are coloured, and
/// the photos placed on it.
pub struct MapView {
    textures: HashMap<u16, LevelTexture>,
    pub scene_rect: egui::Rect,
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
    pub dropped: Vec<DroppedImage>,
    /// The photo open in 分类 that was placed on the map by itself (replaced when another opens).
    pub placed_open_photo: Option<PathBuf>,
    /// Where the map was on screen in the last frame: the scene-to-screen transform and the map's
    /// corner in the scene.
    to_screen: Option<(egui::emath::TSTransform, egui::Pos2)>,
}

impl MapView {
    /// Where a point of the layout (the unit square) was on screen in the last frame.
    pub fn screen_position(&self, point: [f32; 2]) -> Option<egui::Pos2> {
        let (transform, origin) = self.to_screen?;
        Some(transform * (origin + egui::vec2(point[0], point[1]) * WORLD))
    }
}

impl Default for MapView {
    fn default() -> Self {
        MapView {
            textures: HashMap::new(),
            scene_rect: egui::Rect::ZERO,
            current_level: 0,
            class_colours: false,
            tint_class: None,
            cell_picture: CellPicture::Synthetic,
            real_textures: HashMap::new(),
            real_requested: std::collections::HashSet::new(),
            dropped: Vec::new(),
            placed_open_photo: None,
            to_screen: None,
        }
    }
}

/// The inspector: the cell clicked on the map and the real patches behind it.
#[derive(Default)]
pub struct CellInspector {
    pub selected: Option<(u16, usize)>,
    /// The selected cell's patches: picture, class, recorded file, image index in the atlas.
    patches: Vec<(egui::TextureHandle, u16, PathBuf, u32)>,
    /// Each patch's file on this machine, looked for when the patches or the folders they may be
    /// in (the build form's, the training data set) change, not every frame.
    patch_files: Vec<Option<PathBuf>>,
    patch_files_for: Option<(Option<PathBuf>, Option<PathBuf>)>,
    /// The selected cell in real pictures: the mean of its patches, its most typical patch.
    real_pictures: [Option<egui::TextureHandle>; 2],
    /// Image files behind the selected cell that could not be read (atlases without embedded
    /// images, moved or not shipped data).
    pub missing_patches: Vec<PathBuf>,
}

/// How 导出 writes the map as a picture.
pub struct ExportSettings {
    pub size: u32,
    pub labels: bool,
    pub grid_lines: bool,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings { size: 2048, labels: true, grid_lines: false }
    }
}

/// The paper's own views: the conv2 mosaic and the rotation of the 3-D distribution plots.
pub struct PaperViews {
    /// Rotation of the 3-D distribution views, degrees.
    pub yaw: f32,
    mosaic: Vec<(usize, egui::TextureHandle)>,
}

impl Default for PaperViews {
    fn default() -> Self {
        PaperViews { yaw: 30.0, mosaic: Vec::new() }
    }
}

/// 地图集: the atlas in use and the parts that show it, each owning its state.
pub struct AtlasPanel {
    pub(crate) atlas: Option<Arc<Atlas>>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) view: AtlasView,
    pub(crate) map: MapView,
    pub(crate) inspector: CellInspector,
    pub(crate) builder: AtlasBuilder,
    pub(crate) export: ExportSettings,
    pub(crate) paper: PaperViews,
    /// The atlas timeline shown in its view (any run's, not tied to the model in use).
    pub(crate) timeline: TimelineState,
    /// 数据分布's class filter, search and hover.
    pub(crate) distribution: DistributionState,
    /// Photos selected with a box or lasso on the map or in 数据分布.
    pub(crate) selection: SelectionState,
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
            view: AtlasView::Map,
            map: MapView::default(),
            inspector: CellInspector::default(),
            builder: AtlasBuilder::default(),
            export: ExportSettings::default(),
            paper: PaperViews::default(),
            timeline: TimelineState::default(),
            distribution: DistributionState::default(),
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
    /// Which view of the atlas is open.
    pub fn view(&self) -> AtlasView {
        self.view
    }

    /// The map as drawn (grid level, colours, placed photos).
    pub fn map(&self) -> &MapView {
        &self.map
    }

    pub fn map_mut(&mut self) -> &mut MapView {
        &mut self.map
    }

    /// The clicked cell and its patches.
    pub fn inspector(&self) -> &CellInspector {
        &self.inspector
    }

    /// The build form, its folder and a running build.
    pub fn builder(&self) -> &AtlasBuilder {
        &self.builder
    }

    pub fn builder_mut(&mut self) -> &mut AtlasBuilder {
        &mut self.builder
    }

    pub fn export_settings(&self) -> &ExportSettings {
        &self.export
    }

    pub fn paper(&self) -> &PaperViews {
        &self.paper
    }

    pub fn timeline(&self) -> &TimelineState {
        &self.timeline
    }

    pub fn distribution(&self) -> &DistributionState {
        &self.distribution
    }

    pub fn selection(&self) -> &SelectionState {
        &self.selection
    }

    /// The atlas shown, once one is loaded.
    pub fn atlas(&self) -> Option<&Arc<Atlas>> {
        self.atlas.as_ref()
    }

    /// The file the shown atlas was loaded from.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    fn loaded(&mut self, ctx: &egui::Context, atlas: Arc<Atlas>, path: PathBuf) {
        self.map.textures.clear();
        self.map.real_textures.clear();
        self.map.real_requested.clear();
        for icons in &atlas.icons {
            let pictures: Vec<(usize, image::RgbImage)> =
                icons.cells.iter().enumerate().map(|(i, &cell)| (cell as usize, icons.icon(i))).collect();
            if let Some(texture) = pack_level(ctx, &format!("atlas-icons-{}", icons.size), &pictures) {
                self.map.textures.insert(icons.size, texture);
            }
        }
        self.paper.mosaic = mosaic_textures(ctx, &atlas);
        // A class atlas is shaded by its class from the start.
        self.map.tint_class = atlas.meta.params.focus.class();
        self.atlas = Some(atlas);
        self.path = Some(path);
        self.map.scene_rect = egui::Rect::ZERO;
        self.inspector.selected = None;
        self.inspector.patches.clear();
        self.inspector.real_pictures = [None, None];
        self.inspector.missing_patches.clear();
        self.builder.building = None;
        self.selection.clear();
    }

    fn placed(&mut self, ctx: &egui::Context, path: PathBuf, placement: Placement, thumbnail: Picture) {
        let handle = texture(ctx, &format!("dropped-{}", path.display()), &thumbnail, egui::TextureOptions::LINEAR);
        self.map.dropped.retain(|d| d.path != path);
        let picture = image::RgbaImage::from_raw(thumbnail.width as u32, thumbnail.height as u32, thumbnail.rgba)
            .map(|rgba| image::DynamicImage::ImageRgba8(rgba).to_rgb8());
        self.map.dropped.push(DroppedImage { path, placement, thumbnail: handle, picture, visible: true });
    }

    fn patches_received(&mut self, ctx: &egui::Context, patches: Vec<PatchPicture>) {
        self.inspector.patches = patches
            .into_iter()
            .enumerate()
            .map(|(i, patch)| {
                let picture = texture(ctx, &format!("patch-{i}"), &patch.picture, egui::TextureOptions::NEAREST);
                (picture, patch.label, patch.path, patch.image_index)
            })
            .collect();
        self.inspector.patch_files_for = None;
    }

    /// Each patch's file on this machine (see `CellInspector::patch_files`).
    pub(super) fn patch_files(&mut self, cx: &AppContext) -> &[Option<PathBuf>] {
        let key = (self.builder.folder.clone(), cx.settings.last_data_dir.clone());
        if self.inspector.patch_files_for.as_ref() != Some(&key) {
            let folders = self.photo_folders(cx);
            let atlas = self.atlas.clone();
            self.inspector.patch_files = self
                .inspector
                .patches
                .iter()
                .map(|(_, _, _, image)| crate::engine::atlas::selection::image_file_here(atlas.as_deref()?, *image as usize, &folders))
                .collect();
            self.inspector.patch_files_for = Some(key);
        }
        &self.inspector.patch_files
    }

    /// The texture the map draws grid `size` with: the chosen real pictures once they have
    /// arrived, the icons until then.
    fn level_texture(&self, size: u16) -> Option<&LevelTexture> {
        match self.map.cell_picture {
            CellPicture::Synthetic => None,
            kind => self.map.real_textures.get(&(size, kind)),
        }
        .or_else(|| self.map.textures.get(&size))
    }

    /// Whether grid `size` is drawn from the kind of real pictures chosen.
    pub fn shows_real_pictures(&self, size: u16) -> bool {
        self.map.cell_picture != CellPicture::Synthetic && self.map.real_textures.contains_key(&(size, self.map.cell_picture))
    }

    /// Asks the worker for grid `size`'s real pictures the first time they are needed.
    fn request_real_pictures(&mut self, size: u16, cx: &mut AppContext) {
        if self.map.cell_picture != CellPicture::Synthetic && self.map.real_requested.insert(size) {
            cx.submit(Job::Atlas(AtlasJob::RealLevelPictures { level: size }));
        }
    }

    /// Whether the selected cell's mean and most typical real patches have arrived.
    pub fn has_real_cell_pictures(&self) -> bool {
        self.inspector.real_pictures.iter().all(Option::is_some)
    }

    /// How many real image patches are shown for the selected cell.
    pub fn patch_count(&self) -> usize {
        self.inspector.patches.len()
    }

    /// Levels with icons, coarse to fine.
    fn icon_levels(&self) -> Vec<u16> {
        let mut levels: Vec<u16> = self.map.textures.keys().copied().collect();
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

impl AtlasPanel {
    /// Where an atlas's photos may be on this machine, most likely first: the build form's folder
    /// (shown or not yet), the training tab's data set, and where 下载论文的数据集 puts flowers17.
    pub(super) fn photo_folders(&self, cx: &AppContext) -> Vec<PathBuf> {
        let downloaded = crate::resources::user_data_dir().join("datasets").join("flowers17");
        let mut folders: Vec<PathBuf> = Vec::new();
        for dir in [self.builder.folder.clone(), AtlasBuilder::default_folder(cx), Some(downloaded)].into_iter().flatten() {
            if !folders.contains(&dir) {
                folders.push(dir);
            }
        }
        folders
    }
}

/// The largest attribution to any class in any cell of `level`: what "strong" is measured against.
pub fn largest_attribution(level: &crate::engine::atlas::cells::GridLevel) -> f32 {
    level.cells.iter().flat_map(|c| c.top_by_attribution.iter().map(|&(_, a)| a)).fold(0.0, f32::max)
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
    fn atlas_event(&mut self, ctx: &egui::Context, event: AtlasEvent, cx: &mut AppContext) {
        match event {
            AtlasEvent::Loaded { atlas, path } => {
                cx.settings.last_atlas = Some(path.clone());
                self.loaded(ctx, atlas, path);
            }
            AtlasEvent::Build(progress) => self.builder.progress(ctx, progress),
            AtlasEvent::Placed { path, placement, thumbnail } => self.placed(ctx, path, placement, thumbnail),
            AtlasEvent::Patches { patches, missing, mean, typical, .. } => {
                self.patches_received(ctx, patches);
                self.inspector.missing_patches = missing;
                self.inspector.real_pictures = [
                    mean.map(|p| texture(ctx, "cell-mean-patch", &p, egui::TextureOptions::LINEAR)),
                    typical.map(|p| texture(ctx, "cell-typical-patch", &p, egui::TextureOptions::NEAREST)),
                ];
            }
            AtlasEvent::RealLevelPictures { level, cells, mean, typical } => {
                for (kind, pictures) in [(CellPicture::Mean, mean), (CellPicture::Typical, typical)] {
                    let pictures: Vec<(usize, image::RgbImage)> =
                        cells.iter().zip(&pictures).filter_map(|(&cell, picture)| Some((cell as usize, picture.to_rgb()?))).collect();
                    if let Some(texture) = pack_level(ctx, &format!("atlas-real-{kind:?}-{level}"), &pictures) {
                        self.map.real_textures.insert((level, kind), texture);
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
            AtlasEvent::ImagesCounted { dir, classes, images } => self.builder.images_counted(FolderCount { dir, classes, images }),
        }
    }

    /// The photo open in 分类 shows on the map too (its activations and a pin), without being
    /// dropped there: placed when the map is looked at, replaced when another photo opens.
    pub(super) fn follow_open_photo(&mut self, cx: &mut AppContext) {
        if self.atlas.is_none() || cx.photo == self.map.placed_open_photo {
            return;
        }
        if let Some(previous) = self.map.placed_open_photo.take() {
            self.map.dropped.retain(|d| d.path != previous);
        }
        if let Some(photo) = cx.photo.clone() {
            // Already on the map (dropped by the user): leave it as it is.
            if !self.map.dropped.iter().any(|d| d.path == photo) {
                cx.submit(Job::Atlas(AtlasJob::Place { paths: vec![photo.clone()] }));
                self.map.placed_open_photo = Some(photo);
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

    fn export(&mut self, path: PathBuf, whole: bool, cx: &mut AppContext) {
        let grid = if self.map.current_level > 0 { self.map.current_level } else { 20 };
        let crop = (!whole && self.map.scene_rect.width() > 0.0).then(|| {
            let r = self.map.scene_rect;
            [r.min.x / WORLD, r.min.y / WORLD, r.max.x / WORLD, r.max.y / WORLD]
        });
        let options = ExportOptions {
            size_px: self.export.size.clamp(64, 8192),
            grid,
            grid_lines: self.export.grid_lines,
            class_colours: self.export.labels,
        };
        let names = self.export.labels.then(|| self.atlas.as_ref().map(|a| cx.labels_of(&a.meta.class_names)).unwrap_or_default());
        // The view as seen includes the visible dropped pictures; the whole atlas is the map alone.
        let placements = if whole {
            Vec::new()
        } else {
            self.map.dropped.iter().filter(|d| d.visible).map(|d| (d.placement.clone(), d.picture.clone())).collect()
        };
        cx.submit(Job::Atlas(AtlasJob::Export { options, names, placements, crop, path }));
    }
}

impl Panel for AtlasPanel {
    fn on_event(&mut self, ctx: &egui::Context, job: JobId, event: Event, cx: &mut AppContext) -> Option<Event> {
        match event {
            Event::Atlas(event) => self.atlas_event(ctx, event, cx),
            // Timelines live in this panel's 时间线 view.
            Event::Timeline(event) => self.timeline_event(job, event, cx),
            event => return Some(event),
        }
        None
    }

    fn job_failed(&mut self, job: JobId, _error: &JobError) {
        self.builder.job_failed(job);
    }

    fn job_finished(&mut self, job: JobId) {
        self.timeline_job_finished(job);
        self.builder.job_finished(job);
        if self.selection.copying == Some(job) {
            self.selection.copying = None;
        }
    }

    /// A new model: an atlas of another model is put away (the worker drops it too); the shell
    /// then offers one that belongs to the new model.
    fn model_changed(&mut self, info: &ModelInfo) {
        self.builder.model_changed();
        if self.atlas.as_ref().is_some_and(|atlas| atlas.meta.model_fingerprint != info.fingerprint) {
            // The form and a running build stay; a timeline is of a run, not of the model in
            // use: it stays too.
            let builder = self.builder.keep_form_and_build();
            let timeline = std::mem::take(&mut self.timeline);
            *self = AtlasPanel { builder, timeline, ..AtlasPanel::default() };
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        self.page_ui(ui, cx);
    }
}
