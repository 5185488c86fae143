//! 时间线: the atlas timeline of a training run. A slider scrubs through the epochs (points glide
//! between checkpoints), a play button runs it, the legend stays outside the plot, hovering a
//! point names its class and photo, and the animation can be exported as a GIF or APNG.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

use super::{AtlasPanel, class_colour};
use crate::app::context::{AppAction, AppContext};
use crate::app::dialogs::DialogKind;
use crate::app::i18n::T;
use crate::engine::atlas::animation::AnimationOptions;
use crate::engine::atlas::timeline::{Timeline, TimelineParams};
use crate::worker::{Job, JobId, TimelineJob, TimelineJobEvent};

/// Seconds a played timeline spends on each checkpoint.
const PLAY_SECONDS_PER_FRAME: f32 = 0.8;
/// Grids a frame can be drawn as an atlas of patches in (cells per side).
const ATLAS_GRIDS: [usize; 3] = [10, 20, 40];
/// A cell of a frame's atlas is drawn when at least this many points fall in it.
const ATLAS_MIN_POINTS: usize = 3;

/// How a frame is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimelineLook {
    /// An atlas: a grid of cells, each showing the real photo patch that stands for it.
    #[default]
    Atlas,
    /// Every point, in its class's colour.
    Points,
}

/// A timeline being made: which frame, and whether it waits for the run to save the next.
pub struct TimelineBuilding {
    pub job: JobId,
    pub frame: usize,
    pub frames: usize,
    pub epoch: u32,
    pub waiting: bool,
    pub follows_run: bool,
}

pub struct TimelineState {
    pub timeline: Option<Arc<Timeline>>,
    pub path: Option<PathBuf>,
    /// Where the slider is: a frame index, fractional between frames.
    pub at: f32,
    pub playing: bool,
    pub building: Option<TimelineBuilding>,
    exporting: Option<JobId>,
    /// The point under the pointer in the last frame drawn.
    pub hovered: Option<usize>,
    /// Of the timeline shown, worked out once: its bounds and each frame's movement.
    bounds: [f32; 4],
    movements: Vec<f32>,
    draw_order: Vec<usize>,
    pub look: TimelineLook,
    /// Cells per side when drawn as an atlas (one of [`ATLAS_GRIDS`]).
    pub grid: usize,
    /// The atlas picture on screen and what it shows (slider position, grid), made anew only when
    /// either changes.
    atlas_texture: Option<(u32, usize, egui::TextureHandle)>,
}

impl Default for TimelineState {
    fn default() -> Self {
        TimelineState {
            timeline: None,
            path: None,
            at: 0.0,
            playing: false,
            building: None,
            exporting: None,
            hovered: None,
            bounds: [0.0; 4],
            movements: Vec::new(),
            draw_order: Vec::new(),
            look: TimelineLook::default(),
            grid: ATLAS_GRIDS[1],
            atlas_texture: None,
        }
    }
}

impl AtlasPanel {
    pub fn timeline_event(&mut self, job: JobId, event: TimelineJobEvent, cx: &mut AppContext) {
        let state = &mut self.timeline;
        match event {
            TimelineJobEvent::Working { frame, frames, epoch } => {
                if let Some(building) = state.building.as_mut().filter(|b| b.job == job) {
                    (building.frame, building.frames, building.epoch, building.waiting) = (frame, frames, epoch, false);
                }
            }
            TimelineJobEvent::Waiting => {
                if let Some(building) = state.building.as_mut().filter(|b| b.job == job) {
                    building.waiting = true;
                }
            }
            TimelineJobEvent::Timeline { timeline, path } => {
                // A growing timeline shows its newest frame, unless the user is looking at another.
                let at_end = state.timeline.as_ref().is_none_or(|t| state.at >= (t.frames.len() - 1) as f32);
                if at_end || state.path.as_ref() != Some(&path) {
                    state.at = (timeline.frames.len() - 1) as f32;
                }
                state.bounds = timeline.bounds();
                state.movements = timeline.movements();
                state.draw_order = timeline.draw_order();
                state.atlas_texture = None;
                state.timeline = Some(timeline);
                state.path = Some(path);
            }
            TimelineJobEvent::Exported { path, pictures } => {
                cx.messages.notice = Some(format!("{} {} ({pictures})", cx.t(T::Saved), path.display()));
            }
        }
    }

    pub(super) fn timeline_job_finished(&mut self, job: JobId) {
        if self.timeline.building.as_ref().is_some_and(|b| b.job == job) {
            self.timeline.building = None;
        }
        if self.timeline.exporting == Some(job) {
            self.timeline.exporting = None;
        }
    }

    /// Makes the timeline of `run_dir` (following it while `follow`), saved beside the atlases.
    pub fn build_timeline(&mut self, run_dir: PathBuf, follow: bool, cx: &mut AppContext) {
        let name = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
        let out = cx.run_root.with_file_name("timelines").join(format!("{name}-{}.timeline", self.builder.form.layer));
        let params = TimelineParams { layer: self.builder.form.layer, ..TimelineParams::default() };
        let job = TimelineJob::Build { run_dir, data_dir: self.builder.folder.clone(), params, out, follow };
        if let Some(job) = cx.submit(Job::Timeline(job)) {
            self.timeline.building = Some(TimelineBuilding { job, frame: 0, frames: 0, epoch: 0, waiting: false, follows_run: follow });
            self.view = super::AtlasView::Timeline;
        }
    }

    pub(super) fn timeline_dialog_answered(&mut self, kind: DialogKind, path: PathBuf, cx: &mut AppContext) {
        match kind {
            DialogKind::OpenTimeline => {
                cx.submit(Job::Timeline(TimelineJob::Load { path }));
            }
            DialogKind::PickRunFolder => self.build_timeline(path, false, cx),
            DialogKind::ExportTimeline => {
                let Some(timeline) = self.timeline.timeline.clone() else { return };
                let names = (0..timeline.class_names.len()).map(|c| cx.class_label(c)).collect();
                // The animation shows what the view shows: the atlas of patches or the points.
                let atlas_grid = (self.timeline.look == TimelineLook::Atlas && timeline.has_patches()).then_some(self.timeline.grid);
                let options = AnimationOptions { atlas_grid, ..AnimationOptions::default() };
                let job = TimelineJob::Export { timeline, names, options, path };
                self.timeline.exporting = cx.submit(Job::Timeline(job));
            }
            _ => {}
        }
    }

    /// Where a timeline comes from (a file, the model's run, the training tab's run, a folder),
    /// its export, and a build while it runs.
    fn timeline_toolbar_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal_wrapped(|ui| {
            // A narrow window wraps the row between buttons, never inside one's label.
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            if ui.button(T::OpenTimeline.get(lang)).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::OpenTimeline));
            }
            let building = self.timeline.building.is_some();
            let model_run = cx.model_info().and_then(|info| info.path.parent().map(std::path::Path::to_path_buf));
            if ui.add_enabled(!building && model_run.is_some(), egui::Button::new(T::TimelineOfModelRun.get(lang))).clicked()
                && let Some(run) = model_run
            {
                if crate::engine::atlas::timeline::run_checkpoints(&run).is_empty() {
                    cx.messages.notice = Some(T::TimelineNoModelRun.get(lang).to_string());
                } else {
                    self.build_timeline(run, false, cx);
                }
            }
            if ui
                .add_enabled(!building, egui::Button::new(T::TimelineOfTrainingRun.get(lang)))
                .on_hover_text(T::TimelineOfTrainingRunHint.get(lang))
                .clicked()
            {
                cx.actions.push(AppAction::TimelineOfTrainingRun);
            }
            if ui.add_enabled(!building, egui::Button::new(T::TimelineOfFolder.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::PickRunFolder));
            }
            let can_export = self.timeline.timeline.is_some() && self.timeline.exporting.is_none();
            if ui.add_enabled(can_export, egui::Button::new(T::ExportAnimation.get(lang))).clicked() {
                cx.actions.push(AppAction::OpenDialog(DialogKind::ExportTimeline));
            }
        });
        if let Some(building) = &self.timeline.building {
            ui.horizontal(|ui| {
                ui.spinner();
                if building.waiting {
                    ui.label(T::TimelineWaiting.get(lang));
                } else if building.frames > 0 {
                    ui.label(format!(
                        "{} · {} {} ({}/{})",
                        T::TimelineWorking.get(lang),
                        T::TimelineEpoch.get(lang),
                        building.epoch,
                        building.frame + 1,
                        building.frames
                    ));
                } else {
                    ui.label(T::TimelineWorking.get(lang));
                }
                if ui.button(T::Cancel.get(lang)).clicked() {
                    cx.jobs.cancel(building.job);
                }
            });
        }
    }

    pub(super) fn timeline_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        self.timeline_toolbar_ui(ui, cx);
        let Some(timeline) = self.timeline.timeline.clone() else {
            ui.add_space(8.0);
            ui.label(T::TimelineEmpty.get(lang));
            return;
        };
        let last = timeline.frames.len().saturating_sub(1);
        self.advance_playback(ui.ctx(), last);
        ui.horizontal(|ui| {
            let label = if self.timeline.playing { T::TimelinePause } else { T::TimelinePlay };
            if ui.add_enabled(last > 0, egui::Button::new(label.get(lang))).clicked() {
                if !self.timeline.playing && self.timeline.at >= last as f32 {
                    self.timeline.at = 0.0;
                }
                self.timeline.playing = !self.timeline.playing;
            }
            let epochs: Vec<u32> = timeline.frames.iter().map(|f| f.epoch).collect();
            ui.spacing_mut().slider_width = (ui.available_width() - 420.0).clamp(120.0, 520.0);
            let name = ui.label(T::TimelineEpoch.get(lang));
            let slider = egui::Slider::new(&mut self.timeline.at, 0.0..=last.max(1) as f32).show_value(false).step_by(0.0);
            let response = ui.add_enabled(last > 0, slider).labelled_by(name.id);
            if response.dragged() {
                self.timeline.playing = false;
            }
            if response.drag_stopped() {
                // Let go: settle on the nearest checkpoint.
                self.timeline.at = self.timeline.at.round();
            }
            let frame = &timeline.frames[(self.timeline.at.round() as usize).min(last)];
            ui.strong(format!("{} {}", T::TimelineEpoch.get(lang), frame.epoch));
            if let Some(accuracy) = frame.validation_accuracy {
                ui.label(format!("{} {:.1}%", T::ValidationAccuracyShort.get(lang), accuracy * 100.0));
            }
            ui.small(format!(
                "({}/{} {})",
                epochs.iter().position(|&e| e == frame.epoch).unwrap_or(0) + 1,
                epochs.len(),
                T::TimelineFrames.get(lang)
            ));
        });
        let has_patches = timeline.has_patches();
        ui.horizontal(|ui| {
            let label = ui.label(T::TimelineLook.get(lang));
            ui.add_enabled_ui(has_patches, |ui| {
                ui.selectable_value(&mut self.timeline.look, TimelineLook::Atlas, T::TimelineLookAtlas.get(lang))
                    .on_disabled_hover_text(T::TimelineNoPatches.get(lang));
            })
            .response
            .labelled_by(label.id);
            ui.selectable_value(&mut self.timeline.look, TimelineLook::Points, T::TimelineLookPoints.get(lang));
            if self.timeline.look == TimelineLook::Atlas && has_patches {
                ui.separator();
                for grid in ATLAS_GRIDS {
                    ui.selectable_value(&mut self.timeline.grid, grid, format!("{grid}×{grid}"));
                }
            }
        });
        if self.timeline.look == TimelineLook::Atlas && has_patches {
            self.timeline_atlas(ui, &timeline, cx);
        } else {
            self.timeline_plot(ui, &timeline, cx);
        }
    }

    /// The frame as an atlas of real patches: each cell shows the patch of the point nearest the
    /// middle of its points, so regions of the map can be read as what the layer responds to.
    fn timeline_atlas(&mut self, ui: &mut egui::Ui, timeline: &Timeline, cx: &AppContext) {
        let state = &mut self.timeline;
        let key = (state.at.to_bits(), state.grid);
        if state.atlas_texture.as_ref().is_none_or(|(at, grid, _)| (*at, *grid) != key) {
            state.atlas_texture = timeline.frame_atlas_picture(state.at, state.bounds, state.grid, ATLAS_MIN_POINTS).map(|picture| {
                let size = [picture.width() as usize, picture.height() as usize];
                let image = egui::ColorImage::from_rgb(size, picture.as_raw());
                (key.0, key.1, ui.ctx().load_texture("timeline-atlas", image, egui::TextureOptions::NEAREST))
            });
        }
        let Some((_, grid, texture)) = &state.atlas_texture else { return };
        let grid = *grid;
        let side = (ui.available_width() - 12.0).min(ui.available_height() - 8.0).max(120.0);
        let response = ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))).sense(egui::Sense::hover()));
        let rect = response.rect;
        if let Some(pointer) = response.hover_pos() {
            // The cell under the pointer: how many activations, and of which classes.
            let cell_of = |v: f32| ((v.clamp(0.0, 0.999_9) * grid as f32) as usize).min(grid - 1);
            let (column, row) = (cell_of((pointer.x - rect.min.x) / rect.width()), cell_of((pointer.y - rect.min.y) / rect.height()));
            let layout = timeline.display_between_within(state.at, state.bounds);
            let mut counts = vec![0usize; timeline.class_names.len()];
            for (point, p) in layout.chunks_exact(2).enumerate() {
                if (cell_of(p[0]), cell_of(p[1])) == (column, row)
                    && let Some(count) = counts.get_mut(timeline.label[point] as usize)
                {
                    *count += 1;
                }
            }
            let total: usize = counts.iter().sum();
            if total > 0 {
                let mut ranked: Vec<(usize, usize)> = counts.into_iter().enumerate().filter(|(_, n)| *n > 0).collect();
                ranked.sort_by_key(|entry| std::cmp::Reverse(entry.1));
                let classes: Vec<String> = ranked.iter().take(3).map(|(c, n)| format!("{} {n}", cx.class_label(*c))).collect();
                let cell_size = rect.width() / grid as f32;
                let cell = egui::Rect::from_min_size(
                    rect.min + egui::vec2(column as f32, row as f32) * cell_size,
                    egui::vec2(cell_size, cell_size),
                );
                ui.painter().rect_stroke(cell, 0.0, egui::Stroke::new(1.5, egui::Color32::WHITE), egui::StrokeKind::Outside);
                let text = format!("{} {total}\n{}", T::TimelineCellActivations.get(cx.lang), classes.join("\n"));
                super::pointer_tooltip(ui, "timeline-cell-hover", text);
            }
        }
    }

    /// Moves the slider along while playing, and keeps frames coming.
    fn advance_playback(&mut self, ctx: &egui::Context, last: usize) {
        if !self.timeline.playing {
            return;
        }
        let dt = ctx.input(|i| i.stable_dt).min(0.1);
        self.timeline.at += dt / PLAY_SECONDS_PER_FRAME;
        if self.timeline.at >= last as f32 {
            self.timeline.at = last as f32;
            self.timeline.playing = false;
        }
        ctx.request_repaint();
    }

    fn timeline_plot(&mut self, ui: &mut egui::Ui, timeline: &Timeline, cx: &AppContext) {
        let classes = timeline.class_names.len();
        let names: Vec<String> = (0..classes).map(|c| cx.class_label(c)).collect();
        ui.horizontal_top(|ui| {
            let legend_width = 180.0;
            let side = (ui.available_width() - legend_width - 12.0).min(ui.available_height() - 8.0).max(120.0);
            let (response, painter) = ui.allocate_painter(egui::vec2(side, side), egui::Sense::hover());
            let rect = response.rect;
            painter.rect_filled(rect, 4.0, egui::Color32::from_rgb(24, 26, 32));
            let layout = timeline.display_between_within(self.timeline.at, self.timeline.bounds);
            let to_screen = |p: &[f32]| rect.min + egui::vec2(p[0] * rect.width(), p[1] * rect.height());
            let radius = (side / 320.0).max(1.3);
            let colours: Vec<egui::Color32> = (0..classes).map(|c| class_colour(c, classes)).collect();
            for &i in &self.timeline.draw_order {
                let colour = colours[timeline.label[i] as usize % classes.max(1)];
                painter.circle_filled(to_screen(&layout[2 * i..2 * i + 2]), radius, colour);
            }
            // The point nearest the pointer, within a few pixels.
            self.timeline.hovered = response.hover_pos().and_then(|pointer| {
                layout
                    .chunks_exact(2)
                    .enumerate()
                    .map(|(i, p)| (i, to_screen(p).distance_sq(pointer)))
                    .filter(|(_, d)| *d <= 36.0)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(i, _)| i)
            });
            if let Some(point) = self.timeline.hovered {
                let at = to_screen(&layout[point * 2..point * 2 + 2]);
                painter.circle_stroke(at, radius + 3.0, egui::Stroke::new(1.5, egui::Color32::WHITE));
                let class = timeline.label[point] as usize;
                let image = timeline.image[point];
                let [x, y] = timeline.position[point];
                let text = format!("{}\n#{image} ({x}, {y})", names.get(class).cloned().unwrap_or_default());
                super::pointer_tooltip(ui, "timeline-point-hover", text);
            }
            ui.vertical(|ui| {
                ui.set_width(legend_width);
                ui.strong(T::TimelineLegend.get(cx.lang));
                for (class, name) in names.iter().enumerate() {
                    ui.horizontal(|ui| {
                        let (dot, painter) = ui.allocate_painter(egui::vec2(12.0, 12.0), egui::Sense::hover());
                        painter.circle_filled(dot.rect.center(), 5.0, colours[class]);
                        ui.label(name);
                    });
                }
            });
        });
    }

    /// The side panel while the timeline is shown: its frames with their accuracy and how far
    /// the points moved; a click goes to that frame.
    pub(super) fn timeline_side_ui(&mut self, ui: &mut egui::Ui, cx: &AppContext) {
        let lang = cx.lang;
        // Without a timeline the view itself says what one is; the side stays empty.
        let Some(timeline) = self.timeline.timeline.clone() else { return };
        if let Some(path) = &self.timeline.path {
            // The file's name; where it is, on hover.
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            ui.small(name).on_hover_text(path.display().to_string());
        }
        ui.label(format!(
            "{} · {} {} · {} {}",
            timeline.layer,
            timeline.frames.len(),
            T::TimelineFrames.get(lang),
            timeline.len(),
            T::TimelinePoints.get(lang)
        ));
        ui.separator();
        ui.strong(T::TimelineFramesList.get(lang));
        ui.small(T::TimelineMoved.get(lang));
        let current = self.timeline.at.round() as usize;
        for (i, frame) in timeline.frames.iter().enumerate() {
            let accuracy = frame.validation_accuracy.map(|a| format!("{:.1}%", a * 100.0)).unwrap_or_else(|| "—".into());
            let moved = match self.timeline.movements.get(i) {
                Some(moved) if i > 0 => format!(" · Δ {moved:.3}"),
                _ => String::new(),
            };
            let text = format!("{} {} · {accuracy}{moved}", T::TimelineEpoch.get(lang), frame.epoch);
            if ui.selectable_label(i == current, text).clicked() {
                self.timeline.at = i as f32;
                self.timeline.playing = false;
            }
        }
    }
}
