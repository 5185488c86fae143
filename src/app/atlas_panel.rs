//! 地图集: the activation atlas as a map to fly over. The grid level follows the zoom; icons come
//! from one texture per level drawn as one mesh; hover and click inspect a cell; dropped photos
//! are placed on the map; atlases are built here too; the paper's mosaic and distribution views.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use egui_plot::{Legend, Plot, PlotPoints, Points};

use super::dialogs::DialogKind;
use super::i18n::{Lang, T};
use super::{AtlasApp, ModelStatus};
use crate::engine::atlas::build::AtlasParams;
use crate::engine::atlas::export::ExportOptions;
use crate::engine::atlas::{Atlas, Placement, Stage};
use crate::engine::model::Layer;
use crate::worker::{AtlasBuildProgress, Job, Picture};

/// Side of the map in scene units.
pub const WORLD: f32 = 1000.0;
/// A grid level is used once its cells are at least this many screen pixels wide.
const MIN_CELL_PX: f32 = 44.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtlasView {
    Map,
    Mosaic,
    Distribution,
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
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
    pub layout: Vec<f32>,
    pub icons: Vec<(u16, [u16; 2], egui::TextureHandle)>,
}

pub struct BuildForm {
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

pub struct AtlasPanel {
    pub atlas: Option<Arc<Atlas>>,
    pub path: Option<PathBuf>,
    textures: HashMap<u16, LevelTexture>,
    pub scene_rect: egui::Rect,
    pub view: AtlasView,
    /// The grid level drawn in the last frame.
    pub current_level: u16,
    pub class_colours: bool,
    pub selected: Option<(u16, usize)>,
    patches: Vec<(egui::TextureHandle, u16, PathBuf)>,
    pub dropped: Vec<DroppedImage>,
    pub building: Option<Building>,
    pub form: BuildForm,
    pub export_size: u32,
    pub export_labels: bool,
    pub export_grid_lines: bool,
    /// Rotation of the 3-D distribution views, degrees.
    pub yaw: f32,
    mosaic: Vec<(usize, egui::TextureHandle)>,
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
            selected: None,
            patches: Vec::new(),
            dropped: Vec::new(),
            building: None,
            form: BuildForm::default(),
            export_size: 2048,
            export_labels: true,
            export_grid_lines: false,
            yaw: 30.0,
            mosaic: Vec::new(),
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
    pub fn loaded(&mut self, ctx: &egui::Context, atlas: Arc<Atlas>, path: PathBuf) {
        self.textures.clear();
        for icons in &atlas.icons {
            let count = icons.cells.len();
            if count == 0 {
                continue;
            }
            let px = icons.icon_px as usize;
            let columns = (count as f64).sqrt().ceil() as usize;
            let rows = count.div_ceil(columns);
            let mut image = egui::ColorImage::filled([columns * px, rows * px], egui::Color32::TRANSPARENT);
            for i in 0..count {
                let icon = icons.icon(i);
                let (col, row) = (i % columns, i / columns);
                for (x, y, p) in icon.enumerate_pixels() {
                    image[(col * px + x as usize, row * px + y as usize)] = egui::Color32::from_rgb(p[0], p[1], p[2]);
                }
            }
            let handle = ctx.load_texture(format!("atlas-icons-{}", icons.size), image, egui::TextureOptions::LINEAR);
            let slots = icons.cells.iter().enumerate().map(|(slot, &cell)| (cell as usize, slot)).collect();
            self.textures.insert(icons.size, LevelTexture { texture: handle, columns, slots, icon_px: px });
        }
        self.mosaic = mosaic_textures(ctx, &atlas);
        self.atlas = Some(atlas);
        self.path = Some(path);
        self.scene_rect = egui::Rect::ZERO;
        self.selected = None;
        self.patches.clear();
        self.building = None;
    }

    pub fn build_progress(&mut self, ctx: &egui::Context, progress: AtlasBuildProgress) {
        let building = self.building.get_or_insert_with(|| Building { stage: Stage::Collect, done: 0, total: 1, layout: Vec::new(), icons: Vec::new() });
        match progress {
            AtlasBuildProgress::Stage { stage, done, total } => {
                building.stage = stage;
                building.done = done;
                building.total = total;
            }
            AtlasBuildProgress::Layout { layout, .. } => building.layout = layout,
            AtlasBuildProgress::Icons { level, positions, icons } => {
                for (position, picture) in positions.into_iter().zip(&icons) {
                    let handle = texture(ctx, &format!("building-{level}-{}-{}", position[0], position[1]), picture, egui::TextureOptions::LINEAR);
                    building.icons.push((level, position, handle));
                }
            }
        }
    }

    pub fn placed(&mut self, ctx: &egui::Context, path: PathBuf, placement: Placement, thumbnail: Picture) {
        let handle = texture(ctx, &format!("dropped-{}", path.display()), &thumbnail, egui::TextureOptions::LINEAR);
        self.dropped.retain(|d| d.path != path);
        self.dropped.push(DroppedImage { path, placement, thumbnail: handle, visible: true });
    }

    pub fn patches_received(&mut self, ctx: &egui::Context, patches: Vec<(Picture, u16, PathBuf)>) {
        self.patches = patches
            .into_iter()
            .enumerate()
            .map(|(i, (picture, label, path))| (texture(ctx, &format!("patch-{i}"), &picture, egui::TextureOptions::NEAREST), label, path))
            .collect();
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

impl AtlasApp {
    /// Class name in the current language.
    fn class_label(&self, class: usize) -> String {
        match &self.model {
            ModelStatus::Ready(info) => info.class_names.get(class).map(|id| self.class_display_names(id).0).unwrap_or_default(),
            _ => class.to_string(),
        }
    }

    /// Places dropped or chosen pictures on the atlas.
    pub fn place_on_atlas(&mut self, paths: Vec<PathBuf>) {
        if self.atlas.atlas.is_none() {
            self.notice = Some(self.t(T::NoAtlas).to_string());
            return;
        }
        self.worker.send(Job::PlaceImages { paths });
    }

    pub fn build_atlas_from_panel(&mut self) {
        let Some(data_dir) = self.train.data_dir.clone().or_else(|| self.settings.last_data_dir.clone()) else {
            self.notice = Some(self.t(T::AtlasNeedsData).to_string());
            return;
        };
        let form = &self.atlas.form;
        let (Some(grid_levels), Some(icon_levels)) = (parse_levels(&form.grid_levels), parse_levels(&form.icon_levels)) else {
            self.error = Some(self.t(T::BadGridLevels).to_string());
            return;
        };
        if !icon_levels.iter().all(|l| grid_levels.contains(l)) {
            self.error = Some(self.t(T::BadGridLevels).to_string());
            return;
        }
        let mut params = AtlasParams { layer: form.layer, samples_per_image: form.samples, grid_levels, icon_levels, ..AtlasParams::default() };
        params.umap.n_neighbors = form.neighbours;
        params.umap.min_dist = form.min_dist;
        params.icons.steps = form.icon_steps;
        let name = data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
        let stamp = crate::engine::fsutil::utc_timestamp_now().replace([':', '-'], "");
        // Beside the training runs: ~/.local/share/activation-atlas/atlases by default.
        let out = self.run_root().with_file_name("atlases").join(format!("{name}-{}-{stamp}.atlas", form.layer));
        self.atlas.building = Some(Building { stage: Stage::Collect, done: 0, total: 1, layout: Vec::new(), icons: Vec::new() });
        self.worker.send(Job::BuildAtlas { data_dir, params, out });
    }

    pub fn export_atlas(&mut self, path: PathBuf, whole: bool) {
        let panel = &self.atlas;
        let grid = if panel.current_level > 0 { panel.current_level } else { 20 };
        let crop = (!whole && panel.scene_rect.width() > 0.0).then(|| {
            let r = panel.scene_rect;
            [r.min.x / WORLD, r.min.y / WORLD, r.max.x / WORLD, r.max.y / WORLD]
        });
        let options = ExportOptions { size_px: panel.export_size.clamp(64, 8192), grid, grid_lines: panel.export_grid_lines, class_colours: panel.export_labels };
        let classes = panel.atlas.as_ref().map_or(0, |a| a.meta.class_names.len());
        let names = panel.export_labels.then(|| (0..classes).map(|c| self.class_label(c)).collect());
        // The view as seen includes the visible dropped pictures; the whole atlas is the map alone.
        let placements = if whole { Vec::new() } else { panel.dropped.iter().filter(|d| d.visible).map(|d| d.placement.clone()).collect() };
        self.worker.send(Job::ExportAtlas { options, names, placements, crop, path });
    }
}

pub fn atlas_panel_ui(app: &mut AtlasApp, ui: &mut egui::Ui) {
    let lang = app.lang();
    let ctx = ui.ctx().clone();
    ui.horizontal_wrapped(|ui| {
        for (view, label) in [(AtlasView::Map, T::AtlasMap), (AtlasView::Mosaic, T::ClassMosaic), (AtlasView::Distribution, T::DataDistribution)] {
            ui.selectable_value(&mut app.atlas.view, view, label.get(lang));
        }
        ui.separator();
        if ui.button(T::LoadAtlas.get(lang)).clicked() {
            app.request_dialog(&ctx, DialogKind::OpenAtlas);
        }
        if ui.add_enabled(app.atlas.atlas.is_some(), egui::Button::new(T::PlaceImages.get(lang))).clicked() {
            app.request_dialog(&ctx, DialogKind::PlaceImage);
        }
        ui.checkbox(&mut app.atlas.class_colours, T::ClassColours.get(lang));
        if let Some(path) = &app.atlas.path {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            ui.small(name).on_hover_text(path.display().to_string());
        }
    });
    ui.separator();
    egui::Panel::right("atlas-side").resizable(true).default_size(330.0).min_size(260.0).show(ui, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| side_panel_ui(app, ui, lang));
    });
    egui::CentralPanel::default().show(ui, |ui| match app.atlas.view {
        AtlasView::Map => map_ui(app, ui, lang),
        AtlasView::Mosaic => mosaic_ui(app, ui, lang),
        AtlasView::Distribution => distribution_ui(app, ui, lang),
    });
}

fn map_ui(app: &mut AtlasApp, ui: &mut egui::Ui, lang: Lang) {
    if let Some(building) = &app.atlas.building {
        building_ui(building, ui, lang);
        return;
    }
    let Some(atlas) = app.atlas.atlas.clone() else {
        ui.centered_and_justified(|ui| {
            ui.label(egui::RichText::new(T::NoAtlas.get(lang)).size(18.0));
        });
        return;
    };
    let viewport = ui.available_rect_before_wrap();
    keyboard_zoom(app, ui);
    let pixels_per_unit = if app.atlas.scene_rect.width() > 0.0 {
        (viewport.width() / app.atlas.scene_rect.width()).min(viewport.height() / app.atlas.scene_rect.height())
    } else {
        viewport.width().min(viewport.height()) / WORLD
    };
    let level_size = app.atlas.level_for_zoom(pixels_per_unit);
    app.atlas.current_level = level_size;
    let Some(level) = atlas.level(level_size) else { return };
    let classes = atlas.meta.class_names.len();
    let mean_count = level.cells.iter().map(|c| c.count as f32).sum::<f32>() / level.cells.len().max(1) as f32;
    let cell_world = WORLD / f32::from(level_size);
    let label_names: Vec<String> = (0..classes).map(|c| app.class_label(c)).collect();
    let mut scene_rect = app.atlas.scene_rect;
    let mut hovered: Option<usize> = None;
    let mut clicked: Option<usize> = None;
    let response = egui::Scene::new().zoom_range(0.05..=40.0).scroll_zooms(true).show(ui, &mut scene_rect, |ui| {
        let (rect, response) = ui.allocate_exact_size(egui::vec2(WORLD, WORLD), egui::Sense::click());
        let painter = ui.painter();
        painter.rect_filled(rect, 0.0, egui::Color32::from_rgb(18, 18, 22));
        let cell_rect = |x: u16, y: u16, scale: f32| {
            let centre = rect.min + egui::vec2((f32::from(x) + 0.5) * cell_world, (f32::from(y) + 0.5) * cell_world);
            egui::Rect::from_center_size(centre, egui::Vec2::splat(cell_world * scale))
        };
        // Class colour overlay under the icons.
        if app.atlas.class_colours {
            for cell in &level.cells {
                if let Some(&(class, _)) = cell.top_by_attribution.first() {
                    painter.rect_filled(cell_rect(cell.x, cell.y, 1.0), 0.0, class_colour(class as usize, classes).gamma_multiply(0.45));
                }
            }
        }
        // All icons of the level: one mesh on one texture.
        if let Some(level_texture) = app.atlas.textures.get(&level_size) {
            let mut mesh = egui::Mesh::with_texture(level_texture.texture.id());
            let size = level_texture.texture.size_vec2();
            let px = level_texture.icon_px as f32;
            for (index, cell) in level.cells.iter().enumerate() {
                let scale = (cell.count as f32 / mean_count).sqrt().clamp(0.4, 0.96);
                match level_texture.slots.get(&index) {
                    Some(&slot) => {
                        let (col, row) = ((slot % level_texture.columns) as f32, (slot / level_texture.columns) as f32);
                        let uv = egui::Rect::from_min_size(egui::pos2(col * px / size.x, row * px / size.y), egui::vec2(px / size.x, px / size.y));
                        mesh.add_rect_with_uv(cell_rect(cell.x, cell.y, scale), uv, egui::Color32::WHITE);
                    }
                    None => {
                        painter.circle_filled(cell_rect(cell.x, cell.y, 1.0).center(), cell_world * 0.08, egui::Color32::from_gray(90));
                    }
                }
            }
            painter.add(egui::Shape::mesh(mesh));
        }
        // Labels at the coarsest zoom: each class on its densest cell.
        if Some(level_size) == app.atlas.icon_levels().first().copied() {
            let mut best: Vec<Option<(u16, u16, u32)>> = vec![None; classes];
            for cell in &level.cells {
                if let Some(&(class, _)) = cell.top_by_attribution.first() {
                    let slot = &mut best[class as usize];
                    if slot.is_none_or(|(_, _, n)| cell.count > n) {
                        *slot = Some((cell.x, cell.y, cell.count));
                    }
                }
            }
            // Densest first; a label that would cover an earlier one moves aside, else is left out.
            let mut order: Vec<(usize, (u16, u16, u32))> = best.iter().enumerate().filter_map(|(c, b)| Some((c, (*b)?))).collect();
            order.sort_by_key(|(_, (_, _, count))| std::cmp::Reverse(*count));
            let mut taken: Vec<egui::Rect> = Vec::new();
            for (class, (x, y, _)) in order {
                let galley = painter.layout_no_wrap(label_names[class].clone(), egui::FontId::proportional(cell_world * 0.28), egui::Color32::WHITE);
                let centre = cell_rect(x, y, 1.0).center();
                let spot = [(0.0, 0.0), (0.0, 0.3), (0.0, -0.3), (0.5, 0.3), (-0.5, 0.3), (0.5, -0.3), (-0.5, -0.3)]
                    .into_iter()
                    .map(|(dx, dy)| egui::Align2::CENTER_CENTER.anchor_size(centre + egui::vec2(dx, dy) * cell_world, galley.size()).expand(2.0)).find(|r| taken.iter().all(|t| !t.intersects(*r)));
                if let Some(text_rect) = spot {
                    taken.push(text_rect);
                    painter.rect_filled(text_rect, 3.0, egui::Color32::from_black_alpha(150));
                    painter.galley(text_rect.shrink(2.0).min, galley, egui::Color32::WHITE);
                }
            }
        }
        // Dropped pictures: a glow and a marker per vector, a pin with the thumbnail at the centre.
        // Sizes are in screen pixels (divided by the zoom) so pins stay readable at any zoom.
        let screen = 1.0 / pixels_per_unit.max(1e-3);
        for dropped in app.atlas.dropped.iter().filter(|d| d.visible) {
            let colour = class_colour(dropped.placement.predicted_class, classes);
            for p in &dropped.placement.points {
                let at = rect.min + egui::vec2(p[0] * WORLD, p[1] * WORLD);
                painter.circle_filled(at, 7.0 * screen, colour.gamma_multiply(0.15));
                painter.circle_filled(at, 1.8 * screen, colour);
            }
            let centre = rect.min + egui::vec2(dropped.placement.centre[0] * WORLD, dropped.placement.centre[1] * WORLD);
            let pin = egui::Rect::from_center_size(centre - egui::vec2(0.0, 52.0 * screen), egui::Vec2::splat(64.0 * screen));
            painter.circle_filled(centre, 4.0 * screen, egui::Color32::WHITE);
            painter.line_segment([centre, pin.center_bottom()], egui::Stroke::new(2.0 * screen, egui::Color32::WHITE));
            painter.rect_filled(pin.expand(3.0 * screen), 4.0 * screen, egui::Color32::WHITE);
            painter.image(dropped.thumbnail.id(), pin, egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)), egui::Color32::WHITE);
            let name = label_names.get(dropped.placement.predicted_class).cloned().unwrap_or_default();
            let galley = painter.layout_no_wrap(name, egui::FontId::proportional(14.0 * screen), egui::Color32::WHITE);
            let text_rect = egui::Align2::CENTER_BOTTOM.anchor_size(pin.center_top() - egui::vec2(0.0, 5.0 * screen), galley.size());
            painter.rect_filled(text_rect.expand(2.0 * screen), 3.0 * screen, colour.gamma_multiply(0.85));
            painter.galley(text_rect.min, galley, egui::Color32::BLACK);
        }
        // Hover and click: the cell under the pointer.
        let pointer_cell = |pos: egui::Pos2| {
            let local = pos - rect.min;
            let (x, y) = ((local.x / cell_world).floor(), (local.y / cell_world).floor());
            (x >= 0.0 && y >= 0.0 && x < f32::from(level_size) && y < f32::from(level_size))
                .then(|| level.cells.iter().position(|c| c.x == x as u16 && c.y == y as u16))
                .flatten()
        };
        hovered = response.hover_pos().and_then(pointer_cell);
        if response.clicked() {
            clicked = response.interact_pointer_pos().and_then(pointer_cell);
        }
        if let Some((selected_level, index)) = app.atlas.selected {
            if selected_level == level_size {
                if let Some(cell) = level.cells.get(index) {
                    painter.rect_stroke(cell_rect(cell.x, cell.y, 1.0), 0.0, egui::Stroke::new(2.0, egui::Color32::YELLOW), egui::StrokeKind::Inside);
                }
            }
        }
        response
    });
    app.atlas.scene_rect = scene_rect;
    if let Some(index) = hovered {
        let cell = &level.cells[index];
        let mut text = format!("{} {}", cell.count, T::Vectors.get(lang));
        for &(class, attribution) in &cell.top_by_attribution {
            text += &format!("\n{}  {} {}", label_names[class as usize], T::Attribution.get(lang), format_attribution(attribution));
        }
        response.inner.on_hover_text(text);
    }
    if let Some(index) = clicked {
        app.atlas.selected = Some((level_size, index));
        app.atlas.patches.clear();
        let members = level.cells[index].members.clone();
        app.worker.send(Job::CellPatches { members, limit: 24 });
    }
    // The grid level, over the map's corner (a label, so screen readers and tests find it).
    let badge = format!("{} {level_size}×{level_size}", T::GridLevel.get(lang));
    egui::Area::new(egui::Id::unique("atlas-level"))
        .order(egui::Order::Foreground)
        .pivot(egui::Align2::RIGHT_TOP)
        .fixed_pos(viewport.right_top() + egui::vec2(-8.0, 8.0))
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::new().fill(egui::Color32::from_black_alpha(170)).corner_radius(3.0).inner_margin(4.0).show(ui, |ui| {
                ui.label(egui::RichText::new(badge).color(egui::Color32::WHITE).size(13.0));
            });
        });
}

/// Keys + and - zoom around the middle of the view; 0 shows the whole map. Ignored while a text
/// field has the keyboard.
fn keyboard_zoom(app: &mut AtlasApp, ui: &egui::Ui) {
    if ui.ctx().memory(|m| m.focused().is_some()) {
        return;
    }
    let (zoom_in, zoom_out, reset) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals),
            i.key_pressed(egui::Key::Minus),
            i.key_pressed(egui::Key::Num0),
        )
    });
    let rect = app.atlas.scene_rect;
    if reset {
        // An empty rectangle makes the scene fit the whole map again.
        app.atlas.scene_rect = egui::Rect::ZERO;
    } else if rect.width() > 0.0 && (zoom_in || zoom_out) {
        let factor = if zoom_in { 1.0 / 1.5 } else { 1.5 };
        let size = (rect.size() * factor).clamp(egui::Vec2::splat(WORLD / 200.0), egui::Vec2::splat(WORLD * 20.0));
        app.atlas.scene_rect = egui::Rect::from_center_size(rect.center(), size);
    }
}

fn building_ui(building: &Building, ui: &mut egui::Ui, lang: Lang) {
    let stage = match building.stage {
        Stage::Collect => T::StageCollect,
        Stage::Neighbours => T::StageNeighbours,
        Stage::Layout => T::StageLayout,
        Stage::Cells => T::StageCells,
        Stage::PaperViews => T::StagePaperViews,
        Stage::Icons => T::StageIcons,
    };
    ui.add(egui::ProgressBar::new(building.done as f32 / building.total.max(1) as f32).text(format!("{} {}/{}", stage.get(lang), building.done, building.total)));
    let (rect, _) = ui.allocate_exact_size(ui.available_size(), egui::Sense::hover());
    let side = rect.width().min(rect.height());
    let area = egui::Rect::from_min_size(rect.min, egui::vec2(side, side));
    let painter = ui.painter_at(area);
    painter.rect_filled(area, 0.0, egui::Color32::from_rgb(18, 18, 22));
    // The layout as it optimises (positions only: cells and classes come later), then icons as they come.
    for p in building.layout.chunks_exact(2).step_by(2) {
        painter.circle_filled(area.min + egui::vec2(p[0], p[1]) * side, 1.0, egui::Color32::from_rgb(120, 170, 255));
    }
    if let Some(&(coarsest, _, _)) = building.icons.iter().min_by_key(|(l, _, _)| *l) {
        let cell = side / f32::from(coarsest);
        for (_, [x, y], texture) in building.icons.iter().filter(|(l, _, _)| *l == coarsest) {
            let r = egui::Rect::from_min_size(area.min + egui::vec2(f32::from(*x) * cell, f32::from(*y) * cell), egui::vec2(cell, cell));
            painter.image(texture.id(), r.shrink(cell * 0.05), egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)), egui::Color32::WHITE);
        }
    }
}

fn side_panel_ui(app: &mut AtlasApp, ui: &mut egui::Ui, lang: Lang) {
    let ctx = ui.ctx().clone();
    // The selected cell: its icon enlarged, its classes, the real patches behind it.
    if let (Some(atlas), Some((level_size, index))) = (app.atlas.atlas.clone(), app.atlas.selected) {
        if let Some(cell) = atlas.level(level_size).and_then(|l| l.cells.get(index)) {
            ui.strong(format!("{} ({}, {}) · {} {}", T::Cell.get(lang), cell.x, cell.y, cell.count, T::Vectors.get(lang)));
            if let Some(level_texture) = app.atlas.textures.get(&level_size) {
                if let Some(&slot) = level_texture.slots.get(&index) {
                    let size = level_texture.texture.size_vec2();
                    let px = level_texture.icon_px as f32;
                    let (col, row) = ((slot % level_texture.columns) as f32, (slot / level_texture.columns) as f32);
                    let uv = egui::Rect::from_min_size(egui::pos2(col * px / size.x, row * px / size.y), egui::vec2(px / size.x, px / size.y));
                    ui.add(egui::Image::new((level_texture.texture.id(), egui::vec2(160.0, 160.0))).uv(uv).alt_text(T::Cell.get(lang)));
                }
            }
            for &(class, attribution) in &cell.top_by_attribution {
                ui.label(format!("{}  {} {}", app.class_label(class as usize), T::Attribution.get(lang), format_attribution(attribution)));
            }
            ui.label(T::RealPatches.get(lang));
            let mut open = None;
            ui.horizontal_wrapped(|ui| {
                for (texture, label, path) in &app.atlas.patches {
                    let name = app.class_label(*label as usize);
                    let response = ui.add(egui::Image::new((texture.id(), egui::vec2(64.0, 64.0))).alt_text(name.as_str()).sense(egui::Sense::click()));
                    if response.on_hover_text(format!("{name}\n{}\n{}", path.display(), T::OpenInClassifier.get(lang))).clicked() {
                        open = Some(path.clone());
                    }
                }
            });
            if let Some(path) = open {
                app.open_image(path);
            }
            ui.separator();
        }
    }
    // The colour legend, while the map is coloured by class.
    if let (true, Some(atlas)) = (app.atlas.class_colours, &app.atlas.atlas) {
        let classes = atlas.meta.class_names.len();
        ui.strong(T::ClassColours.get(lang));
        egui::Grid::new("atlas-legend").num_columns(2).show(ui, |ui| {
            for class in 0..classes {
                ui.horizontal(|ui| {
                    let (swatch, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter().rect_filled(swatch, 2.0, class_colour(class, classes));
                    ui.small(app.class_label(class));
                });
                if class % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        ui.separator();
    }
    // Dropped pictures.
    if !app.atlas.dropped.is_empty() {
        ui.strong(T::PlacedImages.get(lang));
        let mut focus = None;
        let mut remove = None;
        let predicted: Vec<String> = app.atlas.dropped.iter().map(|d| app.class_label(d.placement.predicted_class)).collect();
        for (i, dropped) in app.atlas.dropped.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                ui.checkbox(&mut dropped.visible, "").on_hover_text(T::Show.get(lang));
                ui.add(egui::Image::new((dropped.thumbnail.id(), egui::vec2(32.0, 32.0))).alt_text(dropped.path.display().to_string()));
                let name = dropped.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ui.vertical(|ui| {
                    ui.label(name).on_hover_text(dropped.path.display().to_string());
                    ui.small(format!("{} {:.0}%", predicted.get(i).map(String::as_str).unwrap_or(""), dropped.placement.confidence * 100.0));
                });
                if ui.small_button(T::Focus.get(lang)).clicked() {
                    focus = Some(i);
                }
                if ui.small_button(T::Remove.get(lang)).clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = focus {
            let c = app.atlas.dropped[i].placement.centre;
            app.atlas.scene_rect = egui::Rect::from_center_size(egui::pos2(c[0] * WORLD, c[1] * WORLD), egui::vec2(WORLD / 5.0, WORLD / 5.0));
        }
        if let Some(i) = remove {
            app.atlas.dropped.remove(i);
        }
        if ui.button(T::ClearAll.get(lang)).clicked() {
            app.atlas.dropped.clear();
        }
        ui.separator();
    }
    // Export.
    ui.strong(T::ExportPng.get(lang));
    ui.horizontal(|ui| {
        let label = ui.label(T::SizePx.get(lang));
        ui.add(egui::DragValue::new(&mut app.atlas.export_size).range(256..=8192).speed(16)).labelled_by(label.id);
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut app.atlas.export_labels, T::Labels.get(lang));
        ui.checkbox(&mut app.atlas.export_grid_lines, T::GridLines.get(lang));
    });
    ui.horizontal(|ui| {
        let ready = app.atlas.atlas.is_some();
        if ui.add_enabled(ready, egui::Button::new(T::ExportView.get(lang))).clicked() {
            app.request_dialog(&ctx, DialogKind::ExportAtlasView);
        }
        if ui.add_enabled(ready, egui::Button::new(T::ExportWhole.get(lang))).clicked() {
            app.request_dialog(&ctx, DialogKind::ExportAtlasWhole);
        }
    });
    ui.separator();
    // Building a new atlas.
    egui::CollapsingHeader::new(T::BuildAtlas.get(lang)).show(ui, |ui| {
        let data = app.train.data_dir.clone().or_else(|| app.settings.last_data_dir.clone());
        ui.small(match &data {
            Some(dir) => dir.display().to_string(),
            None => T::AtlasNeedsData.get(lang).to_string(),
        });
        let form = &mut app.atlas.form;
        egui::Grid::new("atlas-form").num_columns(2).show(ui, |ui| {
            let label = ui.label(T::Layer.get(lang));
            egui::ComboBox::from_id_salt("atlas-layer")
                .selected_text(form.layer.name())
                .show_ui(ui, |ui| {
                    for layer in Layer::CONV {
                        ui.selectable_value(&mut form.layer, layer, layer.name());
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label(T::SamplesPerImage.get(lang));
            ui.add(egui::DragValue::new(&mut form.samples).range(1..=64)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label(T::Neighbours.get(lang));
            ui.add(egui::DragValue::new(&mut form.neighbours).range(2..=100)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label(T::MinDist.get(lang));
            ui.add(egui::DragValue::new(&mut form.min_dist).range(0.0..=1.0).speed(0.01)).labelled_by(label.id);
            ui.end_row();
            let label = ui.label(T::GridLevels.get(lang));
            ui.add(egui::TextEdit::singleline(&mut form.grid_levels).desired_width(110.0)).labelled_by(label.id).on_hover_text(T::GridLevelsHint.get(lang));
            ui.end_row();
            let label = ui.label(T::IconLevels.get(lang));
            ui.add(egui::TextEdit::singleline(&mut form.icon_levels).desired_width(110.0)).labelled_by(label.id).on_hover_text(T::IconLevelsHint.get(lang));
            ui.end_row();
            let label = ui.label(T::IconSteps.get(lang));
            ui.add(egui::DragValue::new(&mut form.icon_steps).range(8..=1024)).labelled_by(label.id);
            ui.end_row();
        });
        ui.horizontal(|ui| {
            let ready = data.is_some() && matches!(app.model, ModelStatus::Ready(_)) && !app.worker_busy();
            if ui.add_enabled(ready, egui::Button::new(T::Build.get(lang))).clicked() {
                app.build_atlas_from_panel();
            }
            if ui.add_enabled(app.atlas.building.is_some(), egui::Button::new(T::Cancel.get(lang))).clicked() {
                app.cancel_job();
            }
        });
    });
}

fn mosaic_ui(app: &AtlasApp, ui: &mut egui::Ui, lang: Lang) {
    if app.atlas.mosaic.is_empty() {
        ui.label(T::NoPaperViews.get(lang));
        return;
    }
    ui.label(T::MosaicNote.get(lang));
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("mosaic").num_columns(2).show(ui, |ui| {
            for (class, texture) in &app.atlas.mosaic {
                ui.label(app.class_label(*class));
                let size = texture.size_vec2() * 2.0;
                ui.add(egui::Image::new((texture.id(), size)).alt_text(app.class_label(*class)));
                ui.end_row();
            }
        });
    });
}

fn distribution_ui(app: &mut AtlasApp, ui: &mut egui::Ui, lang: Lang) {
    let Some(atlas) = app.atlas.atlas.clone() else { return };
    let Some(d) = &atlas.distribution else {
        ui.label(T::NoPaperViews.get(lang));
        return;
    };
    let classes = atlas.meta.class_names.len();
    let names: Vec<String> = (0..classes).map(|c| app.class_label(c)).collect();
    let label = ui.label(T::Rotate3d.get(lang));
    ui.add(egui::Slider::new(&mut app.atlas.yaw, 0.0..=360.0)).labelled_by(label.id);
    let yaw = app.atlas.yaw.to_radians();
    // 3-D points seen from the side, turned by `yaw` around the vertical axis.
    let project = |p: &[f32]| -> [f64; 2] {
        let (x, y, z) = (p[0] - 0.5, p[1] - 0.5, p[2] - 0.5);
        [f64::from(x * yaw.cos() + z * yaw.sin()), f64::from(-y)]
    };
    let scatter = |ui: &mut egui::Ui, id: &str, title: &str, points: Vec<[f64; 2]>| {
        ui.vertical(|ui| {
            ui.strong(title);
            Plot::new(id).width(ui.available_width().min(380.0)).height(280.0).data_aspect(1.0).legend(Legend::default()).show(ui, |plot| {
                for class in 0..classes {
                    let own: Vec<[f64; 2]> = points.iter().zip(&d.labels).filter(|(_, l)| **l as usize == class).map(|(p, _)| *p).collect();
                    plot.points(Points::new(names[class].clone(), PlotPoints::from(own)).radius(2.0).color(class_colour(class, classes)));
                }
            });
        });
    };
    let flat = |v: &[f32]| v.chunks_exact(2).map(|p| [f64::from(p[0]), -f64::from(p[1])]).collect::<Vec<_>>();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.horizontal(|ui| {
            scatter(ui, "umap2", "UMAP 2-D", flat(&d.umap2));
            scatter(ui, "tsne2", "t-SNE 2-D", flat(&d.tsne2));
        });
        ui.horizontal(|ui| {
            scatter(ui, "umap3", "UMAP 3-D", d.umap3.chunks_exact(3).map(project).collect());
            scatter(ui, "tsne3", "t-SNE 3-D", d.tsne3.chunks_exact(3).map(project).collect());
        });
    });
}
