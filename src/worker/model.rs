//! The model in use: loading a checkpoint on the interactive worker.

use std::path::{Path, PathBuf};

use tch::Device;

use super::interactive::Interactive;
use super::{Event, JobError, JobKind, Picture, Reporter};
use crate::engine::model::device_name;
use crate::engine::network::import::{LoadedNetwork, load_network};
use crate::engine::network::{Architecture, LayerSpec};

#[derive(Debug)]
pub enum ModelJob {
    /// Load a checkpoint and make it the model in use. A refused file keeps the previous model.
    Load { path: PathBuf },
    /// Import a PyTorch state dict of an architecture its tensor names reveal into `out_dir`,
    /// then make it the model in use.
    Import { file: PathBuf, out_dir: PathBuf },
    /// A picture of each class from the folder the classes were trained on, for the
    /// description editor.
    ClassSamples { dir: PathBuf, class_names: Vec<String> },
}

impl ModelJob {
    pub fn kind(&self) -> JobKind {
        match self {
            ModelJob::Load { .. } | ModelJob::Import { .. } => JobKind::LoadModel,
            ModelJob::ClassSamples { .. } => JobKind::ScanFolder,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ModelEvent {
    Loaded(ModelInfo),
    /// One picture per class, in the order asked (None: none found for that class).
    ClassSamples {
        dir: PathBuf,
        samples: Vec<Option<Picture>>,
    },
}

/// What the model in use is, in plain data for the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub name: String,
    pub class_names: Vec<String>,
    pub validation_accuracy: Option<f64>,
    /// The k-fold estimate of its recipe, recorded for a model trained on every photo.
    pub cross_validation: Option<Box<crate::engine::cross_validation::CrossValidationSummary>>,
    pub epoch: u32,
    pub device: String,
    pub fingerprint: String,
    /// The folder the model was trained on, as its checkpoint records it (None for portable or
    /// imported weights).
    pub data_dir: Option<PathBuf>,
    pub architecture: Architecture,
    /// Its layers in forward order, for the layer pickers.
    pub layers: Vec<LayerSpec>,
    /// Side of its square input.
    pub input_size: i64,
}

impl ModelInfo {
    /// The layers with a spatial grid (where maps, Grad-CAM and atlases apply).
    pub fn spatial_layers(&self) -> Vec<crate::engine::model::Layer> {
        self.layers.iter().filter(|layer| layer.is_spatial()).map(|layer| crate::engine::model::Layer::named(&layer.name)).collect()
    }

    /// The layers an atlas can map, and the one a build starts from: the paper's conv layers and
    /// its conv2; else every grid layer and the middle one (mid-level parts and textures).
    pub fn atlas_layers(&self) -> (Vec<crate::engine::model::Layer>, crate::engine::model::Layer) {
        use crate::engine::model::Layer;
        if self.is_paper_network() {
            return (Layer::CONV.to_vec(), Layer::CONV2);
        }
        let layers = self.spatial_layers();
        let usual = layers.get(layers.len() / 2).copied().unwrap_or(Layer::CONV2);
        (layers, usual)
    }

    /// Every layer by name, in forward order.
    pub fn all_layers(&self) -> Vec<crate::engine::model::Layer> {
        self.layers.iter().map(|layer| crate::engine::model::Layer::named(&layer.name)).collect()
    }

    pub fn is_paper_network(&self) -> bool {
        self.architecture == Architecture::PaperCnn
    }
}

impl ModelInfo {
    fn of(checkpoint: &LoadedNetwork, device: Device) -> ModelInfo {
        let spec = checkpoint.net.spec();
        let name = checkpoint.path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_else(|| "model".to_string());
        ModelInfo {
            path: checkpoint.path.clone(),
            name,
            class_names: checkpoint.meta.class_names.clone(),
            validation_accuracy: checkpoint.meta.validation_accuracy(),
            cross_validation: checkpoint.meta.cross_validation.clone().map(Box::new),
            epoch: checkpoint.meta.epoch,
            device: device_name(device),
            fingerprint: checkpoint.fingerprint.clone(),
            data_dir: checkpoint.meta.training.as_ref().and_then(|training| training.data_dir.clone()),
            architecture: spec.architecture,
            layers: spec.layers.clone(),
            input_size: spec.input_size,
        }
    }
}

impl Interactive {
    pub(super) fn model_job(&mut self, job: ModelJob, reporter: &Reporter) {
        match job {
            ModelJob::Load { path } => self.load_model(&path, reporter),
            ModelJob::Import { file, out_dir } => match crate::engine::network::import::import_network_recognised(&file, &out_dir) {
                Ok(summary) => self.load_model(&summary.out, reporter),
                Err(error) => reporter.fail(JobError::Checkpoint { path: file, message: error.to_string() }),
            },
            ModelJob::ClassSamples { dir, class_names } => {
                let samples =
                    crate::engine::data::class_samples(&dir, &class_names).iter().map(|s| s.as_ref().map(Picture::from_rgb)).collect();
                reporter.send(Event::Model(ModelEvent::ClassSamples { dir, samples }));
            }
        }
    }

    pub(super) fn load_model(&mut self, path: &Path, reporter: &Reporter) {
        match load_network(path, self.device) {
            Ok(checkpoint) => {
                let info = ModelInfo::of(&checkpoint, self.device);
                // An atlas is only meaningful for the model it was built from.
                if self.atlas.as_ref().is_some_and(|a| a.meta.model_fingerprint != checkpoint.fingerprint) {
                    self.atlas = None;
                }
                self.model = Some(checkpoint);
                reporter.send(Event::Model(ModelEvent::Loaded(info)));
            }
            Err(error) => reporter.fail(JobError::Checkpoint { path: path.to_path_buf(), message: error.to_string() }),
        }
    }
}
