//! The classify slice on the worker: open a picture, classify it with the model in use.

use std::path::PathBuf;

use image::DynamicImage;

use super::interactive::Interactive;
use super::{Event, JobError, JobKind, Picture, Reporter};
use crate::engine::classify::{TestTimeViews, classify_images_with};
use crate::engine::image_input::{decode_image_file, to_network_image_sized};

/// Longest side of the preview sent to the window; the network input is made from the full image.
pub const PREVIEW_MAX_SIDE: u32 = 1024;

#[derive(Debug)]
pub enum ClassifyJob {
    /// Decode a picture for display and classification.
    Open { path: PathBuf },
    /// Classify a picture (the open one needs no second decode).
    Classify { path: PathBuf },
}

impl ClassifyJob {
    pub fn kind(&self) -> JobKind {
        match self {
            ClassifyJob::Open { .. } => JobKind::OpenImage,
            ClassifyJob::Classify { .. } => JobKind::Classify,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ClassifyEvent {
    Opened {
        path: PathBuf,
        picture: Picture,
        original_size: (u32, u32),
    },
    /// Class probabilities in the model's class order.
    Classified {
        path: PathBuf,
        probabilities: Vec<f32>,
        model_fingerprint: String,
    },
}

impl Interactive {
    pub(super) fn classify_job(&mut self, job: ClassifyJob, reporter: &Reporter) {
        let result = match job {
            ClassifyJob::Open { path } => self.open_image(path),
            ClassifyJob::Classify { path } => self.classify(path),
        };
        match result {
            Ok(event) => reporter.send(Event::Classify(event)),
            Err(error) => reporter.fail(error),
        }
    }

    fn open_image(&mut self, path: PathBuf) -> Result<ClassifyEvent, JobError> {
        let image = decode(&path)?;
        let original_size = (image.width(), image.height());
        let picture = Picture::from_rgba(image.thumbnail(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE).to_rgba8());
        // Only the current picture is kept, so memory stays flat.
        self.opened = Some((path.clone(), to_network_image_sized(&image, self.input_size())));
        Ok(ClassifyEvent::Opened { path, picture, original_size })
    }

    fn classify(&mut self, path: PathBuf) -> Result<ClassifyEvent, JobError> {
        let input = self.network_input(&path)?;
        let model = self.model()?;
        // Twelve views of one photo cost a few milliseconds and answer better than one (README:
        // "Choosing a recipe").
        let prediction = classify_images_with(model.net.as_ref(), std::slice::from_ref(&input), TestTimeViews::Crops).remove(0);
        Ok(ClassifyEvent::Classified { path, probabilities: prediction.probabilities, model_fingerprint: model.fingerprint.clone() })
    }
}

pub(super) fn decode(path: &std::path::Path) -> Result<DynamicImage, JobError> {
    decode_image_file(path).map_err(|error| JobError::Image { path: path.to_path_buf(), message: error.to_string() })
}
