//! Fine-tuning a pretrained backbone ("finetune" mode of transfer learning): the network's last
//! `unfreeze` stages and a new last layer are trained on augmented photos at the network's input
//! size, the rest stays as it was pretrained. The new last layer starts from a linear head fit
//! on the backbone's cached features, so the first steps refine the backbone instead of fighting
//! a random head. Checkpoints, events, history and resume work as for the paper's network.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use tch::{COptimizer, Kind, Tensor};

use super::checkpoint::{CheckpointError, save_network};
use super::data::{Photos, SkippedFile, holdout_split, stratified_folds};
use super::eval::{EvalReport, confusion_matrix, report_from_confusion};
use super::fsutil::write_atomically;
use super::image_input::images_to_tensor;
use super::network::import::{LoadedNetwork, load_network, network_meta};
use super::network::{Architecture, Network, build_network};
use super::recipe::{TrainConfig, TransferMode};
use super::rng::SeededRng;
use super::train::{
    BEST_CHECKPOINT, EpochRecord, HISTORY_FILE, TrainError, TrainEvent, TrainOutcome, ValidationPhoto, augment_into, epoch_checkpoint_name,
    prune_epoch_checkpoints, read_history,
};
use super::transfer::{Features, fit_start_head, network_with_head};

/// Share of the pooled features dropped before the last layer while training (EfficientNet's
/// own rate for its classifier).
const HEAD_DROPOUT: f64 = 0.2;

/// Photos evaluated at once on the held-out photos.
const EVAL_BATCH: usize = 32;

/// The stages fine-tuning trains besides the last layer: the last `unfreeze` before the pooling.
pub fn trainable_stages(net: &dyn Network, unfreeze: u32) -> Range<usize> {
    let pool = pool_stage(net);
    pool.saturating_sub(unfreeze as usize)..pool
}

/// The pooling stage (the one before the last layer).
fn pool_stage(net: &dyn Network) -> usize {
    net.spec().layers.len().saturating_sub(2)
}

/// Refuses an `unfreeze` larger than the stages `architecture` has before its pooling.
pub fn check_unfreeze(architecture: Architecture, unfreeze: u32) -> Result<(), TrainError> {
    let Some(net) = build_network(architecture, 1, tch::Device::Cpu) else {
        return Err(TrainError::InvalidConfig(format!("{} cannot be fine-tuned", architecture.display_name())));
    };
    let stages = pool_stage(net.as_ref());
    if unfreeze as usize > stages {
        let last = net.spec().layers[stages - 1].name.clone();
        return Err(TrainError::InvalidConfig(format!(
            "--unfreeze {unfreeze} is more than {} has: it has {stages} stages before its pooling ({} … {last})",
            architecture.display_name(),
            net.spec().layers[0].name
        )));
    }
    Ok(())
}

/// Fine-tunes `backbone` on `photos` as `config` says (its pretrained start must be the
/// finetune mode), writing checkpoints of the whole network into `run_dir` with the events the
/// paper's training sends. `features` (the backbone's, from [`super::transfer::backbone_features`])
/// give the last layer its start; with `resume`, the run continues from that checkpoint instead.
#[allow(clippy::too_many_arguments)]
pub fn train_finetune(
    backbone: &LoadedNetwork,
    photos: &dyn Photos,
    features: Option<&Features>,
    config: &TrainConfig,
    run_dir: &Path,
    resume: Option<&Path>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    let unfreeze = match config.pretrained.as_ref().map(|start| start.mode) {
        Some(TransferMode::Finetune { unfreeze }) => unfreeze,
        _ => return Err(TrainError::InvalidConfig("fine-tuning needs a recipe whose start is --mode finetune".into())),
    };
    check_recipe(config)?;
    check_unfreeze(backbone.net.spec().architecture, unfreeze)?;
    std::fs::create_dir_all(run_dir).map_err(|source| TrainError::Io { path: run_dir.to_path_buf(), source })?;
    let labels = photos.labels();
    let class_names = photos.class_names().to_vec();
    let (train, validation) = holdout_split(labels, config);
    if train.is_empty() {
        return Err(TrainError::EmptyTrainingSplit);
    }
    let Some((net, first_epoch, mut history)) = starting_network(backbone, photos, features, config, &train, run_dir, resume, cancel)?
    else {
        return Ok(TrainOutcome::Cancelled { last: None, history: Vec::new() });
    };
    let mut trainer = Trainer::new(net, unfreeze, config)?;
    let validation_images = read_photos(photos, &validation)?;
    let validation_labels: Vec<usize> = validation.iter().map(|&i| labels[i]).collect();
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    on_event(TrainEvent::Started {
        train_images: train.len(),
        validation_images: validation.len(),
        steps_per_epoch,
        first_epoch: first_epoch + 1,
        epochs: config.epochs,
    });
    let provenance = crate::engine::atlas::embedded::DatasetProvenance::of(photos.root(), photos.paths(), labels, class_names.len());
    let mut best_accuracy = history.iter().map(|r| r.validation_accuracy).fold(f64::NEG_INFINITY, f64::max);
    let mut best_path = run_dir.join(BEST_CHECKPOINT).exists().then(|| run_dir.join(BEST_CHECKPOINT));
    let mut last_path = resume.map(Path::to_path_buf);
    for epoch_index in first_epoch..config.epochs {
        let epoch = epoch_index + 1;
        let started = Instant::now();
        let Some((train_loss, train_accuracy)) = trainer.epoch(photos, &train, epoch_index, cancel, on_event)? else {
            return Ok(TrainOutcome::Cancelled { last: last_path, history });
        };
        let (report, predicted, confidence) = evaluate(trainer.net.as_ref(), &validation_images, &validation_labels, &class_names);
        let record = EpochRecord {
            epoch,
            train_loss,
            train_accuracy,
            validation_loss: report.loss,
            validation_accuracy: report.accuracy,
            learning_rate: config.learning_rate_at(epoch_index, 1.0),
            duration_secs: started.elapsed().as_secs_f64(),
        };
        let held_out = validation
            .iter()
            .zip(predicted.iter().zip(&confidence))
            .map(|(&i, (&p, &c))| ValidationPhoto { path: photos.paths()[i].clone(), truth: labels[i], predicted: p, confidence: c })
            .collect();
        history.push(record.clone());
        on_event(TrainEvent::Epoch { record: record.clone(), validation: report.clone(), photos: held_out });

        let mut meta = network_meta(trainer.net.as_ref(), class_names.clone());
        meta.training = Some(config.clone());
        meta.dataset = Some(provenance.clone());
        meta.epoch = epoch;
        meta.validation = (report.images > 0).then(|| report.clone());
        if !validation.is_empty() && record.validation_accuracy > best_accuracy {
            best_accuracy = record.validation_accuracy;
            let path = run_dir.join(BEST_CHECKPOINT);
            save_network(trainer.net.var_store(), &meta, &path)?;
            on_event(TrainEvent::CheckpointSaved { path: path.clone(), epoch, is_best: true });
            best_path = Some(path);
        }
        if epoch % config.checkpoint_every.max(1) == 0 || epoch == config.epochs {
            let path = run_dir.join(epoch_checkpoint_name(epoch));
            save_network(trainer.net.var_store(), &meta, &path)?;
            on_event(TrainEvent::CheckpointSaved { path: path.clone(), epoch, is_best: false });
            last_path = Some(path);
            prune_epoch_checkpoints(run_dir, config.keep_last, epoch);
        }
        let history_path = run_dir.join(HISTORY_FILE);
        let history_json = serde_json::to_vec_pretty(&history).expect("history serialises");
        write_atomically(&history_path, &history_json).map_err(|source| TrainError::Io { path: history_path, source })?;
    }
    Ok(TrainOutcome::Finished { best: best_path, last: last_path, history })
}

/// The parts of a recipe fine-tuning does not have, refused rather than ignored.
fn check_recipe(config: &TrainConfig) -> Result<(), TrainError> {
    super::train::validate_config(config)?;
    if !config.mixing.is_off() || config.ema_decay > 0.0 {
        return Err(TrainError::InvalidConfig(
            "mixup, CutMix and weight averaging are for the paper's network; fine-tuning uses flips, crops and colour jitter".into(),
        ));
    }
    Ok(())
}

/// A run's network, the epoch it starts after, and the history so far.
type Start = (Box<dyn Network>, u32, Vec<EpochRecord>);

/// The network a run starts from, the epoch it starts after and the history so far: the
/// checkpoint of `resume`, or the backbone with a last layer fit on the features. None when
/// cancelled while fitting that layer.
#[allow(clippy::too_many_arguments)]
fn starting_network(
    backbone: &LoadedNetwork,
    photos: &dyn Photos,
    features: Option<&Features>,
    config: &TrainConfig,
    train: &[usize],
    run_dir: &Path,
    resume: Option<&Path>,
    cancel: &AtomicBool,
) -> Result<Option<Start>, TrainError> {
    let class_names = photos.class_names();
    if let Some(path) = resume {
        let loaded = load_network(path, backbone.net.device())?;
        let mismatch = if loaded.meta.class_names != class_names {
            Some(format!("{} was trained on classes {:?}, the data set has {:?}", path.display(), loaded.meta.class_names, class_names))
        } else if loaded.net.spec().architecture != backbone.net.spec().architecture {
            Some(format!("{} is a {}, not a {}", path.display(), loaded.meta.architecture, backbone.meta.architecture))
        } else {
            None
        };
        if let Some(message) = mismatch {
            return Err(TrainError::ResumeMismatch(message));
        }
        let history = read_history(&run_dir.join(HISTORY_FILE)).into_iter().filter(|r| r.epoch <= loaded.meta.epoch).collect();
        return Ok(Some((loaded.net, loaded.meta.epoch, history)));
    }
    let Some(features) = features else {
        return Err(TrainError::InvalidConfig("fine-tuning from the start needs the backbone's features".into()));
    };
    let name = backbone.net.spec().architecture.name();
    let Some(head) = fit_start_head(features, photos.labels(), class_names, train, name, config.seed, cancel)? else {
        return Ok(None);
    };
    Ok(Some((network_with_head(backbone, &head, class_names.len())?, 0, Vec::new())))
}

/// Photos `indices` of `photos`, decoded at the network's size.
fn read_photos(photos: &dyn Photos, indices: &[usize]) -> Result<Vec<image::RgbImage>, TrainError> {
    let mut images = Vec::with_capacity(indices.len());
    for &i in indices {
        let read = photos.read(i..i + 1).map_err(unreadable)?;
        images.extend(read.iter().cloned());
    }
    Ok(images)
}

fn unreadable(file: SkippedFile) -> TrainError {
    TrainError::Io { path: file.path, source: std::io::Error::other(file.reason) }
}

/// One augmented batch, ready for the optimiser.
struct Batch {
    pixels: Vec<f32>,
    targets: Vec<i64>,
    /// Per photo and pooled feature: 0 or 1 / (1 - dropout).
    keep: Vec<f32>,
}

/// The network being fine-tuned, which of its stages learn, and their optimiser.
struct Trainer<'a> {
    net: Box<dyn Network>,
    stages: Range<usize>,
    optimizer: COptimizer,
    config: &'a TrainConfig,
}

impl<'a> Trainer<'a> {
    /// Marks the last layer and the last `unfreeze` stages' weights (not their running
    /// statistics) as learning and everything else as fixed, and gives the learning ones to AdamW.
    fn new(net: Box<dyn Network>, unfreeze: u32, config: &'a TrainConfig) -> Result<Trainer<'a>, TrainError> {
        let stages = trainable_stages(net.as_ref(), unfreeze);
        let logits = net.spec().layers.len() - 1;
        let prefixes: Vec<String> = stages.clone().chain([logits]).flat_map(|stage| net.layer_prefixes(stage)).collect();
        let torch = |source| TrainError::Checkpoint(CheckpointError::Torch { path: PathBuf::new(), source });
        let mut optimizer = COptimizer::adamw(config.learning_rate, 0.9, 0.999, config.weight_decay, 1e-8, false).map_err(torch)?;
        let mut variables: Vec<(String, Tensor)> = net.var_store().variables().into_iter().collect();
        // The optimiser's order does not change the result, but a fixed order keeps it reproducible.
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, tensor) in variables {
            let statistic = name.ends_with("running_mean") || name.ends_with("running_var") || name.ends_with("num_batches_tracked");
            let learns = !statistic && prefixes.iter().any(|prefix| name.starts_with(prefix.as_str()));
            let tensor = tensor.set_requires_grad(learns);
            if learns {
                optimizer.add_parameters(&tensor, 0).map_err(torch)?;
            }
        }
        Ok(Trainer { net, stages, optimizer, config })
    }

    /// One pass over `train` (shuffled by the seed and epoch); returns the mean loss and accuracy
    /// on the augmented photos, None when cancelled.
    fn epoch(
        &mut self,
        photos: &dyn Photos,
        train: &[usize],
        epoch_index: u32,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<Option<(f64, f64)>, TrainError> {
        let config = self.config;
        let epoch = epoch_index + 1;
        let batches = epoch_batches(train, config, epoch);
        let side = self.net.spec().input_size;
        let dim = self.net.spec().layers[pool_stage(self.net.as_ref())].channels() as usize;
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0i64, 0usize);
        std::thread::scope(|scope| -> Result<Option<(f64, f64)>, TrainError> {
            // Photos are read and augmented on their own thread, two batches ahead.
            let (sender, receiver) = mpsc::sync_channel::<Result<Batch, SkippedFile>>(2);
            let batches = &batches;
            scope.spawn(move || {
                for (number, batch) in batches.iter().enumerate() {
                    if sender.send(prepare_batch(photos, batch, config, dim, epoch, number)).is_err() {
                        return;
                    }
                }
            });
            for step in 1..=batches.len() {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                let Ok(batch) = receiver.recv() else { break };
                let batch = batch.map_err(unreadable)?;
                let rate = config.learning_rate_at(epoch_index, (step - 1) as f64 / batches.len() as f64);
                let torch = |source| TrainError::Checkpoint(CheckpointError::Torch { path: PathBuf::new(), source });
                self.optimizer.set_learning_rate(rate).map_err(torch)?;
                let count = batch.targets.len() as i64;
                let images = Tensor::from_slice(&batch.pixels).view([count, 3, side, side]);
                let targets = Tensor::from_slice(&batch.targets);
                let keep = Tensor::from_slice(&batch.keep).view([count, dim as i64]);
                // Convolutions in bfloat16 where the process computes mixed; the loss in float32.
                let logits = {
                    let _mixed = super::precision::mixed(self.net.device());
                    self.forward_training(&images, &keep).to_kind(Kind::Float)
                };
                let loss = logits.cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::Mean, -100, config.label_smoothing);
                let value = loss.double_value(&[]);
                if !value.is_finite() {
                    return Err(TrainError::NonFiniteLoss { epoch, step, value });
                }
                self.optimizer.zero_grad().map_err(torch)?;
                loss.backward();
                self.optimizer.step().map_err(torch)?;
                loss_sum += value * count as f64;
                correct += logits.argmax(1, false).eq_tensor(&targets).sum(Kind::Int64).int64_value(&[]);
                seen += count as usize;
                on_event(TrainEvent::Step { epoch, step, steps_per_epoch: batches.len(), loss: value });
            }
            Ok(Some((loss_sum / seen.max(1) as f64, correct as f64 / seen.max(1) as f64)))
        })
    }

    /// Logits of a training batch: the fixed stages without a graph and with their running
    /// statistics, the learning stages with batch statistics, dropout before the last layer.
    fn forward_training(&self, images: &Tensor, keep: &Tensor) -> Tensor {
        let net = self.net.as_ref();
        // Channels-last in memory: oneDNN's convolutions need no reordering of it.
        let images = images.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
        let fixed = tch::no_grad(|| match self.stages.start {
            0 => net.spec().normalisation.apply(&images),
            first => net.forward_to(&images, first - 1, false),
        });
        let mut x = fixed;
        for stage in self.stages.clone() {
            x = net.stage(stage, &x, true);
        }
        let pool = self.stages.end;
        let pooled = net.stage(pool, &x, false) * keep;
        net.stage(pool + 1, &pooled, false)
    }
}

/// The photos of each batch of `epoch` (1-based): `train` shuffled by the seed and epoch.
pub fn epoch_batches(train: &[usize], config: &TrainConfig, epoch: u32) -> Vec<Vec<usize>> {
    let mut order = train.to_vec();
    SeededRng::derive(config.seed, u64::from(epoch)).shuffle(&mut order);
    order.chunks(config.batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

/// Batch `number` of `epoch` as training sees it: CHW pixels in [0, 1], augmented, and labels
/// (what the benchmark hands its PyTorch peer, so both train on the same pixels).
pub fn training_batch(
    photos: &dyn Photos,
    batch: &[usize],
    config: &TrainConfig,
    epoch: u32,
    number: usize,
) -> Result<(Vec<f32>, Vec<i64>), SkippedFile> {
    prepare_batch(photos, batch, config, 0, epoch, number).map(|batch| (batch.pixels, batch.targets))
}

/// Batch `number` of an epoch: its photos augmented as the recipe says and its dropout masks,
/// every draw from the seed, epoch and place, so a run repeats exactly.
fn prepare_batch(
    photos: &dyn Photos,
    batch: &[usize],
    config: &TrainConfig,
    dim: usize,
    epoch: u32,
    number: usize,
) -> Result<Batch, SkippedFile> {
    let mut pixels = Vec::new();
    for (slot, &index) in batch.iter().enumerate() {
        let read = photos.read(index..index + 1)?;
        let Some(image) = read.first() else { continue };
        let start = pixels.len();
        pixels.resize(start + 3 * (image.width() * image.height()) as usize, 0.0);
        let stream = (u64::from(epoch) << 32) ^ ((number * config.batch_size + slot) as u64);
        augment_into(image, &config.augmentation, &mut SeededRng::derive(config.seed ^ 0xa5a5_a5a5, stream), &mut pixels[start..]);
    }
    let targets = batch.iter().map(|&i| photos.labels()[i] as i64).collect();
    let mut rng = SeededRng::derive(config.seed ^ 0x5eed_d20f, (u64::from(epoch) << 32) ^ number as u64);
    let scale = (1.0 / (1.0 - HEAD_DROPOUT)) as f32;
    let keep = (0..batch.len() * dim).map(|_| if rng.next_f64() < HEAD_DROPOUT { 0.0 } else { scale }).collect();
    Ok(Batch { pixels, targets, keep })
}

/// The network's report on held-out photos, and per photo the class it names and its probability.
fn evaluate(net: &dyn Network, images: &[image::RgbImage], labels: &[usize], class_names: &[String]) -> (EvalReport, Vec<usize>, Vec<f32>) {
    let (mut predicted, mut confidence, mut loss_sum) = (Vec::new(), Vec::new(), 0.0);
    tch::no_grad(|| {
        for (chunk, truth) in images.chunks(EVAL_BATCH).zip(labels.chunks(EVAL_BATCH)) {
            let batch = images_to_tensor(chunk.iter()).to_device(net.device());
            let logits = net.logits(&batch, false).to_kind(Kind::Float);
            let targets = Tensor::from_slice(&truth.iter().map(|&t| t as i64).collect::<Vec<_>>());
            loss_sum += logits.cross_entropy_for_logits(&targets).double_value(&[]) * truth.len() as f64;
            let (best, best_index) = logits.softmax(1, Kind::Float).max_dim(1, false);
            predicted.extend(Vec::<i64>::try_from(&best_index).unwrap_or_default().into_iter().map(|p| p as usize));
            confidence.extend(Vec::<f32>::try_from(&best).unwrap_or_default());
        }
    });
    let loss = loss_sum / labels.len().max(1) as f64;
    let report = report_from_confusion(confusion_matrix(labels, &predicted, class_names.len()), class_names, loss);
    (report, predicted, confidence)
}

/// A k-fold cross-validation of a fine-tuning recipe: per fold, a run on the other folds'
/// photos (in `out/fold-N`, without the epoch checkpoints of a kept run), and its accuracy on
/// the fold's photos (one view each) after the last epoch.
#[allow(clippy::too_many_arguments)]
pub fn cross_validate_finetune(
    backbone: &LoadedNetwork,
    photos: &dyn Photos,
    features: &Features,
    config: &TrainConfig,
    folds: u32,
    out: &Path,
    cancel: &AtomicBool,
    on_fold: &mut dyn FnMut(u32, &EpochRecord),
) -> Result<Vec<f64>, TrainError> {
    let fold_of = stratified_folds(photos.labels(), folds, config.seed);
    debug_assert_eq!(fold_of.len(), photos.len());
    let mut accuracies = Vec::with_capacity(folds as usize);
    for fold in 0..folds {
        let recipe = TrainConfig {
            holdout: crate::engine::recipe::Holdout::Fold { folds, index: fold },
            checkpoint_every: config.epochs.max(1),
            keep_last: 1,
            ..config.clone()
        };
        let mut on_event = |event: TrainEvent| {
            if let TrainEvent::Epoch { record, .. } = &event {
                on_fold(fold, record);
            }
        };
        let run_dir = out.join(format!("fold-{}", fold + 1));
        match train_finetune(backbone, photos, Some(features), &recipe, &run_dir, None, cancel, &mut on_event)? {
            TrainOutcome::Finished { history, .. } => accuracies.push(history.last().map_or(0.0, |r| r.validation_accuracy)),
            TrainOutcome::Cancelled { .. } => return Err(TrainError::Cancelled),
        }
    }
    Ok(accuracies)
}
