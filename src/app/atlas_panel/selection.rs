//! Selecting photos on the atlas map and in 数据分布: with 框选 or 套索 chosen, a drag draws a box
//! or a free outline; the photos inside become the selection, shown as a grid in the side panel
//! (a click opens one in 分类 and 解释), exported as a CSV or JSON list, or copied to a folder.

use std::collections::HashMap;
use std::path::PathBuf;

use eframe::egui;

use super::AtlasPanel;
use crate::app::context::{AppAction, AppContext};
use crate::app::dialogs::DialogKind;
use crate::app::i18n::{self, T};
use crate::app::photo_button::photo_button;
use crate::engine::atlas::Atlas;
use crate::engine::atlas::selection::{box_polygon, images_of_vectors};
use crate::worker::{AtlasJob, Job, JobId, Selection};

/// Photos drawn in the selection grid; the rest are counted and exported, not drawn.
const GRID_SHOWN: usize = 120;
/// Side of a photo in the grid, in points.
const GRID_SIDE: f32 = 56.0;
/// Screen distance between recorded lasso points, so an outline stays a few hundred points long.
const LASSO_STEP_PX: f32 = 3.0;

/// What a drag over the map or a distribution view does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelectTool {
    /// Drag moves the view (no selection).
    #[default]
    Pan,
    /// Drag draws a rectangle.
    Box,
    /// Drag draws a free outline.
    Lasso,
}

/// An outline being drawn: the view it is drawn on, its points in screen and in view units.
struct Stroke {
    view: &'static str,
    screen: Vec<egui::Pos2>,
    units: Vec<[f64; 2]>,
}

#[derive(Default)]
pub struct SelectionState {
    pub tool: SelectTool,
    /// The outline being drawn.
    stroke: Option<Stroke>,
    /// The last finished outline, in the units of the view it was drawn on (closed polygon).
    pub last_outline: Option<(&'static str, Vec<[f64; 2]>)>,
    /// The selected photos, by atlas image index, in order.
    pub images: Vec<usize>,
    /// Which atlas vectors belong to the selected photos (drawn on the map).
    pub vectors: Vec<usize>,
    /// The class of each selected photo, in the order of `images` (found once per selection: it
    /// takes a pass over every vector).
    classes: Vec<Option<u16>>,
    thumbnails: HashMap<usize, egui::TextureHandle>,
    pub copying: Option<JobId>,
}

impl SelectionState {
    pub fn is_selecting(&self) -> bool {
        self.tool != SelectTool::Pan
    }

    /// Follows a drag over view `view` (`to_view`: screen position to view units). Returns the
    /// closed outline, in view units, when the drag ends.
    pub fn track(
        &mut self,
        view: &'static str,
        response: &egui::Response,
        to_view: impl Fn(egui::Pos2) -> [f64; 2],
    ) -> Option<Vec<[f64; 2]>> {
        if !self.is_selecting() {
            return None;
        }
        let pointer = response.interact_pointer_pos().or_else(|| response.hover_pos());
        // A drag is recognised only once the pointer has moved a few points; the outline starts
        // where the button went down, not where the drag was recognised. The input gives that
        // place on the screen; the response's positions are in its layer's coordinates, which a
        // zoomed or panned map (a transformed layer) makes different.
        let to_layer = response.ctx.layer_transform_from_global(response.layer_id).unwrap_or_default();
        let origin = response.ctx.input(|i| i.pointer.press_origin()).map(|at| to_layer * at);
        if response.drag_started()
            && let Some(at) = origin.or(pointer)
        {
            self.stroke = Some(Stroke { view, screen: vec![at], units: vec![to_view(at)] });
        }
        let ours = self.stroke.as_ref().is_some_and(|s| s.view == view);
        if ours
            && response.dragged()
            && let (Some(at), Some(Stroke { screen, units, .. })) = (pointer, self.stroke.as_mut())
        {
            match self.tool {
                SelectTool::Box => {
                    screen.truncate(1);
                    units.truncate(1);
                    screen.push(at);
                    units.push(to_view(at));
                }
                _ if screen.last().is_none_or(|last| last.distance(at) >= LASSO_STEP_PX) => {
                    screen.push(at);
                    units.push(to_view(at));
                }
                _ => {}
            }
        }
        if ours && (response.drag_stopped() || !response.ctx.input(|i| i.pointer.any_down())) {
            let units = self.stroke.take()?.units;
            let outline = match self.tool {
                SelectTool::Box if units.len() >= 2 => box_polygon(units[0], units[units.len() - 1]),
                _ => units,
            };
            self.last_outline = Some((view, outline.clone()));
            // The side panel may have been drawn before this view in this frame: draw again so
            // it shows the new selection without waiting for the next input.
            response.ctx.request_repaint();
            return Some(outline);
        }
        None
    }

    /// The outline being drawn on `view`, in screen points, to draw over it.
    pub fn stroke_on(&self, view: &str) -> Option<Vec<egui::Pos2>> {
        let Stroke { view: drawn_on, screen, .. } = self.stroke.as_ref()?;
        if *drawn_on != view {
            return None;
        }
        Some(match (self.tool, screen.as_slice()) {
            (SelectTool::Box, [a, .., b]) => {
                let r = egui::Rect::from_two_pos(*a, *b);
                vec![r.left_top(), r.right_top(), r.right_bottom(), r.left_bottom(), r.left_top()]
            }
            _ => screen.clone(),
        })
    }

    /// Makes `images` the selection, in index order; the map marks all their vectors.
    pub fn select_photos(&mut self, atlas: &Atlas, mut images: Vec<usize>) {
        images.sort_unstable();
        images.dedup();
        let chosen = self.chosen(atlas, &images);
        self.vectors = (0..atlas.collected.len()).filter(|&v| chosen.get(atlas.collected.image[v] as usize) == Some(&true)).collect();
        self.images = images;
    }

    /// The photos of the map's `vectors` become the selection, those with the most of them
    /// first; the map marks only these vectors (a photo's other vectors lie all over the map).
    pub fn select_vectors(&mut self, atlas: &Atlas, vectors: Vec<usize>) {
        let images = images_of_vectors(atlas, &vectors);
        self.chosen(atlas, &images);
        self.vectors = vectors;
        self.images = images;
    }

    /// Marks of `images` by image index; their classes are noted and thumbnails of photos no
    /// longer selected are dropped.
    fn chosen(&mut self, atlas: &Atlas, images: &[usize]) -> Vec<bool> {
        let mut chosen = vec![false; atlas.meta.image_paths.len()];
        for &i in images {
            if let Some(slot) = chosen.get_mut(i) {
                *slot = true;
            }
        }
        let mut class_of = vec![None; chosen.len()];
        for (&image, &label) in atlas.collected.image.iter().zip(&atlas.collected.label) {
            if chosen.get(image as usize) == Some(&true) {
                class_of[image as usize] = Some(label);
            }
        }
        self.classes = images.iter().map(|&i| class_of.get(i).copied().flatten()).collect();
        self.thumbnails.retain(|index, _| chosen.get(*index) == Some(&true));
        chosen
    }

    pub fn clear(&mut self) {
        self.images.clear();
        self.vectors.clear();
        self.classes.clear();
        self.thumbnails.clear();
        self.last_outline = None;
    }

    fn thumbnail(&mut self, ctx: &egui::Context, atlas: &Atlas, image: usize) -> Option<egui::TextureHandle> {
        if let Some(texture) = self.thumbnails.get(&image) {
            return Some(texture.clone());
        }
        let picture = atlas.images.as_ref()?.image(image)?;
        let colour = egui::ColorImage::from_rgb([picture.width() as usize, picture.height() as usize], picture.as_raw());
        let texture = ctx.load_texture(format!("selection-{image}"), colour, egui::TextureOptions::LINEAR);
        self.thumbnails.insert(image, texture.clone());
        Some(texture)
    }
}

/// Draws an outline in screen points (over a plot or the map's viewport).
pub fn paint_stroke(painter: &egui::Painter, points: Vec<egui::Pos2>) {
    if points.len() >= 2 {
        painter.add(egui::Shape::line(points, egui::Stroke::new(1.5, egui::Color32::from_rgb(255, 220, 60))));
    }
}

impl AtlasPanel {
    /// The tool row (平移 / 框选 / 套索) above the map and the distribution views.
    pub(super) fn select_tool_ui(&mut self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        let tool = &mut self.selection.tool;
        ui.label(T::SelectTool.get(lang));
        ui.selectable_value(tool, SelectTool::Pan, T::ToolPan.get(lang));
        ui.selectable_value(tool, SelectTool::Box, T::ToolBox.get(lang));
        ui.selectable_value(tool, SelectTool::Lasso, T::ToolLasso.get(lang));
    }

    /// The selection in the side panel: count, export, copy, and the grid of its photos.
    pub(super) fn selection_side_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        if self.selection.is_selecting() && self.selection.images.is_empty() {
            ui.small(T::SelectionHint.get(lang));
            ui.separator();
        }
        let Some(atlas) = self.atlas.clone() else { return };
        if self.selection.images.is_empty() {
            return;
        }
        ui.horizontal(|ui| {
            ui.strong(i18n::selected_photos(lang, self.selection.images.len()));
            if ui.small_button(T::ClearSelection.get(lang)).clicked() {
                self.selection.clear();
            }
        });
        if self.selection.images.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            if ui.button(T::ExportSelectionList.get(lang)).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ExportSelection));
            }
            let copying = self.selection.copying.is_some();
            if ui.add_enabled(!copying, egui::Button::new(T::CopySelectedPhotos.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::PickCopyFolder));
            }
        });
        let images = self.selection.images.clone();
        let names = cx.labels_of(&atlas.meta.class_names);
        let folders = self.photo_folders(cx);
        egui::ScrollArea::vertical().id_salt("selection-grid").max_height(320.0).show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                for (position, &image) in images.iter().enumerate().take(GRID_SHOWN) {
                    let file = atlas.meta.image_paths.get(image).and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
                    let file = file.unwrap_or_default();
                    let texture = self.selection.thumbnail(ui.ctx(), &atlas, image).map(|texture| texture.id());
                    let response = photo_button(ui, texture, GRID_SIDE, &file);
                    let class = self.selection.classes.get(position).copied().flatten();
                    let class = class.and_then(|c| names.get(c as usize)).cloned().unwrap_or_default();
                    if response.on_hover_text(format!("{file}\n{class}")).clicked() {
                        match crate::engine::atlas::selection::image_file_here(&atlas, image, &folders) {
                            Some(path) => cx.actions.push(AppAction::ExplainPhoto(path)),
                            None => cx.messages.notice = Some(T::PhotoFileNotHere.get(lang).to_string()),
                        }
                    }
                }
            });
            if images.len() > GRID_SHOWN {
                ui.small(i18n::more_photos_not_drawn(lang, images.len() - GRID_SHOWN));
            }
        });
        ui.separator();
    }

    /// A chosen file for the list or a folder for the copies.
    pub(super) fn selection_dialog_answered(&mut self, kind: DialogKind, path: PathBuf, cx: &mut AppContext) {
        let Some(atlas) = self.atlas.clone() else { return };
        if self.selection.images.is_empty() {
            return;
        }
        let selection = Selection { atlas, images: self.selection.images.clone(), fallback_dirs: self.photo_folders(cx) };
        match kind {
            DialogKind::ExportSelection => {
                cx.submit(Job::Atlas(AtlasJob::SaveSelection { selection, path }));
            }
            DialogKind::PickCopyFolder => {
                self.selection.copying = cx.submit(Job::Atlas(AtlasJob::CopySelection { selection, dest: path }));
            }
            _ => {}
        }
    }
}
