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

/// A timeline being made: which frame, and whether it waits for the run to save the next.
pub struct TimelineBuilding {
    pub job: JobId,
    pub frame: usize,
    pub frames: usize,
    pub epoch: u32,
    pub waiting: bool,
    pub follows_run: bool,
}

#[derive(Default)]
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
        let out = cx.run_root.with_file_name("timelines").join(format!("{name}-{}.timeline", self.form.layer));
        let params = TimelineParams { layer: self.form.layer, ..TimelineParams::default() };
        let job = TimelineJob::Build { run_dir, data_dir: self.build_folder.clone(), params, out, follow };
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
                let job = TimelineJob::Export { timeline, names, options: AnimationOptions::default(), path };
                self.timeline.exporting = cx.submit(Job::Timeline(job));
            }
            _ => {}
        }
    }

    pub(super) fn timeline_ui(&mut self, ui: &mut egui::Ui, cx: &mut AppContext) {
        let lang = cx.lang;
        ui.horizontal_wrapped(|ui| {
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
        self.timeline_plot(ui, &timeline, cx);
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
                response.on_hover_text(format!("{}\n#{image} ({x}, {y})", names.get(class).cloned().unwrap_or_default()));
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
        let Some(timeline) = self.timeline.timeline.clone() else {
            ui.label(T::TimelineEmpty.get(lang));
            return;
        };
        if let Some(path) = &self.timeline.path {
            ui.small(path.display().to_string());
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
