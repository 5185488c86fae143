//! The atlas as a map in an `egui::Scene`: the grid level follows the zoom; each level's icons
//! are one mesh on one texture; class labels at the whole-map level; dropped pictures as pins;
//! hover and click inspect a cell.

use std::sync::Arc;

use eframe::egui;

use super::{AtlasPanel, Building, LevelTexture, WORLD, class_colour};
use crate::app::context::AppContext;
use crate::app::i18n::{self, Lang, T};
use crate::engine::atlas::build::AtlasFocus;
use crate::engine::atlas::cells::GridLevel;
use crate::engine::atlas::selection::points_inside;
use crate::engine::atlas::{Atlas, Stage};
use crate::worker::{AtlasJob, Job};

/// What one frame of the map needs about the level drawn.
struct LevelView<'a> {
    level: &'a GridLevel,
    size: u16,
    classes: usize,
    cell_world: f32,
    names: &'a [String],
    /// Scene units per screen pixel: sizes meant in screen pixels are multiplied by it.
    screen: f32,
}

impl LevelView<'_> {
    fn cell_rect(&self, origin: egui::Pos2, x: u16, y: u16, scale: f32) -> egui::Rect {
        let centre = origin + egui::vec2((f32::from(x) + 0.5) * self.cell_world, (f32::from(y) + 0.5) * self.cell_world);
        egui::Rect::from_center_size(centre, egui::Vec2::splat(self.cell_world * scale))
    }

    /// The cell under a point of the map.
    fn cell_at(&self, origin: egui::Pos2, pos: egui::Pos2) -> Option<usize> {
        let local = pos - origin;
        let (x, y) = ((local.x / self.cell_world).floor(), (local.y / self.cell_world).floor());
        let inside = x >= 0.0 && y >= 0.0 && x < f32::from(self.size) && y < f32::from(self.size);
        inside.then(|| self.level.cells.iter().position(|c| c.x == x as u16 && c.y == y as u16)).flatten()
    }
}

impl AtlasPanel {
    pub(super) fn map_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        self.follow_open_photo(cx);
        let lang = cx.lang;
        if let Some(building) = &self.builder.building {
            building_ui(building, ui, lang);
            return;
        }
        let Some(atlas) = self.atlas.clone() else {
            ui.centered_and_justified(|ui| {
                ui.label(egui::RichText::new(T::NoAtlas.get(lang)).size(18.0));
            });
            return;
        };
        let viewport = ui.available_rect_before_wrap();
        self.keyboard_zoom(ui);
        let pixels_per_unit = if self.map.scene_rect.width() > 0.0 {
            (viewport.width() / self.map.scene_rect.width()).min(viewport.height() / self.map.scene_rect.height())
        } else {
            viewport.width().min(viewport.height()) / WORLD
        };
        let size = self.level_for_zoom(pixels_per_unit);
        self.map.current_level = size;
        self.request_real_pictures(size, cx);
        let Some(level) = atlas.level(size) else { return };
        let classes = atlas.meta.class_names.len();
        let names = cx.labels_of(&atlas.meta.class_names);
        let view =
            LevelView { level, size, classes, cell_world: WORLD / f32::from(size), names: &names, screen: 1.0 / pixels_per_unit.max(1e-3) };
        let (hovered, clicked) = self.scene_ui(ui, &view);
        if let Some(index) = hovered {
            let cell = &level.cells[index];
            let mut text = format!("{} {}", cell.count, T::Vectors.get(lang));
            let largest = super::largest_attribution(level);
            for &(class, attribution) in &cell.top_by_attribution {
                let name = names.get(class as usize).map_or("?", String::as_str);
                text += &format!("\n{}", i18n::attribution_in_words(lang, name, attribution, largest));
            }
            if let Some(class) = self.map.tint_class.filter(|&c| c < classes) {
                let mean = mean_attribution(&atlas, &cell.members, class);
                text += &format!("\n{}", i18n::cell_attribution_to(lang, &i18n::attribution_in_words(lang, &names[class], mean, largest)));
            }
            if let Some(fidelity) = atlas.icons_of(size).and_then(|icons| {
                let slot = icons.cells.iter().position(|&c| c as usize == index)?;
                icons.fidelity.get(slot)
            }) {
                text += &format!("\n{}", i18n::icon_fidelity(lang, fidelity.cosine));
            }
            super::pointer_tooltip(ui, "atlas-cell-hover", text);
        }
        if let Some(index) = clicked {
            self.select_cell(&atlas, size, index, cx);
        }
        if let AtlasFocus::Compare { first, second, .. } = atlas.meta.params.focus
            && first < classes
            && second < classes
        {
            compare_axis_ui(ui, viewport, &i18n::compare_axis(lang, &names[first], &names[second]));
        }
    }

    /// Selects a cell and asks for the real patches behind it.
    fn select_cell(&mut self, atlas: &Arc<Atlas>, size: u16, index: usize, cx: &mut AppContext) {
        self.inspector.selected = Some((size, index));
        self.inspector.patches.clear();
        self.inspector.real_pictures = [None, None];
        self.inspector.missing_patches.clear();
        if let Some(cell) = atlas.level(size).and_then(|l| l.cells.get(index)) {
            cx.submit(Job::Atlas(AtlasJob::CellPatches { members: cell.members.clone(), limit: super::PATCHES_SHOWN }));
        }
    }

    /// Draws the map in the scene; returns the hovered and the clicked cell.
    fn scene_ui(&mut self, ui: &mut egui::Ui, view: &LevelView) -> (Option<usize>, Option<usize>) {
        let mut scene_rect = self.map.scene_rect;
        let (mut hovered, mut clicked) = (None, None);
        let selecting = self.selection.is_selecting();
        // While selecting, the left button draws; the other buttons still pan.
        let pan_buttons =
            if selecting { egui::DragPanButtons::SECONDARY | egui::DragPanButtons::MIDDLE } else { egui::DragPanButtons::all() };
        let sense = if selecting { egui::Sense::click_and_drag() } else { egui::Sense::click() };
        let scene = egui::Scene::new().zoom_range(0.05..=40.0).scroll_zooms(true).drag_pan_buttons(pan_buttons);
        scene.show(ui, &mut scene_rect, |ui| {
            let (rect, response) = ui.allocate_exact_size(egui::vec2(WORLD, WORLD), sense);
            let to_global = ui.ctx().layer_transform_to_global(ui.layer_id()).unwrap_or_default();
            self.map.to_screen = Some((to_global, rect.min));
            let painter = ui.painter().clone();
            painter.rect_filled(rect, 0.0, egui::Color32::from_rgb(18, 18, 22));
            self.cells_ui(&painter, rect.min, view);
            if Some(view.size) == self.icon_levels().first().copied() {
                class_labels_ui(ui, rect.min, view);
            }
            self.pins_ui(&painter, rect.min, view);
            self.selection_on_map_ui(&painter, rect.min, view, &response);
            hovered = response.hover_pos().and_then(|pos| view.cell_at(rect.min, pos));
            if response.clicked() {
                clicked = response.interact_pointer_pos().and_then(|pos| view.cell_at(rect.min, pos));
            }
            if let Some((level, index)) = self.inspector.selected
                && let Some(cell) = view.level.cells.get(index).filter(|_| level == view.size)
            {
                let stroke = egui::Stroke::new(2.0, egui::Color32::YELLOW);
                painter.rect_stroke(view.cell_rect(rect.min, cell.x, cell.y, 1.0), 0.0, stroke, egui::StrokeKind::Inside);
            }
        });
        self.map.scene_rect = scene_rect;
        (hovered, clicked)
    }

    /// The class colour overlay, then every icon of the level as one mesh; sparse cells as dots.
    fn cells_ui(&self, painter: &egui::Painter, origin: egui::Pos2, view: &LevelView) {
        if let (Some(class), Some(atlas)) = (self.map.tint_class.filter(|&c| c < view.classes), &self.atlas) {
            // Warm for cells that push towards the class, blue for those that push away; the
            // strongest cell of the level at full strength.
            let means: Vec<f32> = view.level.cells.iter().map(|cell| mean_attribution(atlas, &cell.members, class)).collect();
            let largest = means.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
            for (cell, mean) in view.level.cells.iter().zip(means) {
                let strength = (mean.abs() / largest).sqrt();
                let colour = if mean >= 0.0 { egui::Color32::from_rgb(255, 120, 40) } else { egui::Color32::from_rgb(60, 130, 255) };
                painter.rect_filled(view.cell_rect(origin, cell.x, cell.y, 1.0), 0.0, colour.gamma_multiply(0.75 * strength));
            }
        }
        if self.map.class_colours {
            for cell in &view.level.cells {
                if let Some(&(class, _)) = cell.top_by_attribution.first() {
                    painter.rect_filled(
                        view.cell_rect(origin, cell.x, cell.y, 1.0),
                        0.0,
                        class_colour(class as usize, view.classes).gamma_multiply(0.45),
                    );
                }
            }
        }
        let Some(level_texture) = self.level_texture(view.size) else { return };
        let mean_count = view.level.cells.iter().map(|c| c.count as f32).sum::<f32>() / view.level.cells.len().max(1) as f32;
        let mut mesh = egui::Mesh::with_texture(level_texture.texture.id());
        for (index, cell) in view.level.cells.iter().enumerate() {
            // Icon size by density, so dense regions stand out.
            let scale = (cell.count as f32 / mean_count).sqrt().clamp(0.4, 0.96);
            match level_texture.uv(index) {
                Some(uv) => mesh.add_rect_with_uv(view.cell_rect(origin, cell.x, cell.y, scale), uv, egui::Color32::WHITE),
                None => {
                    painter.circle_filled(
                        view.cell_rect(origin, cell.x, cell.y, 1.0).center(),
                        view.cell_world * 0.08,
                        egui::Color32::from_gray(90),
                    );
                }
            }
        }
        painter.add(egui::Shape::mesh(mesh));
    }

    /// Dropped pictures: a glow and a marker per vector, a pin with the thumbnail at the centre.
    /// Sizes are in screen pixels so pins stay readable at any zoom.
    fn pins_ui(&self, painter: &egui::Painter, origin: egui::Pos2, view: &LevelView) {
        let screen = view.screen;
        for dropped in self.map.dropped.iter().filter(|d| d.visible) {
            let colour = class_colour(dropped.placement.predicted_class, view.classes);
            for p in &dropped.placement.points {
                let at = origin + egui::vec2(p[0] * WORLD, p[1] * WORLD);
                painter.circle_filled(at, 7.0 * screen, colour.gamma_multiply(0.15));
                painter.circle_filled(at, 1.8 * screen, colour);
            }
            let centre = origin + egui::vec2(dropped.placement.centre[0] * WORLD, dropped.placement.centre[1] * WORLD);
            let pin = egui::Rect::from_center_size(centre - egui::vec2(0.0, 52.0 * screen), egui::Vec2::splat(64.0 * screen));
            painter.circle_filled(centre, 4.0 * screen, egui::Color32::WHITE);
            painter.line_segment([centre, pin.center_bottom()], egui::Stroke::new(2.0 * screen, egui::Color32::WHITE));
            painter.rect_filled(pin.expand(3.0 * screen), 4.0 * screen, egui::Color32::WHITE);
            painter.image(dropped.thumbnail.id(), pin, full_uv(), egui::Color32::WHITE);
            let name = view.names.get(dropped.placement.predicted_class).cloned().unwrap_or_default();
            let galley = painter.layout_no_wrap(name, egui::FontId::proportional(14.0 * screen), egui::Color32::WHITE);
            let text_rect = egui::Align2::CENTER_BOTTOM.anchor_size(pin.center_top() - egui::vec2(0.0, 5.0 * screen), galley.size());
            painter.rect_filled(text_rect.expand(2.0 * screen), 3.0 * screen, colour.gamma_multiply(0.85));
            painter.galley(text_rect.min, galley, egui::Color32::BLACK);
        }
    }

    /// The selected photos' vectors as dots; a drag with 框选 or 套索 selects the photos whose
    /// vectors it encloses.
    fn selection_on_map_ui(&mut self, painter: &egui::Painter, origin: egui::Pos2, view: &LevelView, response: &egui::Response) {
        let Some(atlas) = self.atlas.clone() else { return };
        let to_map = |pos: egui::Pos2| [f64::from((pos.x - origin.x) / WORLD), f64::from((pos.y - origin.y) / WORLD)];
        if let Some(outline) = self.selection.track("map", response, to_map) {
            let points = atlas.layout.chunks_exact(2).map(|p| [f64::from(p[0]), f64::from(p[1])]).enumerate();
            self.selection.select_vectors(&atlas, points_inside(&outline, points));
        }
        let at = |v: usize| Some(origin + egui::vec2(*atlas.layout.get(2 * v)?, *atlas.layout.get(2 * v + 1)?) * WORLD);
        for position in self.selection.vectors.iter().filter_map(|&v| at(v)) {
            painter.circle_filled(position, 1.4 * view.screen, egui::Color32::from_white_alpha(200));
        }
        if let Some(stroke) = self.selection.stroke_on("map") {
            let stroke_style = egui::Stroke::new(1.5 * view.screen, egui::Color32::from_rgb(255, 220, 60));
            painter.add(egui::Shape::line(stroke, stroke_style));
        }
    }

    /// Keys + and - zoom around the middle of the view; 0 shows the whole map. Ignored while a
    /// text field has the keyboard.
    fn keyboard_zoom(&mut self, ui: &egui::Ui) {
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
        let rect = self.map.scene_rect;
        if reset {
            // An empty rectangle makes the scene fit the whole map again.
            self.map.scene_rect = egui::Rect::ZERO;
        } else if rect.width() > 0.0 && (zoom_in || zoom_out) {
            let factor = if zoom_in { 1.0 / 1.5 } else { 1.5 };
            let size = (rect.size() * factor).clamp(egui::Vec2::splat(WORLD / 200.0), egui::Vec2::splat(WORLD * 20.0));
            self.map.scene_rect = egui::Rect::from_center_size(rect.center(), size);
        }
    }
}

impl LevelTexture {
    /// Where cell `index`'s icon is in the texture, if it has one.
    pub(super) fn uv(&self, index: usize) -> Option<egui::Rect> {
        let &slot = self.slots.get(&index)?;
        let size = self.texture.size_vec2();
        let px = self.icon_px as f32;
        let (col, row) = ((slot % self.columns) as f32, (slot / self.columns) as f32);
        Some(egui::Rect::from_min_size(egui::pos2(col * px / size.x, row * px / size.y), egui::vec2(px / size.x, px / size.y)))
    }
}

pub(super) fn full_uv() -> egui::Rect {
    egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0))
}

/// Each class named on its densest cell; a label that would cover an earlier (denser) one moves
/// aside, or to the class's next densest cell, else is left out. The names are labels, so screen
/// readers (and tests) find them.
fn class_labels_ui(ui: &mut egui::Ui, origin: egui::Pos2, view: &LevelView) {
    // Per class, the cells it leads, densest first.
    let mut led: Vec<Vec<(u16, u16, u32)>> = vec![Vec::new(); view.classes];
    for cell in &view.level.cells {
        if let Some(&(class, _)) = cell.top_by_attribution.first()
            && let Some(cells) = led.get_mut(class as usize)
        {
            cells.push((cell.x, cell.y, cell.count));
        }
    }
    for cells in &mut led {
        cells.sort_by_key(|&(_, _, count)| std::cmp::Reverse(count));
    }
    let mut order: Vec<usize> = (0..view.classes).filter(|&c| !led[c].is_empty()).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(led[c][0].2));
    let offsets = [(0.0, 0.0), (0.0, 0.3), (0.0, -0.3), (0.5, 0.3), (-0.5, 0.3), (0.5, -0.3), (-0.5, -0.3), (0.0, 0.42), (0.0, -0.42)];
    let font = egui::FontId::proportional(view.cell_world * 0.28);
    let mut taken: Vec<egui::Rect> = Vec::new();
    let visible = ui.clip_rect();
    for class in order {
        let size = ui.painter().layout_no_wrap(view.names[class].clone(), font.clone(), egui::Color32::WHITE).size();
        let spot = led[class].iter().find_map(|&(x, y, _)| {
            let centre = view.cell_rect(origin, x, y, 1.0).center();
            offsets
                .into_iter()
                .map(|(dx, dy)| {
                    let rect = egui::Align2::CENTER_CENTER.anchor_size(centre + egui::vec2(dx, dy) * view.cell_world, size).expand(2.0);
                    // A cell at the map's edge keeps its whole label in view.
                    shift_inside(rect, visible)
                })
                .find(|r| taken.iter().all(|t| !t.intersects(*r)))
        });
        if let Some(text_rect) = spot {
            taken.push(text_rect);
            ui.painter().rect_filled(text_rect, 3.0, egui::Color32::from_black_alpha(150));
            let text = egui::RichText::new(&view.names[class]).font(font.clone()).color(egui::Color32::WHITE);
            ui.put(text_rect.shrink(2.0), egui::Label::new(text).selectable(false).extend());
        }
    }
}

/// `rect` moved the least so that it lies inside `bounds` (where it fits).
fn shift_inside(rect: egui::Rect, bounds: egui::Rect) -> egui::Rect {
    let dx = (bounds.left() - rect.left()).max(0.0) + (bounds.right() - rect.right()).min(0.0);
    let dy = (bounds.top() - rect.top()).max(0.0) + (bounds.bottom() - rect.bottom()).min(0.0);
    rect.translate(egui::vec2(dx, dy))
}

/// The mean attribution to `class` of the vectors `members`.
pub(super) fn mean_attribution(atlas: &Atlas, members: &[u32], class: usize) -> f32 {
    let collected = &atlas.collected;
    let sum: f32 = members.iter().filter_map(|&m| collected.attribution_of(m as usize).get(class)).sum();
    sum / members.len().max(1) as f32
}

/// What the x axis of a two-class comparison means, along the bottom of the map.
fn compare_axis_ui(ui: &egui::Ui, viewport: egui::Rect, text: &str) {
    egui::Area::new(egui::Id::unique("atlas-compare-axis"))
        .order(egui::Order::Foreground)
        .pivot(egui::Align2::CENTER_BOTTOM)
        .fixed_pos(viewport.center_bottom() + egui::vec2(0.0, -8.0))
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::new().fill(egui::Color32::from_black_alpha(170)).corner_radius(3.0).inner_margin(4.0).show(ui, |ui| {
                ui.label(egui::RichText::new(text).color(egui::Color32::WHITE).size(14.0));
            });
        });
}

/// A build in progress: stage and progress, the layout as it optimises, icons as they come.
fn building_ui(building: &Building, ui: &mut egui::Ui, lang: Lang) {
    let stage = match building.stage {
        Stage::Collect => T::StageCollect,
        Stage::Neighbours => T::StageNeighbours,
        Stage::Layout => T::StageLayout,
        Stage::Cells => T::StageCells,
        Stage::PaperViews => T::StagePaperViews,
        Stage::Icons => T::StageIcons,
    };
    let fraction = building.done as f32 / building.total.max(1) as f32;
    // Time left in this stage, from its pace so far (shown once there is a pace to go by).
    let elapsed = building.stage_started.elapsed().as_secs_f64();
    let left = (building.done > 0 && elapsed > 1.0)
        .then(|| elapsed * (building.total.saturating_sub(building.done)) as f64 / building.done as f64)
        .map(|seconds| format!(" · {}", i18n::time_left(lang, std::time::Duration::from_secs_f64(seconds))))
        .unwrap_or_default();
    ui.add(egui::ProgressBar::new(fraction).text(format!("{} {}/{}{left}", stage.get(lang), building.done, building.total)));
    let (rect, _) = ui.allocate_exact_size(ui.available_size(), egui::Sense::hover());
    let side = rect.width().min(rect.height());
    let area = egui::Rect::from_min_size(rect.min, egui::vec2(side, side));
    let painter = ui.painter_at(area);
    painter.rect_filled(area, 0.0, egui::Color32::from_rgb(18, 18, 22));
    // Positions only: cells and classes come later.
    for p in building.layout.chunks_exact(2).step_by(2) {
        painter.circle_filled(area.min + egui::vec2(p[0], p[1]) * side, 1.0, egui::Color32::from_rgb(120, 170, 255));
    }
    if let Some(&(coarsest, _, _)) = building.icons.iter().min_by_key(|(l, _, _)| *l) {
        let cell = side / f32::from(coarsest);
        for (_, [x, y], texture) in building.icons.iter().filter(|(l, _, _)| *l == coarsest) {
            let r = egui::Rect::from_min_size(area.min + egui::vec2(f32::from(*x) * cell, f32::from(*y) * cell), egui::vec2(cell, cell));
            painter.image(texture.id(), r.shrink(cell * 0.05), full_uv(), egui::Color32::WHITE);
        }
    }
}
