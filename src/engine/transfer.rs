//! Transfer learning from a pretrained backbone (the shipped ImageNet EfficientNet-Lite0): a new
//! last layer for the folder's classes. "Linear" runs every photo through the backbone once (and
//! its mirror image, a second view), keeps the pooled features in a cache keyed by the file's
//! content, and trains only the new layer on them: seconds, where the paper's network trains for
//! minutes. The result is a whole network (backbone and new head) saved as any checkpoint, so
//! every view of the app works on it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use tch::nn::{Module, OptimizerConfig};
use tch::{Device, Kind, Tensor, nn};

use super::checkpoint::{CheckpointError, save_network};
use super::data::{Photos, holdout_split, stratified_folds};
use super::eval::{EvalReport, confusion_matrix, report_from_confusion};
use super::fsutil::{AtomicFile, sha256_hex, write_atomically};
use super::image_input::images_to_tensor;
use super::network::import::{LoadedNetwork, load_network, network_meta};
use super::network::{Architecture, Network, build_network};
use super::recipe::{PretrainedStart, TrainConfig, TransferMode};
use super::rng::SeededRng;
use super::train::{
    BEST_CHECKPOINT, EpochRecord, HISTORY_FILE, TrainError, TrainEvent, TrainOutcome, ValidationPhoto, epoch_checkpoint_name,
};

/// The backbones that ship, by architecture name, and their weights file under `weights/`.
pub const BACKBONES: [(&str, &str); 1] = [("efficientnet-lite0", "efficientnet-lite0-imagenet.safetensors")];

/// Views per photo in the features: the photo and its mirror image.
pub const VIEWS: usize = 2;

/// Refuses a start the app cannot train (a backbone that neither ships nor is an imported
/// network's checkpoint, more blocks unfrozen than the network has), before any photo is read.
pub fn check_supported(start: &PretrainedStart) -> Result<(), TrainError> {
    let architecture = backbone_architecture(&start.backbone)?;
    match start.mode {
        TransferMode::Linear => Ok(()),
        TransferMode::Finetune { unfreeze } => super::finetune::check_unfreeze(architecture, unfreeze),
    }
}

/// The architecture of backbone `name`: a shipped backbone's, or the one an imported network's
/// checkpoint (a file path) records.
pub fn backbone_architecture(name: &str) -> Result<Architecture, TrainError> {
    if let Some(architecture) = BACKBONES.iter().find(|(backbone, _)| *backbone == name).and_then(|(name, _)| Architecture::from_name(name))
    {
        return Ok(architecture);
    }
    let path = Path::new(name);
    if !path.is_file() {
        let known: Vec<&str> = BACKBONES.iter().map(|(n, _)| *n).collect();
        return Err(TrainError::InvalidConfig(format!(
            "no pretrained network '{name}': give one that ships with the app ({}) or the checkpoint of an imported network (model import)",
            known.join(", ")
        )));
    }
    let meta = super::checkpoint::read_checkpoint_meta(path)?;
    match Architecture::from_name(&meta.architecture) {
        Some(architecture) if architecture != Architecture::PaperCnn => Ok(architecture),
        _ => Err(TrainError::InvalidConfig(format!(
            "{}: a {} checkpoint cannot be a pretrained start; import an EfficientNet-Lite0 or ResNet (model import)",
            path.display(),
            meta.architecture
        ))),
    }
}

/// The weights of backbone `name`: a shipped one's file (beside the program or in the checkout),
/// or `name` itself when it is a checkpoint file.
pub fn backbone_weights(name: &str) -> Option<PathBuf> {
    match BACKBONES.iter().find(|(backbone, _)| *backbone == name) {
        Some((_, file)) => crate::resources::find_resource(&Path::new("weights").join(file)),
        None => Some(PathBuf::from(name)).filter(|path| path.is_file()),
    }
}

/// Loads backbone `name` (shipped, or an imported network's checkpoint) on `device`.
pub fn load_backbone(name: &str, device: Device) -> Result<LoadedNetwork, TrainError> {
    let path = backbone_weights(name).ok_or_else(|| {
        let known: Vec<&str> = BACKBONES.iter().map(|(n, _)| *n).collect();
        TrainError::InvalidConfig(format!("no pretrained network '{name}' ships with the app; there is {}", known.join(", ")))
    })?;
    Ok(load_network(&path, device)?)
}

/// Each photo's pooled backbone features, `VIEWS` views a photo, `dim` floats a view.
pub struct Features {
    pub dim: usize,
    /// `photos x VIEWS x dim`, photo-major.
    pub values: Vec<f32>,
    /// How many photos were found in the cache instead of computed.
    pub cached: usize,
}

impl Features {
    pub fn view(&self, photo: usize, view: usize) -> &[f32] {
        let start = (photo * VIEWS + view) * self.dim;
        &self.values[start..start + self.dim]
    }

    /// Bytes a photo takes in the cache: its key and its views' floats.
    pub fn cache_bytes_per_photo(&self) -> usize {
        32 + VIEWS * self.dim * 4
    }
}

/// The layer whose output is the backbone's pooled features (the input of its last layer).
fn pooled_layer(net: &dyn Network) -> usize {
    net.spec().layers.len().saturating_sub(2)
}

/// Computes (or finds in the cache under `cache`) every photo's pooled features. The cache is one
/// file per backbone (its weights' fingerprint): per photo, the SHA-256 of the file's bytes and
/// its features; a photo whose bytes changed is computed again wherever it lives.
pub fn backbone_features(
    backbone: &LoadedNetwork,
    photos: &dyn Photos,
    cache: Option<&Path>,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Features, TrainError> {
    let net = backbone.net.as_ref();
    let layer = pooled_layer(net);
    let dim = net.spec().layers[layer].channels() as usize;
    let keys: Vec<String> = photos
        .paths()
        .par_iter()
        .map(|path| std::fs::read(path).map(|bytes| sha256_hex(&bytes)).unwrap_or_else(|_| format!("unreadable:{}", path.display())))
        .collect();
    let name = &backbone.fingerprint[..16.min(backbone.fingerprint.len())];
    // Features computed in bfloat16 are kept apart: a float32 run never reads them.
    let suffix = match super::precision::computation() {
        super::precision::Computation::Mixed => "-bf16",
        super::precision::Computation::Float32 => "",
    };
    let cache_file = cache.map(|dir| dir.join("features").join(format!("{name}{suffix}.bin")));
    let mut known = cache_file.as_deref().map(|path| read_feature_cache(path, dim)).unwrap_or_default();
    let missing: Vec<usize> = (0..keys.len()).filter(|&i| !known.contains_key(&keys[i])).collect();
    let total = photos.len();
    let cached = total - missing.len();
    progress(cached, total);
    let kind = super::network::network_kind(net);
    for (done, chunk) in missing.chunks(16).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(TrainError::Cancelled);
        }
        let mut images = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let read =
                photos.read(i..i + 1).map_err(|file| TrainError::Io { path: file.path, source: std::io::Error::other(file.reason) })?;
            images.extend(read.iter().cloned());
        }
        let values = tch::no_grad(|| {
            let batch = images_to_tensor(images.iter()).to_device(net.device()).to_kind(kind);
            let both = Tensor::cat(&[&batch, &batch.flip([3])], 0);
            let _mixed = super::precision::mixed(net.device());
            let pooled = net.forward_to(&both, layer, false).to_kind(Kind::Float).to_device(Device::Cpu).contiguous();
            Vec::<f32>::try_from(pooled.flatten(0, -1)).unwrap_or_default()
        });
        let count = chunk.len();
        for (row, &i) in chunk.iter().enumerate() {
            let mut photo = Vec::with_capacity(VIEWS * dim);
            for view in 0..VIEWS {
                let start = (view * count + row) * dim;
                photo.extend_from_slice(&values[start..start + dim]);
            }
            known.insert(keys[i].clone(), photo);
        }
        progress(cached + (done * 16 + count).min(missing.len()), total);
    }
    if !missing.is_empty()
        && let Some(path) = &cache_file
    {
        // A cache that cannot be written only costs time next run.
        let _ = write_feature_cache(path, &known, dim);
    }
    let mut values = Vec::with_capacity(total * VIEWS * dim);
    for key in &keys {
        values.extend_from_slice(&known[key]);
    }
    Ok(Features { dim, values, cached })
}

const FEATURE_MAGIC: &[u8; 8] = b"AAFEATv1";

/// The cache's entries (SHA-256 hex -> views' floats); anything unreadable is an empty cache.
fn read_feature_cache(path: &Path, dim: usize) -> HashMap<String, Vec<f32>> {
    let Ok(bytes) = std::fs::read(path) else { return HashMap::new() };
    let record = 32 + VIEWS * dim * 4;
    let Some(body) = bytes.strip_prefix(FEATURE_MAGIC.as_slice()).filter(|body| body.len() % record == 0) else {
        return HashMap::new();
    };
    body.chunks_exact(record)
        .map(|chunk| {
            let key: String = chunk[..32].iter().map(|b| format!("{b:02x}")).collect();
            let floats = chunk[32..].chunks_exact(4).map(|f| f32::from_le_bytes([f[0], f[1], f[2], f[3]])).collect();
            (key, floats)
        })
        .collect()
}

fn write_feature_cache(path: &Path, entries: &HashMap<String, Vec<f32>>, dim: usize) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = AtomicFile::create(path)?;
    out.write_all(FEATURE_MAGIC)?;
    let mut keys: Vec<&String> = entries.keys().filter(|k| k.len() == 64).collect();
    keys.sort();
    for key in keys {
        let floats = &entries[key];
        if floats.len() != VIEWS * dim {
            continue;
        }
        let digest: Vec<u8> = (0..32).filter_map(|i| u8::from_str_radix(&key[2 * i..2 * i + 2], 16).ok()).collect();
        out.write_all(&digest)?;
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        out.write_all(&bytes)?;
    }
    out.commit().map(|_| ())
}

/// A linear layer from `dim` features to `classes` classes, trained on features.
struct LinearHead {
    vs: nn::VarStore,
    layer: nn::Linear,
}

/// A head's weight and bias at one epoch, copied (the best epoch's, saved at the end).
pub(crate) struct HeadWeights {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl LinearHead {
    fn snapshot(&self) -> HeadWeights {
        HeadWeights { weight: self.layer.ws.detach().copy(), bias: self.layer.bs.as_ref().map(|b| b.detach().copy()) }
    }
}

impl LinearHead {
    /// Starts at zero (the problem is convex: no random start is needed, and none is drawn).
    fn new(dim: usize, classes: usize) -> LinearHead {
        let vs = nn::VarStore::new(Device::Cpu);
        let config = nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true };
        let layer = nn::linear(vs.root() / "fc", dim as i64, classes as i64, config);
        LinearHead { vs, layer }
    }
}

/// The rows of `features` for `photos` (every view, or view 0 only), as a tensor, with labels.
fn rows(features: &Features, labels: &[usize], photos: &[usize], all_views: bool) -> (Tensor, Vec<i64>) {
    let views = if all_views { VIEWS } else { 1 };
    let mut values = Vec::with_capacity(photos.len() * views * features.dim);
    let mut targets = Vec::with_capacity(photos.len() * views);
    for &photo in photos {
        for view in 0..views {
            values.extend_from_slice(features.view(photo, view));
            targets.push(labels[photo] as i64);
        }
    }
    (Tensor::from_slice(&values).view([targets.len() as i64, features.dim as i64]), targets)
}

/// What an epoch of a head ends with: its numbers, the validation report, and per validation
/// photo the class named and its probability.
struct EpochEnd {
    record: EpochRecord,
    report: EvalReport,
    predicted: Vec<usize>,
    confidence: Vec<f32>,
}

/// Trains a linear head on `train` photos' features (both views) and reports each epoch on the
/// `validation` photos (the photo itself, one view); returns the head's weight and bias.
#[allow(clippy::too_many_arguments)]
fn fit_head(
    features: &Features,
    labels: &[usize],
    class_names: &[String],
    train: &[usize],
    validation: &[usize],
    config: &TrainConfig,
    cancel: &AtomicBool,
    on_epoch: &mut dyn FnMut(EpochEnd, &LinearHead) -> Result<(), TrainError>,
) -> Result<Option<LinearHead>, TrainError> {
    let classes = class_names.len();
    let head = LinearHead::new(features.dim, classes);
    let mut optimizer = nn::AdamW { wd: config.weight_decay, ..Default::default() }
        .build(&head.vs, config.learning_rate)
        .map_err(|source| TrainError::Checkpoint(CheckpointError::Torch { path: PathBuf::new(), source }))?;
    let (inputs, targets) = rows(features, labels, train, true);
    let targets = Tensor::from_slice(&targets);
    let (validation_inputs, validation_targets) = rows(features, labels, validation, false);
    let count = targets.size()[0] as usize;
    for epoch_index in 0..config.epochs {
        let epoch = epoch_index + 1;
        let started = Instant::now();
        let mut order: Vec<i64> = (0..count as i64).collect();
        SeededRng::derive(config.seed, u64::from(epoch)).shuffle(&mut order);
        let (mut loss_sum, mut correct) = (0.0, 0i64);
        for (step, batch) in order.chunks(config.batch_size.max(1)).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            optimizer.set_lr(config.learning_rate_at(epoch_index, step as f64 * config.batch_size as f64 / count as f64));
            let index = Tensor::from_slice(batch);
            let (x, y) = (inputs.index_select(0, &index), targets.index_select(0, &index));
            let logits = head.layer.forward(&x);
            let loss = if config.label_smoothing > 0.0 {
                logits.cross_entropy_loss::<Tensor>(&y, None, tch::Reduction::Mean, -100, config.label_smoothing)
            } else {
                logits.cross_entropy_for_logits(&y)
            };
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return Err(TrainError::NonFiniteLoss { epoch, step: step + 1, value });
            }
            optimizer.backward_step(&loss);
            loss_sum += value * batch.len() as f64;
            correct += logits.argmax(1, false).eq_tensor(&y).sum(Kind::Int64).int64_value(&[]);
        }
        let (report, predicted, confidence) = tch::no_grad(|| {
            let logits = head.layer.forward(&validation_inputs);
            let truth: Vec<usize> = validation_targets.iter().map(|&t| t as usize).collect();
            let loss = if truth.is_empty() {
                0.0
            } else {
                logits.cross_entropy_for_logits(&Tensor::from_slice(&validation_targets)).double_value(&[])
            };
            let probabilities = logits.softmax(1, Kind::Float);
            let (best, best_index) = probabilities.max_dim(1, false);
            let predicted: Vec<usize> = Vec::<i64>::try_from(&best_index).unwrap_or_default().into_iter().map(|p| p as usize).collect();
            let confidence = Vec::<f32>::try_from(&best).unwrap_or_default();
            (report_from_confusion(confusion_matrix(&truth, &predicted, classes), class_names, loss), predicted, confidence)
        });
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / count.max(1) as f64,
            train_accuracy: correct as f64 / count.max(1) as f64,
            validation_loss: report.loss,
            validation_accuracy: report.accuracy,
            learning_rate: config.learning_rate_at(epoch_index, 1.0),
            duration_secs: started.elapsed().as_secs_f64(),
        };
        on_epoch(EpochEnd { record, report, predicted, confidence }, &head)?;
    }
    Ok(Some(head))
}

/// A new last layer fit on the `train` photos' features with the linear recipe: where
/// fine-tuning starts, so that its first steps are not spent undoing a random last layer's
/// gradients in the backbone (Kumar et al. 2022, "linear probing then fine-tuning"). None when
/// cancelled.
pub(crate) fn fit_start_head(
    features: &Features,
    labels: &[usize],
    class_names: &[String],
    train: &[usize],
    backbone: &str,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<Option<HeadWeights>, TrainError> {
    let config = TrainConfig { seed, ..crate::engine::recipe::linear_head_recipe(backbone) };
    let head = fit_head(features, labels, class_names, train, &[], &config, cancel, &mut |_, _| Ok(()))?;
    Ok(head.map(|head| head.snapshot()))
}

/// The whole network: the backbone's weights with the head in place of its last layer.
pub(crate) fn network_with_head(backbone: &LoadedNetwork, head: &HeadWeights, classes: usize) -> Result<Box<dyn Network>, TrainError> {
    let architecture = backbone.net.spec().architecture;
    let net = build_network(architecture, classes as i64, Device::Cpu)
        .ok_or_else(|| TrainError::InvalidConfig(format!("{} cannot be given a new head", architecture.display_name())))?;
    let source = backbone.net.var_store().variables();
    let last = last_layer_prefix(architecture);
    tch::no_grad(|| {
        for (name, mut target) in net.var_store().variables() {
            let value = match name.strip_prefix(last) {
                Some(".weight") => Some(&head.weight),
                Some(".bias") => head.bias.as_ref(),
                _ => source.get(&name),
            };
            if let Some(value) = value {
                target.copy_(&value.to_device(target.device()).to_kind(target.kind()));
            }
        }
    });
    Ok(net)
}

/// The name of an architecture's last (classifying) layer in its state dict.
fn last_layer_prefix(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::EfficientNetLite0 => "_fc",
        _ => "fc",
    }
}

/// Trains a new last layer for `photos`' classes on the backbone's features ("linear" mode),
/// writing checkpoints of the whole network into `run_dir` as training the paper's network does
/// (`best.safetensors`, `epoch-NNN.safetensors`, `history.json`), with the same events.
#[allow(clippy::too_many_arguments)]
pub fn train_linear(
    backbone: &LoadedNetwork,
    photos: &dyn Photos,
    features: &Features,
    config: &TrainConfig,
    run_dir: &Path,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    let Some(start) = &config.pretrained else {
        return Err(TrainError::InvalidConfig("a recipe from scratch is trained by engine::train".into()));
    };
    check_supported(start)?;
    if config.fine_tunes() {
        return Err(TrainError::InvalidConfig("a fine-tuning recipe is trained by engine::finetune".into()));
    }
    std::fs::create_dir_all(run_dir).map_err(|source| TrainError::Io { path: run_dir.to_path_buf(), source })?;
    let labels = photos.labels();
    let class_names = photos.class_names().to_vec();
    let (train, validation) = holdout_split(labels, config);
    if train.is_empty() {
        return Err(TrainError::EmptyTrainingSplit);
    }
    on_event(TrainEvent::Started {
        train_images: train.len(),
        validation_images: validation.len(),
        // One step event an epoch: an epoch over features takes a fraction of a second.
        steps_per_epoch: 1,
        first_epoch: 1,
        epochs: config.epochs,
    });
    let provenance = crate::engine::atlas::embedded::DatasetProvenance::of(photos.root(), photos.paths(), labels, class_names.len());
    let mut history = Vec::new();
    let mut best: (f64, Option<(HeadWeights, EvalReport, u32)>) = (f64::NEG_INFINITY, None);
    let mut last_report = None;
    let mut on_epoch = |end: EpochEnd, head: &LinearHead| {
        let EpochEnd { record, report, predicted, confidence } = end;
        let photos_now = validation
            .iter()
            .zip(predicted.iter().zip(&confidence))
            .map(|(&i, (&p, &c))| ValidationPhoto { path: photos.paths()[i].clone(), truth: labels[i], predicted: p, confidence: c })
            .collect();
        if !validation.is_empty() && record.validation_accuracy > best.0 {
            best = (record.validation_accuracy, Some((head.snapshot(), report.clone(), record.epoch)));
        }
        last_report = Some(report.clone());
        history.push(record.clone());
        on_event(TrainEvent::Step { epoch: record.epoch, step: 1, steps_per_epoch: 1, loss: record.train_loss });
        on_event(TrainEvent::Epoch { record, validation: report, photos: photos_now });
        Ok(())
    };
    let Some(head) = fit_head(features, labels, &class_names, &train, &validation, config, cancel, &mut on_epoch)? else {
        return Ok(TrainOutcome::Cancelled { last: None, history });
    };
    // The whole network with the head of the last epoch and, where photos were held out, with
    // that of the best epoch, as training the paper's network keeps them.
    let save = |head: &HeadWeights, epoch: u32, report: Option<EvalReport>, path: &Path| -> Result<(), TrainError> {
        let net = network_with_head(backbone, head, class_names.len())?;
        let mut meta = network_meta(net.as_ref(), class_names.clone());
        meta.training = Some(config.clone());
        meta.dataset = Some(provenance.clone());
        meta.epoch = epoch;
        meta.validation = report.filter(|report| report.images > 0);
        save_network(net.var_store(), &meta, path)?;
        Ok(())
    };
    let last = run_dir.join(epoch_checkpoint_name(config.epochs));
    save(&head.snapshot(), config.epochs, last_report, &last)?;
    on_event(TrainEvent::CheckpointSaved { path: last.clone(), epoch: config.epochs, is_best: false });
    let best_path = match best.1 {
        Some((weights, report, epoch)) => {
            let path = run_dir.join(BEST_CHECKPOINT);
            save(&weights, epoch, Some(report), &path)?;
            on_event(TrainEvent::CheckpointSaved { path: path.clone(), epoch, is_best: true });
            Some(path)
        }
        None => None,
    };
    let history_path = run_dir.join(HISTORY_FILE);
    let history_json = serde_json::to_vec_pretty(&history).expect("history serialises");
    write_atomically(&history_path, &history_json).map_err(|source| TrainError::Io { path: history_path, source })?;
    Ok(TrainOutcome::Finished { best: best_path, last: Some(last), history })
}

/// A k-fold cross-validation of a linear-head recipe: per fold, the accuracy on its held-out
/// photos (one view each) of a head trained on the others. Seconds, once the features exist.
pub fn cross_validate_linear(
    features: &Features,
    labels: &[usize],
    class_names: &[String],
    config: &TrainConfig,
    folds: u32,
    cancel: &AtomicBool,
) -> Result<Vec<f64>, TrainError> {
    let fold_of = stratified_folds(labels, folds, config.seed);
    let mut accuracies = Vec::with_capacity(folds as usize);
    for fold in 0..folds {
        let (train, held_out): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| fold_of[i] != fold);
        let mut last = 0.0;
        let mut on_epoch = |end: EpochEnd, _: &LinearHead| {
            last = end.record.validation_accuracy;
            Ok(())
        };
        if fit_head(features, labels, class_names, &train, &held_out, config, cancel, &mut on_epoch)?.is_none() {
            return Err(TrainError::Cancelled);
        }
        accuracies.push(last);
    }
    Ok(accuracies)
}
