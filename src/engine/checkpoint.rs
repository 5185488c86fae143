//! Checkpoints: the weights as `.safetensors` (readable from Python) and a JSON sidecar beside
//! them (`model.safetensors` + `model.json`) saying what the weights are: class names, input
//! preprocessing, training recipe, epoch, validation metrics, creation time.
//!
//! The same metadata is also embedded in the safetensors header, so the weights file alone is
//! enough, and an interrupted save (new weights, old sidecar) is detected by the sidecar's
//! checksum and repaired from the header.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::eval::EvalReport;
use super::fsutil::{sha256_hex, utc_timestamp_now, write_atomically};
use super::model::{INPUT_SIZE, Net, parameter_shapes};
use super::recipe::TrainConfig;

/// Name of the architecture these checkpoints hold.
pub const ARCHITECTURE: &str = crate::engine::network::PAPER_CNN_NAME;
pub const FORMAT_VERSION: u32 = 1;
/// Key of the metadata JSON inside the safetensors header.
const HEADER_METADATA_KEY: &str = "activation_atlas";

/// How a user's image becomes the network's input; recorded so a checkpoint says how to feed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub width: i64,
    pub height: i64,
    pub channels: i64,
    pub preprocessing: String,
    /// Per-channel mean and std applied to pixels in [0, 1] (none: the pixels as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalisation: Option<crate::engine::network::Normalisation>,
}

impl Default for InputSpec {
    fn default() -> Self {
        InputSpec {
            width: INPUT_SIZE,
            height: INPUT_SIZE,
            channels: 3,
            preprocessing: "decode, apply EXIF orientation, composite alpha on white, RGB, \
                            resize to 100x100 ignoring aspect (triangle filter), scale to [0,1]"
                .to_string(),
            normalisation: None,
        }
    }
}

/// The JSON sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format_version: u32,
    pub architecture: String,
    pub class_names: Vec<String>,
    #[serde(default)]
    pub input: InputSpec,
    /// The recipe the weights were trained with (absent for untrained or imported weights).
    #[serde(default)]
    pub training: Option<TrainConfig>,
    /// Epochs completed when the checkpoint was written.
    #[serde(default)]
    pub epoch: u32,
    /// Metrics on the validation split at that epoch.
    #[serde(default)]
    pub validation: Option<EvalReport>,
    pub created_at: String,
    /// SHA-256 of the `.safetensors` file this sidecar describes (empty inside the file itself).
    #[serde(default)]
    pub weights_sha256: String,
    /// The data set trained on, by name, class counts and a digest of its file list.
    #[serde(default)]
    pub dataset: Option<crate::engine::atlas::embedded::DatasetProvenance>,
    /// How the recipe scored in a k-fold cross-validation, for a model trained on every photo
    /// (which has no held-out photos of its own to report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_validation: Option<crate::engine::cv_summary::CrossValidationSummary>,
}

impl CheckpointMeta {
    pub fn new(class_names: Vec<String>) -> CheckpointMeta {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            architecture: ARCHITECTURE.to_string(),
            class_names,
            input: InputSpec::default(),
            training: None,
            epoch: 0,
            validation: None,
            created_at: utc_timestamp_now(),
            weights_sha256: String::new(),
            dataset: None,
            cross_validation: None,
        }
    }

    /// Drops the paths of the machine the model was trained on (the data folder becomes its
    /// name), for weights that are shipped or shared. `dataset` records the data set instead.
    pub fn make_portable(&mut self) {
        if let Some(training) = &mut self.training {
            training.data_dir = training.data_dir.as_ref().and_then(|d| d.file_name()).map(PathBuf::from);
        }
    }

    /// Accuracy on the run's held-out photos; None when it kept none (a final model trained on
    /// every photo, whose estimate is its `cross_validation`).
    pub fn validation_accuracy(&self) -> Option<f64> {
        self.validation.as_ref().filter(|report| report.images > 0).map(|report| report.accuracy)
    }
}

/// Why a checkpoint could not be saved or loaded. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid safetensors file (truncated or damaged?): {reason}")]
    NotSafetensors { path: PathBuf, reason: String },
    #[error("{path}: malformed sidecar: {reason}")]
    BadSidecar { path: PathBuf, reason: String },
    #[error("{path} has no sidecar ({sidecar} is missing) and no metadata in its header")]
    NoMetadata { path: PathBuf, sidecar: PathBuf },
    #[error("{path} holds a '{found}' network; this part of the app reads only the paper's network ('{ARCHITECTURE}')")]
    WrongArchitecture { path: PathBuf, found: String },
    #[error("{path} is missing tensor '{name}'")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path} has an unexpected tensor '{name}' (not part of this network)")]
    UnexpectedTensor { path: PathBuf, name: String },
    #[error("{path}: tensor '{name}' has shape {found:?}, expected {expected:?}")]
    WrongShape { path: PathBuf, name: String, found: Vec<i64>, expected: Vec<i64> },
    #[error("{path}: tensor '{name}' is {found}, expected 32-bit float")]
    WrongDtype { path: PathBuf, name: String, found: String },
    #[error("{path}: the weights have {in_weights} classes but the sidecar names {in_sidecar}")]
    ClassCountMismatch { path: PathBuf, in_weights: i64, in_sidecar: usize },
    #[error("{path}: the sidecar lists no classes")]
    NoClasses { path: PathBuf },
    #[error("{path}: {source}")]
    Torch { path: PathBuf, source: tch::TchError },
}

/// A loaded model: the network, its metadata, where it came from.
pub struct Checkpoint {
    pub net: Net,
    pub meta: CheckpointMeta,
    pub path: PathBuf,
    /// SHA-256 of the weights file; atlases record it to know which model they belong to.
    pub fingerprint: String,
}

/// `x/model.safetensors` -> `x/model.json`.
pub fn sidecar_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Saves `net` and `meta` atomically as `path` (.safetensors) plus its sidecar. Returns the
/// weights' SHA-256.
pub fn save_checkpoint(net: &Net, meta: &CheckpointMeta, path: &Path) -> Result<String, CheckpointError> {
    save_network(&net.vs, meta, path)
}

/// Saves the variables of any network (see [`save_checkpoint`]).
pub fn save_network(vs: &tch::nn::VarStore, meta: &CheckpointMeta, path: &Path) -> Result<String, CheckpointError> {
    let torch_error = |source| CheckpointError::Torch { path: path.to_path_buf(), source };
    let write_error = |source| CheckpointError::Write { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    // Tensor data as little-endian f32 bytes, in the network's own names.
    let mut named_data: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, tensor) in vs.variables() {
        let tensor = tensor.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        let numel = tensor.numel();
        let mut floats = vec![0f32; numel];
        tensor.f_copy_data(&mut floats, numel).map_err(torch_error)?;
        let bytes = floats.iter().flat_map(|v| v.to_le_bytes()).collect();
        named_data.insert(name, (shape, bytes));
    }
    let mut embedded = meta.clone();
    embedded.weights_sha256.clear();
    let embedded_json = serde_json::to_string(&embedded).expect("metadata serialises");
    let header = HashMap::from([(HEADER_METADATA_KEY.to_string(), embedded_json)]);
    let views = named_data
        .iter()
        .map(|(name, (shape, bytes))| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).expect("shape and byte count agree");
            (name.as_str(), view)
        })
        .collect::<Vec<_>>();
    let bytes = safetensors::serialize(views, &Some(header))
        .map_err(|error| CheckpointError::NotSafetensors { path: path.to_path_buf(), reason: error.to_string() })?;
    let fingerprint = sha256_hex(&bytes);
    let mut sidecar = meta.clone();
    sidecar.weights_sha256 = fingerprint.clone();
    let sidecar_json = serde_json::to_string_pretty(&sidecar).expect("metadata serialises");
    // Weights first: if the process dies between the two renames, the old sidecar's checksum no
    // longer matches and loading falls back to the header copy of the new metadata.
    write_atomically(path, &bytes).map_err(write_error)?;
    let sidecar_file = sidecar_path(path);
    write_atomically(&sidecar_file, sidecar_json.as_bytes()).map_err(|source| CheckpointError::Write { path: sidecar_file, source })?;
    Ok(fingerprint)
}

/// Reads just the metadata of a checkpoint (sidecar, else the header copy) without building a
/// network; used to list checkpoints.
pub fn read_checkpoint_meta(path: &Path) -> Result<CheckpointMeta, CheckpointError> {
    let bytes = read_file(path)?;
    parse_safetensors(&bytes, path)?;
    resolve_meta(path, &bytes)
}

/// Loads and checks a checkpoint: architecture, class count, every tensor's name, shape and type.
pub fn load_checkpoint(path: &Path, device: Device) -> Result<Checkpoint, CheckpointError> {
    let bytes = read_file(path)?;
    let meta = resolve_meta(path, &bytes)?;
    checkpoint_from_parts(path, &bytes, meta, device)
}

/// [`load_checkpoint`] on a weights file already read and its metadata already resolved.
pub(crate) fn checkpoint_from_parts(
    path: &Path,
    bytes: &[u8],
    meta: CheckpointMeta,
    device: Device,
) -> Result<Checkpoint, CheckpointError> {
    let tensors = parse_safetensors(bytes, path)?;
    let path_buf = || path.to_path_buf();
    if meta.architecture != ARCHITECTURE {
        return Err(CheckpointError::WrongArchitecture { path: path_buf(), found: meta.architecture });
    }
    if meta.class_names.is_empty() {
        return Err(CheckpointError::NoClasses { path: path_buf() });
    }
    // The class count the weights imply, checked before shapes so the message says what is wrong.
    if let Ok(fc3) = tensors.tensor("fc3.bias") {
        let in_weights = fc3.shape().first().copied().unwrap_or(0) as i64;
        if in_weights != meta.class_names.len() as i64 {
            return Err(CheckpointError::ClassCountMismatch { path: path_buf(), in_weights, in_sidecar: meta.class_names.len() });
        }
    }
    let expected = parameter_shapes(meta.class_names.len() as i64);
    for name in tensors.names() {
        if !expected.iter().any(|(expected_name, _)| expected_name == name) {
            return Err(CheckpointError::UnexpectedTensor { path: path_buf(), name: name.clone() });
        }
    }
    // Every tensor present, of its shape and type, before the network is built: a sidecar that
    // names millions of classes must not build a layer that large for weights that are not there.
    for (name, expected_shape) in &expected {
        let view = tensors.tensor(name).map_err(|_| CheckpointError::MissingTensor { path: path_buf(), name: name.clone() })?;
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if &found != expected_shape {
            return Err(CheckpointError::WrongShape { path: path_buf(), name: name.clone(), found, expected: expected_shape.clone() });
        }
        if view.dtype() != Dtype::F32 {
            return Err(CheckpointError::WrongDtype { path: path_buf(), name: name.clone(), found: format!("{:?}", view.dtype()) });
        }
    }
    let net = Net::new(meta.class_names.len(), device);
    let mut variables = net.vs.variables();
    tch::no_grad(|| {
        for (name, _) in &expected {
            let view = tensors.tensor(name).map_err(|_| CheckpointError::MissingTensor { path: path_buf(), name: name.clone() })?;
            let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            let data = Tensor::f_from_data_size(view.data(), &found, Kind::Float)
                .map_err(|source| CheckpointError::Torch { path: path_buf(), source })?;
            let variable = variables.get_mut(name).expect("every expected name is a variable");
            variable.f_copy_(&data).map_err(|source| CheckpointError::Torch { path: path_buf(), source })?;
        }
        Ok(())
    })?;
    let fingerprint = sha256_hex(bytes);
    Ok(Checkpoint { net, meta, path: path_buf(), fingerprint })
}

/// Weights files larger than this are refused (the paper's network is about 22 MB).
const MAX_WEIGHTS_BYTES: u64 = 4 << 30;
/// Sidecars larger than this are refused (they hold metadata only).
const MAX_SIDECAR_BYTES: u64 = 64 << 20;

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    crate::engine::fsutil::read_user_file(path, MAX_WEIGHTS_BYTES)
        .map_err(|source| CheckpointError::Read { path: path.to_path_buf(), source })
}

pub(crate) fn parse_safetensors<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>, CheckpointError> {
    SafeTensors::deserialize(bytes)
        .map_err(|error| CheckpointError::NotSafetensors { path: path.to_path_buf(), reason: format!("{error:?}") })
}

/// The sidecar when it exists and belongs to these weights; otherwise the header copy.
pub(crate) fn resolve_meta(path: &Path, bytes: &[u8]) -> Result<CheckpointMeta, CheckpointError> {
    let sidecar_file = sidecar_path(path);
    match crate::engine::fsutil::read_user_text(&sidecar_file, MAX_SIDECAR_BYTES) {
        Ok(text) => checkpoint_meta_from_parts(path, bytes, Some(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => checkpoint_meta_from_parts(path, bytes, None),
        Err(source) => Err(CheckpointError::Read { path: sidecar_file, source }),
    }
}

/// A checkpoint's metadata from the bytes of its weights file (`path`) and the text of its
/// sidecar, if there is one: the sidecar when it belongs to these weights, else the header copy.
pub fn checkpoint_meta_from_parts(path: &Path, weights: &[u8], sidecar: Option<&str>) -> Result<CheckpointMeta, CheckpointError> {
    let sidecar_file = sidecar_path(path);
    let header_meta = || -> Result<Option<CheckpointMeta>, CheckpointError> {
        let (_, metadata) = SafeTensors::read_metadata(weights)
            .map_err(|error| CheckpointError::NotSafetensors { path: path.to_path_buf(), reason: format!("{error:?}") })?;
        let Some(json) = metadata.metadata().as_ref().and_then(|m| m.get(HEADER_METADATA_KEY)) else {
            return Ok(None);
        };
        serde_json::from_str(json)
            .map(Some)
            .map_err(|error| CheckpointError::BadSidecar { path: path.to_path_buf(), reason: format!("metadata in the header: {error}") })
    };
    match sidecar {
        Some(text) => {
            let meta: CheckpointMeta = serde_json::from_str(text)
                .map_err(|error| CheckpointError::BadSidecar { path: sidecar_file.clone(), reason: error.to_string() })?;
            let matches = meta.weights_sha256.is_empty() || meta.weights_sha256 == sha256_hex(weights);
            if matches {
                return Ok(meta);
            }
            // A save was interrupted between its two renames: trust the weights' own header.
            header_meta()?.ok_or_else(|| CheckpointError::BadSidecar {
                path: sidecar_file,
                reason: "its checksum does not match the weights file".to_string(),
            })
        }
        None => header_meta()?.ok_or(CheckpointError::NoMetadata { path: path.to_path_buf(), sidecar: sidecar_file }),
    }
}

/// A checkpoint in a run folder, described by its sidecar alone (no weights are read).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointSummary {
    pub path: PathBuf,
    pub epoch: u32,
    pub validation_accuracy: Option<f64>,
    pub validation_loss: Option<f64>,
    pub created_at: String,
}

/// A checkpoint's sidecar alone, without reading its weights (a menu naming shipped models);
/// None when it is missing or unreadable.
pub fn read_sidecar_meta(weights: &Path) -> Option<CheckpointMeta> {
    let text = crate::engine::fsutil::read_user_text(&sidecar_path(weights), MAX_SIDECAR_BYTES).ok()?;
    serde_json::from_str(&text).ok()
}

/// The checkpoints of a run folder with their epoch and validation metrics, by file name.
/// Files whose sidecar is missing or unreadable are left out.
pub fn list_checkpoints(dir: &Path) -> Vec<CheckpointSummary> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<CheckpointSummary> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "safetensors"))
        .filter_map(|path| {
            let text = crate::engine::fsutil::read_user_text(&sidecar_path(&path), MAX_SIDECAR_BYTES).ok()?;
            let meta: CheckpointMeta = serde_json::from_str(&text).ok()?;
            Some(CheckpointSummary {
                epoch: meta.epoch,
                validation_accuracy: meta.validation_accuracy(),
                validation_loss: meta.validation.as_ref().filter(|v| v.images > 0).map(|v| v.loss),
                created_at: meta.created_at,
                path,
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}
