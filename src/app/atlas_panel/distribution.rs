//! 数据分布: the paper's four views of the images (UMAP and t-SNE, 2-D and 3-D) with one legend
//! beside them instead of four over them: classes shown or hidden by a click or a search, names in
//! the window's language, hover for a photo's thumbnail, click to open it in 分类; the photo open
//! in 分类 is ringed in every view.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use egui_plot::{Plot, PlotPoint, PlotPoints, Points};

use super::selection::paint_stroke;
use super::{AtlasPanel, class_colour};
use crate::app::context::{AppAction, AppContext};
use crate::app::i18n::T;
use crate::engine::atlas::Atlas;
use crate::engine::atlas::selection::points_inside;
use crate::engine::atlas::views::{
    Distribution, FramedPoints, TSNE_ITERATIONS, UMAP_MIN_DIST, UMAP_NEIGHBOURS, frame_robustly, pinned_points, tsne_perplexity,
};

/// Pointer distance (points) within which a point counts as hovered.
const HOVER_RADIUS: f32 = 6.0;
/// Thumbnails kept for hovered points.
const THUMBNAILS_KEPT: usize = 256;

#[derive(Default)]
pub struct DistributionState {
    /// Classes hidden from the plots (by index).
    pub hidden: Vec<bool>,
    /// Shows only classes whose name contains this (any language, any case).
    pub search: String,
    /// The image under the pointer in the last frame.
    pub hovered: Option<usize>,
    thumbnails: HashMap<usize, egui::TextureHandle>,
    /// The photo open in 分类 and its image index in the atlas, worked out when it changes.
    open_photo: Option<(PathBuf, Option<usize>)>,
    /// Each view's plot-to-screen transform in the last frame.
    transforms: HashMap<&'static str, egui_plot::PlotTransform>,
}

impl DistributionState {
    /// The atlas image that is the photo open in 分类 (ringed in the views), if it is one.
    pub fn open_photo_index(&self) -> Option<usize> {
        self.open_photo.as_ref().and_then(|(_, index)| *index)
    }

    /// Where a point of view `view` (in its units, see [`view_points`]) was on screen in the last
    /// frame.
    pub fn screen_position(&self, view: &str, point: [f64; 2]) -> Option<egui::Pos2> {
        Some(self.transforms.get(view)?.position_from_point(&PlotPoint::new(point[0], point[1])))
    }

    /// Whether image `index`'s thumbnail has been made (shown on hover).
    pub fn has_thumbnail(&self, index: usize) -> bool {
        self.thumbnails.contains_key(&index)
    }

    /// Whether `class` is drawn: not hidden, and its names (`searchable`: both languages and
    /// the id, lower case) contain the search.
    fn shown(&self, class: usize, searchable: &[String]) -> bool {
        if self.hidden.get(class).copied().unwrap_or(false) {
            return false;
        }
        let needle = self.search.trim().to_lowercase();
        needle.is_empty() || searchable.get(class).is_some_and(|n| n.contains(&needle))
    }

    fn thumbnail(&mut self, ctx: &egui::Context, atlas: &Atlas, image: usize) -> Option<egui::TextureHandle> {
        if let Some(texture) = self.thumbnails.get(&image) {
            return Some(texture.clone());
        }
        // A 100x100 JPEG from the atlas file: well under a millisecond to decode.
        let picture = atlas.images.as_ref()?.image(image)?;
        if self.thumbnails.len() >= THUMBNAILS_KEPT {
            self.thumbnails.clear();
        }
        let colour = egui::ColorImage::from_rgb([picture.width() as usize, picture.height() as usize], picture.as_raw());
        let texture = ctx.load_texture(format!("distribution-{image}"), colour, egui::TextureOptions::LINEAR);
        self.thumbnails.insert(image, texture.clone());
        Some(texture)
    }
}

/// The four views: id and title.
pub const VIEWS: [(&str, &str); 4] = [("umap2", "UMAP 2-D"), ("tsne2", "t-SNE 2-D"), ("umap3", "UMAP 3-D"), ("tsne3", "t-SNE 3-D")];

/// Every image's point in view `id` (one of [`VIEWS`]), in plot units: 2-D views with y up, 3-D
/// views seen from the side, turned by `yaw_degrees` around the vertical axis.
pub fn view_points(d: &Distribution, id: &str, yaw_degrees: f32) -> Vec<[f64; 2]> {
    let yaw = yaw_degrees.to_radians();
    let project = |p: &[f32]| -> [f64; 2] {
        let (x, y, z) = (p[0] - 0.5, p[1] - 0.5, p[2] - 0.5);
        [f64::from(x * yaw.cos() + z * yaw.sin()), f64::from(-y)]
    };
    let flat = |v: &[f32]| v.chunks_exact(2).map(|p| [f64::from(p[0]), -f64::from(p[1])]).collect::<Vec<_>>();
    match id {
        "umap2" => flat(&d.umap2),
        "tsne2" => flat(&d.tsne2),
        "umap3" => d.umap3.chunks_exact(3).map(project).collect(),
        "tsne3" => d.tsne3.chunks_exact(3).map(project).collect(),
        _ => Vec::new(),
    }
}

/// Every image's point in view `id` as drawn: framed by [`frame_robustly`], far points on the edge.
pub fn drawn_points(d: &Distribution, id: &str, yaw_degrees: f32) -> FramedPoints {
    let pinned = match id {
        "umap2" => pinned_points(&d.umap2, 2),
        "tsne2" => pinned_points(&d.tsne2, 2),
        "umap3" => pinned_points(&d.umap3, 3),
        "tsne3" => pinned_points(&d.tsne3, 3),
        _ => Vec::new(),
    };
    frame_robustly(&view_points(d, id, yaw_degrees), &pinned)
}

/// The settings that made view `id`, in words with their numbers.
fn view_settings(id: &str, images: usize, lang: crate::app::i18n::Lang) -> String {
    if id.starts_with("umap") {
        T::UmapSettings.get(lang).replace("{k}", &UMAP_NEIGHBOURS.to_string()).replace("{d}", &UMAP_MIN_DIST.to_string())
    } else {
        T::TsneSettings.get(lang).replace("{p}", &format!("{:.0}", tsne_perplexity(images))).replace("{n}", &TSNE_ITERATIONS.to_string())
    }
}

/// The photos a view rings: the selection, the photo open in 分类 and the one under the pointer.
struct Marks<'a> {
    selected: &'a [usize],
    open: Option<usize>,
    hovered: Option<usize>,
}

/// One view's points, class by class in the class's colour (far ones as hollow diamonds on the
/// frame's edge), and its rings.
fn draw_view(plot: &mut egui_plot::PlotUi, framed: &FramedPoints, labels: &[u16], names: &[String], shown: &[bool], marks: &Marks) {
    let points = &framed.points;
    let classes = names.len();
    for (class, name) in names.iter().enumerate().filter(|(c, _)| shown[*c]) {
        let colour = class_colour(class, classes);
        let (inside, beyond): (Vec<_>, Vec<_>) =
            (0..points.len()).filter(|&image| labels[image] as usize == class).partition(|&image| !framed.outside[image]);
        let at = |images: Vec<usize>| PlotPoints::from(images.iter().map(|&i| points[i]).collect::<Vec<_>>());
        plot.points(Points::new(name.clone(), at(inside)).radius(2.0).color(colour));
        let far = Points::new(name.clone(), at(beyond)).radius(3.5).filled(false).color(colour);
        plot.points(far.shape(egui_plot::MarkerShape::Diamond));
    }
    if !marks.selected.is_empty() {
        let marked: Vec<[f64; 2]> = marks.selected.iter().filter_map(|&i| points.get(i).copied()).collect();
        plot.points(Points::new("", PlotPoints::from(marked)).radius(3.5).filled(false).color(egui::Color32::WHITE));
    }
    let ring = |index: usize, colour: egui::Color32| {
        Points::new("", PlotPoints::from(vec![points[index]])).radius(6.0).filled(false).color(colour)
    };
    if let Some(index) = marks.open.filter(|&i| i < points.len()) {
        plot.points(ring(index, egui::Color32::WHITE));
    }
    if let Some(index) = marks.hovered.filter(|&i| i < points.len()) {
        plot.points(ring(index, egui::Color32::YELLOW));
    }
}

/// Each class's names in both languages ("雏菊 daisy"), and the same with its id in lower case,
/// for the search.
fn class_names_both(atlas: &Atlas, cx: &AppContext) -> (Vec<String>, Vec<String>) {
    atlas
        .meta
        .class_names
        .iter()
        .map(|id| {
            let (main, secondary) = cx.class_names_of(id);
            let both = if secondary.is_empty() || secondary == main { main } else { format!("{main} {secondary}") };
            let searchable = format!("{both} {id}").to_lowercase();
            (both, searchable)
        })
        .unzip()
}

impl AtlasPanel {
    pub(super) fn distribution_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        let Some(atlas) = self.atlas.clone() else { return };
        let Some(d) = &atlas.distribution else {
            ui.label(T::NoPaperViews.get(lang));
            return;
        };
        let classes = atlas.meta.class_names.len();
        let names = cx.labels_of(&atlas.meta.class_names);
        self.distribution.hidden.resize(classes, false);
        self.update_open_photo(&atlas, cx);
        let (_, searchable) = class_names_both(&atlas, cx);
        let shown: Vec<bool> = (0..classes).map(|c| self.distribution.shown(c, &searchable)).collect();
        let label = ui.label(T::Rotate3d.get(lang));
        ui.add(egui::Slider::new(&mut self.paper.yaw, 0.0..=360.0)).labelled_by(label.id);
        let views = VIEWS.map(|(id, title)| (id, title, drawn_points(d, id, self.paper.yaw)));
        let open_index = self.distribution.open_photo.as_ref().and_then(|(_, i)| *i);
        // Two rows of two plots (each 0.8 as high as wide, under a title): as wide as fits both
        // across and both rows down, so all four views show without scrolling where they can.
        let fits_across = (ui.available_width() - 24.0) / 2.0;
        let fits_down = ((ui.available_height() - 2.0 * 28.0) / 2.0) / 0.8;
        let side = fits_across.min(fits_down).clamp(200.0, 520.0);
        let mut hovered = None;
        let mut clicked = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("distribution-views").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
                for (i, (id, title, framed)) in views.iter().enumerate() {
                    let points = &framed.points;
                    ui.vertical(|ui| {
                        ui.set_max_width(side);
                        ui.strong(*title);
                        ui.weak(view_settings(id, d.labels.len(), lang));
                        let selecting = self.selection.is_selecting();
                        let selected = &self.selection.images;
                        let plot = Plot::new(*id).width(side).height(side * 0.8).data_aspect(1.0);
                        let plot = plot.allow_drag(!selecting).allow_boxed_zoom(!selecting);
                        let marks = Marks { selected, open: open_index, hovered: self.distribution.hovered };
                        let response = plot.show(ui, |plot| draw_view(plot, framed, &d.labels, &names, &shown, &marks));
                        let transform = response.transform;
                        let to_view = |pos: egui::Pos2| {
                            let p = transform.value_from_position(pos);
                            [p.x, p.y]
                        };
                        if let Some(outline) = self.selection.track(id, &response.response, to_view) {
                            let candidates = points.iter().copied().enumerate().filter(|(image, _)| {
                                d.labels.get(*image).is_some_and(|&l| shown.get(l as usize).copied().unwrap_or(false))
                            });
                            self.selection.select_photos(&atlas, points_inside(&outline, candidates));
                        }
                        if let Some(stroke) = self.selection.stroke_on(id) {
                            paint_stroke(&ui.painter_at(response.response.rect), stroke);
                        }
                        self.distribution.transforms.insert(*id, transform);
                        // The nearest shown point to the pointer, in screen distance.
                        if let Some(pointer) = response.response.hover_pos() {
                            let near = points
                                .iter()
                                .enumerate()
                                .filter(|(image, _)| shown.get(d.labels[*image] as usize).copied().unwrap_or(false))
                                .map(|(image, p)| {
                                    (image, response.transform.position_from_point(&PlotPoint::new(p[0], p[1])).distance(pointer))
                                })
                                .filter(|(_, distance)| *distance <= HOVER_RADIUS)
                                .min_by(|a, b| a.1.total_cmp(&b.1))
                                .map(|(image, _)| image);
                            hovered = near;
                            if near.is_some() && response.response.clicked() && self.selection.stroke_on(id).is_none() {
                                clicked = near;
                            }
                        }
                    });
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
            if views.iter().any(|(_, _, framed)| framed.outside.iter().any(|&o| o)) {
                ui.weak(T::OutliersOnTheEdge.get(lang));
            }
        });
        self.hover_and_click_ui(ui, cx, &atlas, &names, hovered, clicked);
    }

    /// The photo under the pointer as a tooltip; a click opens it in 分类.
    fn hover_and_click_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut AppContext,
        atlas: &Arc<Atlas>,
        names: &[String],
        hovered: Option<usize>,
        clicked: Option<usize>,
    ) {
        let lang = cx.lang;
        let Some(d) = &atlas.distribution else { return };
        self.distribution.hovered = hovered;
        if let Some(image) = hovered {
            let thumbnail = self.distribution.thumbnail(ui.ctx(), atlas, image);
            let class = d.labels[image] as usize;
            let file = atlas.meta.image_paths.get(image).and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
            egui::Tooltip::always_open(ui.ctx().clone(), ui.layer_id(), egui::Id::unique("distribution-hover"), egui::PopupAnchor::Pointer)
                .show(|ui| {
                    if let Some(texture) = &thumbnail {
                        ui.add(egui::Image::new((texture.id(), egui::vec2(100.0, 100.0))));
                    }
                    ui.strong(names.get(class).cloned().unwrap_or_default());
                    if let Some(file) = file {
                        ui.small(file);
                    }
                    ui.small(T::ClickToOpenInClassify.get(lang));
                });
        }
        if let Some(image) = clicked {
            match crate::engine::atlas::selection::image_file_here(atlas, image, &self.photo_folders(cx)) {
                Some(path) => cx.actions.push(AppAction::OpenPhoto(path)),
                None => cx.messages.notice = Some(T::PhotoFileNotHere.get(lang).to_string()),
            }
        }
    }

    /// Which atlas image is the photo open in 分类 (by its file), when that photo changes.
    fn update_open_photo(&mut self, atlas: &Atlas, cx: &AppContext) {
        let Some(photo) = cx.photo.clone() else {
            self.distribution.open_photo = None;
            return;
        };
        if self.distribution.open_photo.as_ref().is_some_and(|(path, _)| *path == photo) {
            return;
        }
        // By path (only `photo_folders` asks the disk, once per photo): where the atlas records
        // it, or inside one of the folders its photos may be in.
        let folders = self.photo_folders(cx);
        let inside_folder = |i: usize| {
            let inside = atlas.meta.image_paths.get(i);
            inside.is_some_and(|inside| folders.iter().any(|dir| dir.join(inside) == photo))
        };
        let index = (0..atlas.meta.image_paths.len()).find(|&i| atlas.meta.image_file(i).as_ref() == Some(&photo) || inside_folder(i));
        self.distribution.open_photo = Some((photo, index));
    }

    /// The side panel of 数据分布: its legend, class filter and search.
    pub(super) fn distribution_side_ui(&mut self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        let Some(atlas) = self.atlas.clone() else { return };
        let classes = atlas.meta.class_names.len();
        let (names, searchable) = class_names_both(&atlas, cx);
        self.distribution.hidden.resize(classes, false);
        let counts: Vec<usize> = (0..classes)
            .map(|c| atlas.distribution.as_ref().map_or(0, |d| d.labels.iter().filter(|&&l| l as usize == c).count()))
            .collect();
        ui.strong(T::TimelineLegend.get(lang));
        ui.horizontal(|ui| {
            let label = ui.label(T::SearchClasses.get(lang));
            ui.add(egui::TextEdit::singleline(&mut self.distribution.search).desired_width(150.0)).labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            if ui.small_button(T::ShowAllClasses.get(lang)).clicked() {
                self.distribution.hidden.iter_mut().for_each(|h| *h = false);
            }
            if ui.small_button(T::HideAllClasses.get(lang)).clicked() {
                self.distribution.hidden.iter_mut().for_each(|h| *h = true);
            }
        });
        for (class, name) in names.iter().enumerate() {
            if !self.distribution.search.trim().is_empty()
                && !self.distribution.shown(class, &searchable)
                && !self.distribution.hidden[class]
            {
                // Searched away: not listed (hidden ones stay, to be ticked again).
                continue;
            }
            ui.horizontal(|ui| {
                let mut visible = !self.distribution.hidden[class];
                let (dot, painter) = ui.allocate_painter(egui::vec2(12.0, 12.0), egui::Sense::hover());
                painter.circle_filled(dot.rect.center(), 5.0, class_colour(class, classes));
                if ui.checkbox(&mut visible, format!("{name} ({})", counts[class])).changed() {
                    self.distribution.hidden[class] = !visible;
                }
            });
        }
        ui.separator();
        ui.small(T::DistributionHint.get(lang));
    }
}
