//! The photos behind a confusion-matrix cell: a click on a cell of 训练's matrix lists exactly the
//! validation photos of that true and predicted class (after the last epoch), surest first; a
//! click on one opens it in 分类 and shows its explanation in 解释.

use std::path::PathBuf;

use eframe::egui;

use super::context::{AppAction, AppContext};
use super::i18n::T;
use super::photo_button::photo_button;
use crate::engine::train::ValidationPhoto;
use crate::worker::{Job, JobId, Picture, TrainJob};

/// Side of a photo in the grid, in points.
const PHOTO_SIDE: f32 = 72.0;

#[derive(Default)]
pub struct ConfusionPhotos {
    /// Every validation photo with the network's answer after the last epoch.
    pub photos: Vec<ValidationPhoto>,
    /// The cell open: (true class, predicted class).
    pub cell: Option<(usize, usize)>,
    /// The open cell's photos, surest first, with their pictures once read.
    pub shown: Vec<(ValidationPhoto, Option<egui::TextureHandle>)>,
    reading: Option<JobId>,
}

impl ConfusionPhotos {
    /// A new epoch's answers; an open cell shows the new ones.
    pub fn epoch_done(&mut self, photos: Vec<ValidationPhoto>, cx: &mut AppContext) {
        self.photos = photos;
        if let Some(cell) = self.cell {
            self.open(cell, cx);
        }
    }

    pub fn clear(&mut self) {
        *self = ConfusionPhotos::default();
    }

    /// Shows the photos of `cell` (true, predicted) and asks for their pictures.
    pub fn open(&mut self, (truth, predicted): (usize, usize), cx: &mut AppContext) {
        let mut members: Vec<ValidationPhoto> =
            self.photos.iter().filter(|p| p.truth == truth && p.predicted == predicted).cloned().collect();
        members.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let paths: Vec<PathBuf> = members.iter().map(|p| p.path.clone()).collect();
        // Pictures already read for these files are kept.
        let known: Vec<(PathBuf, egui::TextureHandle)> =
            self.shown.drain(..).filter_map(|(photo, texture)| Some((photo.path, texture?))).collect();
        self.shown = members
            .into_iter()
            .map(|photo| {
                let texture = known.iter().find(|(path, _)| *path == photo.path).map(|(_, t)| t.clone());
                (photo, texture)
            })
            .collect();
        self.cell = Some((truth, predicted));
        if !paths.is_empty() {
            self.reading = cx.submit(Job::Train(TrainJob::Pictures { paths }));
        }
    }

    pub fn pictures_read(&mut self, ctx: &egui::Context, paths: Vec<PathBuf>, pictures: Vec<Option<Picture>>) {
        for (path, picture) in paths.iter().zip(pictures) {
            let Some(picture) = picture else { continue };
            if let Some((_, texture)) = self.shown.iter_mut().find(|(photo, _)| photo.path == *path) {
                let image = egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
                *texture = Some(ctx.load_texture(format!("confusion-photo-{}", path.display()), image, egui::TextureOptions::LINEAR));
            }
        }
    }

    pub fn job_finished(&mut self, job: JobId) {
        if self.reading == Some(job) {
            self.reading = None;
        }
    }

    /// The open cell's grid; `names`: the classes' display names.
    pub fn ui(&mut self, ui: &mut egui::Ui, names: &[String], cx: &mut AppContext) {
        let lang = cx.lang;
        let Some((truth, predicted)) = self.cell else {
            ui.small(T::ConfusionClickHint.get(lang));
            return;
        };
        let name = |class: usize| names.get(class).cloned().unwrap_or_else(|| class.to_string());
        ui.horizontal(|ui| {
            ui.strong(format!(
                "{} {} · {} {} · {} {}",
                T::TrueClass.get(lang),
                name(truth),
                T::PredictedClass.get(lang),
                name(predicted),
                self.shown.len(),
                T::PhotosCount.get(lang)
            ));
            if ui.small_button(T::Close.get(lang)).clicked() {
                self.cell = None;
            }
        });
        if self.cell.is_none() {
            self.shown.clear();
            return;
        }
        if self.shown.is_empty() {
            ui.label(T::NoPhotosInCell.get(lang));
            return;
        }
        ui.small(T::ConfusionPhotoHint.get(lang));
        ui.horizontal_wrapped(|ui| {
            for (photo, texture) in &self.shown {
                let file = photo.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let tip = format!("{file}\n{} {:.1}%", T::Confidence.get(lang), photo.confidence * 100.0);
                let response = photo_button(ui, texture.as_ref().map(egui::TextureHandle::id), PHOTO_SIDE, &file);
                if response.on_hover_text(tip).clicked() {
                    cx.actions.push(AppAction::ExplainPhoto(photo.path.clone()));
                }
            }
        });
    }
}
