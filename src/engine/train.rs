//! Training the network on a [`Dataset`]: the paper's recipe by default (Adam, lr 0.001, batch 64,
//! dropout 0.5, shuffled batches, 80/20 split, a checkpoint every 2 epochs), plus schedule,
//! weight decay, augmentation, best-checkpoint tracking and resuming.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn, nn::OptimizerConfig};

use super::checkpoint::{CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint};
use super::data::{Dataset, holdout_split};
use super::eval::{EvalReport, evaluate_with_predictions};
use super::fsutil::write_atomically;
use super::image_input::images_to_tensor;
use super::model::{DropoutMasks, INPUT_SIZE, Net};
pub use super::recipe::{Augmentation, Holdout, LrSchedule, Mixing, TrainConfig};
use super::rng::SeededRng;

/// One epoch's numbers, as plotted and tabled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: u32,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub validation_loss: f64,
    pub validation_accuracy: f64,
    pub learning_rate: f64,
    pub duration_secs: f64,
}

/// Progress reported while training.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    Started {
        train_images: usize,
        validation_images: usize,
        steps_per_epoch: usize,
        first_epoch: u32,
        epochs: u32,
    },
    /// After each optimiser step. `epoch` is 1-based, `step` 1-based within the epoch.
    Step {
        epoch: u32,
        step: usize,
        steps_per_epoch: usize,
        loss: f64,
    },
    Epoch {
        record: EpochRecord,
        validation: EvalReport,
        /// Every validation photo with what the network said of it after this epoch.
        photos: Vec<ValidationPhoto>,
    },
    CheckpointSaved {
        path: PathBuf,
        epoch: u32,
        is_best: bool,
    },
}

/// A validation photo after an epoch: its file, its true class and the network's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationPhoto {
    pub path: PathBuf,
    pub truth: usize,
    pub predicted: usize,
    /// Softmax probability of the predicted class.
    pub confidence: f32,
}

/// How a run ended when it did not fail.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainOutcome {
    Finished {
        best: Option<PathBuf>,
        last: Option<PathBuf>,
        history: Vec<EpochRecord>,
    },
    /// Stopped by the user; the files written so far are intact.
    Cancelled {
        last: Option<PathBuf>,
        history: Vec<EpochRecord>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the loss became {value} at epoch {epoch}, step {step}; try a lower learning rate")]
    NonFiniteLoss { epoch: u32, step: usize, value: f64 },
    #[error("the training split is empty: the data set needs at least two images per class")]
    EmptyTrainingSplit,
    #[error("cannot resume: {0}")]
    ResumeMismatch(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid setting: {0}")]
    InvalidConfig(String),
    #[error("cancelled")]
    Cancelled,
}

/// File name of the checkpoint written after `epoch`.
pub fn epoch_checkpoint_name(epoch: u32) -> String {
    format!("epoch-{epoch:03}.safetensors")
}
pub const BEST_CHECKPOINT: &str = "best.safetensors";
pub const HISTORY_FILE: &str = "history.json";

/// Trains on `dataset`, writing checkpoints into `run_dir`. With `resume`, starts from that
/// checkpoint's weights and epoch (the optimiser's moments start afresh). Runs on the calling
/// thread; `cancel` is checked before every batch.
pub fn train(
    dataset: &Dataset,
    config: &TrainConfig,
    run_dir: &Path,
    resume: Option<&Path>,
    device: Device,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<TrainOutcome, TrainError> {
    validate_config(config)?;
    if config.pretrained.is_some() {
        return Err(TrainError::InvalidConfig("a recipe that starts from a pretrained network is trained by engine::transfer".into()));
    }
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(run_dir).map_err(io_error(run_dir))?;
    // Every random draw of a run (initial weights, shuffling, augmentation, dropout) comes from
    // the seed alone, not from libtorch's global generator, which other jobs share.

    let (net, first_epoch, mut history) = match resume {
        Some(path) => {
            let checkpoint = load_checkpoint(path, device)?;
            if checkpoint.meta.class_names != dataset.class_names {
                return Err(TrainError::ResumeMismatch(format!(
                    "{} was trained on classes {:?}, the data set has {:?}",
                    path.display(),
                    checkpoint.meta.class_names,
                    dataset.class_names
                )));
            }
            let history =
                read_history(&run_dir.join(HISTORY_FILE)).into_iter().filter(|record| record.epoch <= checkpoint.meta.epoch).collect();
            (checkpoint.net, checkpoint.meta.epoch, history)
        }
        None => (Net::seeded(dataset.class_names.len(), device, config.seed), 0, Vec::new()),
    };
    let (train_indices, validation_indices) = holdout_split(&dataset.labels, config);
    if train_indices.is_empty() {
        return Err(TrainError::EmptyTrainingSplit);
    }
    let validation_images = images_to_tensor(validation_indices.iter().map(|&i| &dataset.images[i]));
    let validation_labels: Vec<usize> = validation_indices.iter().map(|&i| dataset.labels[i]).collect();
    let steps_per_epoch = train_indices.len().div_ceil(config.batch_size);

    let mut optimizer = if config.weight_decay > 0.0 {
        nn::AdamW { wd: config.weight_decay, ..Default::default() }.build(&net.vs, config.learning_rate)
    } else {
        nn::Adam::default().build(&net.vs, config.learning_rate)
    }
    .map_err(|source| TrainError::Checkpoint(CheckpointError::Torch { path: run_dir.to_path_buf(), source }))?;

    // With an average of the weights, that average is what is evaluated and saved; it starts
    // from the initial (or resumed) weights.
    let averaged = (config.ema_decay > 0.0).then(|| WeightAverage::new(&net, config.ema_decay));
    let mut steps_taken = 0u64;

    on_event(TrainEvent::Started {
        train_images: train_indices.len(),
        validation_images: validation_indices.len(),
        steps_per_epoch,
        first_epoch: first_epoch + 1,
        epochs: config.epochs,
    });
    // Recorded in every checkpoint instead of the data folder's path.
    let provenance =
        crate::engine::atlas::embedded::DatasetProvenance::of(&dataset.root, &dataset.paths, &dataset.labels, dataset.class_names.len());
    let mut best_accuracy = history.iter().map(|r| r.validation_accuracy).fold(f64::NEG_INFINITY, f64::max);
    let mut best_path = run_dir.join(BEST_CHECKPOINT).exists().then(|| run_dir.join(BEST_CHECKPOINT));
    let mut last_path = resume.map(Path::to_path_buf);

    for epoch_index in first_epoch..config.epochs {
        let epoch = epoch_index + 1;
        let started = Instant::now();
        let mut order = train_indices.clone();
        SeededRng::derive(config.seed, u64::from(epoch)).shuffle(&mut order);
        let batches: Vec<Vec<usize>> = order.chunks(config.batch_size).map(<[usize]>::to_vec).collect();

        let mut loss_sum = 0.0;
        let mut correct = 0i64;
        let mut seen = 0usize;
        let cancelled = std::thread::scope(|scope| -> Result<bool, TrainError> {
            // Batches are assembled (and augmented) on their own thread, two ahead of the optimiser.
            let (sender, receiver) = mpsc::sync_channel::<PreparedBatch>(2);
            let batches = &batches;
            scope.spawn(move || {
                for (batch_number, batch) in batches.iter().enumerate() {
                    let prepared = prepare_batch(dataset, batch, config, epoch, batch_number);
                    if sender.send(prepared).is_err() {
                        return; // the optimiser stopped (cancel or error)
                    }
                }
            });
            for step in 1..=batches.len() {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(true);
                }
                let Ok(PreparedBatch { pixels, targets, soft_targets, dropout }) = receiver.recv() else { break };
                let count = targets.len() as i64;
                optimizer.set_lr(config.learning_rate_at(epoch_index, (step - 1) as f64 / batches.len() as f64));
                // Channels-last (NHWC in memory, NCHW to every op): oneDNN's convolutions run
                // without reordering their input and output, a fifth of an epoch on CPU.
                let images = Tensor::from_slice(&pixels)
                    .view([count, 3, INPUT_SIZE, INPUT_SIZE])
                    .permute([0, 2, 3, 1])
                    .contiguous()
                    .permute([0, 3, 1, 2])
                    .to_device(device);
                let targets = Tensor::from_slice(&targets).to_device(device);
                let dropout = DropoutMasks::from_values(&dropout, count as usize, device);
                // Convolutions in bfloat16 where the process computes mixed; the loss in float32.
                let logits = {
                    let _mixed = super::precision::mixed(device);
                    net.forward_training(&images, &dropout).to_kind(Kind::Float)
                };
                let loss = match &soft_targets {
                    Some(soft) => {
                        let soft = Tensor::from_slice(soft).view([count, -1]).to_device(device);
                        -(logits.log_softmax(1, Kind::Float) * soft).sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float)
                    }
                    None => logits.cross_entropy_for_logits(&targets),
                };
                let loss_value = loss.double_value(&[]);
                if !loss_value.is_finite() {
                    return Err(TrainError::NonFiniteLoss { epoch, step, value: loss_value });
                }
                optimizer.backward_step(&loss);
                steps_taken += 1;
                if let Some(average) = &averaged {
                    average.update(steps_taken);
                }
                loss_sum += loss_value * count as f64;
                correct += logits.argmax(1, false).eq_tensor(&targets).sum(Kind::Int64).int64_value(&[]);
                seen += count as usize;
                on_event(TrainEvent::Step { epoch, step, steps_per_epoch: batches.len(), loss: loss_value });
            }
            Ok(false)
        })?;
        if cancelled {
            return Ok(TrainOutcome::Cancelled { last: last_path, history });
        }

        let evaluated = averaged.as_ref().map_or(&net, |average| &average.net);
        let (validation, predictions) =
            evaluate_with_predictions(evaluated, &validation_images, &validation_labels, &dataset.class_names, 256);
        let photos = validation_indices
            .iter()
            .zip(&predictions)
            .map(|(&i, p)| ValidationPhoto {
                path: dataset.paths[i].clone(),
                truth: dataset.labels[i],
                predicted: p.predicted,
                confidence: p.confidence,
            })
            .collect();
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            validation_loss: validation.loss,
            validation_accuracy: validation.accuracy,
            learning_rate: config.learning_rate_at(epoch_index, 1.0),
            duration_secs: started.elapsed().as_secs_f64(),
        };
        history.push(record.clone());
        on_event(TrainEvent::Epoch { record: record.clone(), validation: validation.clone(), photos });

        let mut meta = CheckpointMeta::new(dataset.class_names.clone());
        meta.training = Some(config.clone());
        meta.dataset = Some(provenance.clone());
        meta.epoch = epoch;
        meta.validation = Some(validation.clone());
        if !validation_indices.is_empty() && record.validation_accuracy > best_accuracy {
            best_accuracy = record.validation_accuracy;
            let path = run_dir.join(BEST_CHECKPOINT);
            save_checkpoint(evaluated, &meta, &path)?;
            on_event(TrainEvent::CheckpointSaved { path: path.clone(), epoch, is_best: true });
            best_path = Some(path);
        }
        if epoch % config.checkpoint_every.max(1) == 0 || epoch == config.epochs {
            let path = run_dir.join(epoch_checkpoint_name(epoch));
            save_checkpoint(evaluated, &meta, &path)?;
            on_event(TrainEvent::CheckpointSaved { path: path.clone(), epoch, is_best: false });
            last_path = Some(path);
            prune_epoch_checkpoints(run_dir, config.keep_last, epoch);
        }
        let history_path = run_dir.join(HISTORY_FILE);
        let history_json = serde_json::to_vec_pretty(&history).expect("history serialises");
        write_atomically(&history_path, &history_json).map_err(io_error(&history_path))?;
    }
    Ok(TrainOutcome::Finished { best: best_path, last: last_path, history })
}

/// Refuses settings no training can use (shared with fine-tuning, which adds its own).
pub(crate) fn validate_config(config: &TrainConfig) -> Result<(), TrainError> {
    let invalid = |message: &str| Err(TrainError::InvalidConfig(message.to_string()));
    if config.batch_size == 0 {
        return invalid("batch size must be at least 1");
    }
    if !(config.learning_rate > 0.0 && config.learning_rate.is_finite()) {
        return invalid("learning rate must be a positive number");
    }
    if !(0.0..1.0).contains(&config.validation_fraction) {
        return invalid("validation fraction must be in [0, 1)");
    }
    // NaN is refused too.
    if config.weight_decay.is_nan() || config.weight_decay < 0.0 {
        return invalid("weight decay must not be negative");
    }
    if !(0.05..=1.0).contains(&config.augmentation.crop_min_area) {
        return invalid("crop area must be between 0.05 and 1");
    }
    Ok(())
}

/// Reads a run's epoch history; a missing or unreadable file is an empty history.
pub fn read_history(path: &Path) -> Vec<EpochRecord> {
    std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

/// Deletes all but the newest `keep` epoch checkpoints (and their sidecars) in `run_dir`.
pub(crate) fn prune_epoch_checkpoints(run_dir: &Path, keep: usize, newest: u32) {
    let Ok(entries) = std::fs::read_dir(run_dir) else { return };
    let mut epochs: Vec<u32> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("epoch-")?.strip_suffix(".safetensors")?.parse().ok()
        })
        .filter(|&epoch| epoch <= newest)
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    for &epoch in epochs.iter().skip(keep.max(1)) {
        let path = run_dir.join(epoch_checkpoint_name(epoch));
        let _ = std::fs::remove_file(super::checkpoint::sidecar_path(&path));
        let _ = std::fs::remove_file(path);
    }
}

/// An exponential moving average of a network's weights, kept in a network of its own.
struct WeightAverage {
    net: Net,
    /// (averaged, live) pairs of the same variable.
    pairs: Vec<(Tensor, Tensor)>,
    decay: f64,
}

impl WeightAverage {
    fn new(live: &Net, decay: f64) -> WeightAverage {
        let net = live.duplicate();
        let live_variables = live.vs.variables();
        let pairs = net
            .vs
            .variables()
            .into_iter()
            .filter_map(|(name, averaged)| Some((averaged, live_variables.get(&name)?.shallow_clone())))
            .collect();
        WeightAverage { net, pairs, decay }
    }

    /// Folds in the live weights after optimiser step `step` (1-based). Early on the decay is
    /// smaller, so the average is not dominated by the random initial weights.
    fn update(&self, step: u64) {
        let decay = self.decay.min((1.0 + step as f64) / (10.0 + step as f64));
        tch::no_grad(|| {
            for (averaged, live) in &self.pairs {
                let mut averaged = averaged.shallow_clone();
                let _ = averaged.g_mul_scalar_(decay);
                let _ = averaged.g_add_(&(live * (1.0 - decay)));
            }
        });
    }
}

/// One batch as the optimiser takes it, assembled on the producer thread.
struct PreparedBatch {
    /// CHW floats in [0, 1], image after image.
    pixels: Vec<f32>,
    /// Each image's class (with mixing: the class of the larger share).
    targets: Vec<i64>,
    /// Target distributions, a row of class probabilities per image, when the recipe smooths or
    /// mixes labels.
    soft_targets: Option<Vec<f32>>,
    /// Values for [`DropoutMasks::from_values`].
    dropout: Vec<f32>,
}

/// Pixels and labels of one batch, augmented as configured, and its dropout masks. Each random
/// draw depends only on the seed, epoch and place in the epoch, so the result does not depend on
/// thread scheduling or on other work in the process.
fn prepare_batch(dataset: &Dataset, batch: &[usize], config: &TrainConfig, epoch: u32, batch_number: usize) -> PreparedBatch {
    let plane = (INPUT_SIZE * INPUT_SIZE) as usize;
    let mut pixels = vec![0f32; batch.len() * 3 * plane];
    // Sequential on purpose: this runs on the producer thread while libtorch's threads use every
    // core; a rayon pool here would spin against them and slow the optimiser down.
    pixels.chunks_mut(3 * plane).zip(batch).enumerate().for_each(|(slot, (out, &index))| {
        let stream = (u64::from(epoch) << 32) ^ ((batch_number * config.batch_size + slot) as u64);
        let mut rng = SeededRng::derive(config.seed ^ 0xa5a5_a5a5, stream);
        augment_into(&dataset.images[index], &config.augmentation, &mut rng, out);
    });
    let mut targets: Vec<i64> = batch.iter().map(|&i| dataset.labels[i] as i64).collect();
    let dropout =
        DropoutMasks::draw(batch.len(), &mut SeededRng::derive(config.seed ^ 0x5eed_d20f, (u64::from(epoch) << 32) ^ batch_number as u64));
    let soft_targets = config.soft_targets().then(|| {
        let classes = dataset.class_names.len();
        let mut rng = SeededRng::derive(config.seed ^ 0x3141_5926, (u64::from(epoch) << 32) ^ batch_number as u64);
        let shares = mix_batch(&mut pixels, &config.mixing, &mut rng);
        let mut soft = vec![0f32; batch.len() * classes];
        let smoothing = config.label_smoothing.clamp(0.0, 1.0);
        let original = targets.clone();
        for (row, out) in soft.chunks_mut(classes).enumerate() {
            let (own, partner, own_share) = shares.get(row).copied().unwrap_or((row, row, 1.0));
            let base = (smoothing / classes as f64) as f32;
            out.iter_mut().for_each(|p| *p = base);
            let keep = (1.0 - smoothing) as f32;
            out[original[own] as usize] += keep * own_share;
            out[original[partner] as usize] += keep * (1.0 - own_share);
            if own_share < 0.5 {
                targets[row] = original[partner];
            }
        }
        soft
    });
    PreparedBatch { pixels, targets, soft_targets, dropout }
}

/// Mixes each image of `pixels` (CHW images one after another) with a partner from the same
/// batch, by mixup or CutMix as `mixing` says. Returns, per image, (itself, its partner, its own
/// share of the label); empty when mixing is off.
fn mix_batch(pixels: &mut [f32], mixing: &Mixing, rng: &mut SeededRng) -> Vec<(usize, usize, f32)> {
    let side = INPUT_SIZE as usize;
    let image_len = 3 * side * side;
    let count = pixels.len() / image_len;
    if mixing.is_off() || count < 2 {
        return Vec::new();
    }
    let use_cutmix = match (mixing.mixup_alpha > 0.0, mixing.cutmix_alpha > 0.0) {
        (true, true) => rng.next_f64() < 0.5,
        (false, true) => true,
        _ => false,
    };
    let alpha = if use_cutmix { mixing.cutmix_alpha } else { mixing.mixup_alpha };
    let lambda = rng.beta(alpha, alpha);
    let mut partners: Vec<usize> = (0..count).collect();
    rng.shuffle(&mut partners);
    let original = pixels.to_vec();
    let mut own_share = lambda as f32;
    if use_cutmix {
        // A box of area (1 - λ) of the picture, clipped at the border; the label share follows
        // the area actually pasted.
        let cut = (1.0 - lambda).sqrt();
        let (box_w, box_h) = ((cut * side as f64) as usize, (cut * side as f64) as usize);
        let (centre_x, centre_y) = (rng.below(side), rng.below(side));
        let (x0, x1) = (centre_x.saturating_sub(box_w / 2), (centre_x + box_w / 2).min(side));
        let (y0, y1) = (centre_y.saturating_sub(box_h / 2), (centre_y + box_h / 2).min(side));
        own_share = 1.0 - ((x1 - x0) * (y1 - y0)) as f32 / (side * side) as f32;
        for (image, &partner) in partners.iter().enumerate() {
            for c in 0..3 {
                for y in y0..y1 {
                    let row = c * side * side + y * side;
                    let to = image * image_len + row;
                    let from = partner * image_len + row;
                    pixels[to + x0..to + x1].copy_from_slice(&original[from + x0..from + x1]);
                }
            }
        }
    } else {
        for (image, &partner) in partners.iter().enumerate() {
            let own = &mut pixels[image * image_len..(image + 1) * image_len];
            let other = &original[partner * image_len..(partner + 1) * image_len];
            own.iter_mut().zip(other).for_each(|(a, b)| *a = own_share * *a + (1.0 - own_share) * b);
        }
    }
    partners.into_iter().enumerate().map(|(image, partner)| (image, partner, own_share)).collect()
}

/// Writes `image` (square, the network's input side) as CHW floats into `out`, with a random
/// resized crop, flip and colour jitter.
pub fn augment_into(image: &RgbImage, augmentation: &Augmentation, rng: &mut SeededRng, out: &mut [f32]) {
    let side = image.width() as usize;
    let plane = side * side;
    let src = image.as_raw();
    let sample = |x: f64, y: f64, c: usize| -> f32 {
        // Bilinear, clamped at the border.
        let max = (side - 1) as f64;
        let (x, y) = (x.clamp(0.0, max), y.clamp(0.0, max));
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let at = |xx: usize, yy: usize| f32::from(src[(yy * side + xx) * 3 + c]);
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        (top * (1.0 - fy) + bottom * fy) / 255.0
    };
    // Crop window in source pixels.
    let (mut crop_x, mut crop_y, mut crop_w, mut crop_h) = (0.0, 0.0, side as f64, side as f64);
    if augmentation.crop_min_area < 1.0 {
        let area = rng.uniform(augmentation.crop_min_area, 1.0);
        let aspect = rng.uniform((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln()).exp();
        crop_w = ((area * aspect).sqrt() * side as f64).min(side as f64);
        crop_h = ((area / aspect).sqrt() * side as f64).min(side as f64);
        crop_x = rng.uniform(0.0, side as f64 - crop_w);
        crop_y = rng.uniform(0.0, side as f64 - crop_h);
    }
    let flip = augmentation.horizontal_flip && rng.next_f64() < 0.5;
    let scale_x = crop_w / side as f64;
    let scale_y = crop_h / side as f64;
    let identity = !flip && augmentation.crop_min_area >= 1.0;
    for y in 0..side {
        for x in 0..side {
            let source_x = if flip { side - 1 - x } else { x };
            for c in 0..3 {
                out[c * plane + y * side + x] = if identity {
                    f32::from(src[(y * side + x) * 3 + c]) / 255.0
                } else {
                    // Pixel centres map to pixel centres.
                    let sx = crop_x + (source_x as f64 + 0.5) * scale_x - 0.5;
                    let sy = crop_y + (y as f64 + 0.5) * scale_y - 0.5;
                    sample(sx, sy, c)
                };
            }
        }
    }
    if augmentation.colour_jitter > 0.0 {
        apply_colour_jitter(augmentation.colour_jitter, rng, &mut out[..3 * plane]);
    }
    if augmentation.random_erasing > 0.0 && rng.next_f64() < augmentation.random_erasing {
        erase_random_box(side, rng, out);
    }
}

/// Fills one rectangle of 2-25% of the picture, of aspect ratio 0.3-3.3, with uniform noise.
fn erase_random_box(side: usize, rng: &mut SeededRng, out: &mut [f32]) {
    let plane = side * side;
    let area = rng.uniform(0.02, 0.25) * plane as f64;
    let aspect = rng.uniform(0.3f64.ln(), (1.0f64 / 0.3).ln()).exp();
    let w = ((area * aspect).sqrt() as usize).clamp(1, side);
    let h = ((area / aspect).sqrt() as usize).clamp(1, side);
    let x0 = rng.below(side - w + 1);
    let y0 = rng.below(side - h + 1);
    for c in 0..3 {
        for y in y0..y0 + h {
            for value in &mut out[c * plane + y * side + x0..c * plane + y * side + x0 + w] {
                *value = rng.next_f64() as f32;
            }
        }
    }
}

/// Brightness, contrast and saturation of one CHW image, each scaled by a factor in [1 - j, 1 + j].
fn apply_colour_jitter(j: f64, rng: &mut SeededRng, out: &mut [f32]) {
    let plane = out.len() / 3;
    let brightness = rng.uniform(1.0 - j, 1.0 + j) as f32;
    let contrast = rng.uniform(1.0 - j, 1.0 + j) as f32;
    let saturation = rng.uniform(1.0 - j, 1.0 + j) as f32;
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let mut grey_sum = 0.0;
    for i in 0..plane {
        r[i] *= brightness;
        g[i] *= brightness;
        b[i] *= brightness;
        grey_sum += 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
    }
    let mean_grey = grey_sum / plane as f32;
    for i in 0..plane {
        let grey = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
        for channel in [&mut r[i], &mut g[i], &mut b[i]] {
            let saturated = grey + (*channel - grey) * saturation;
            *channel = (mean_grey + (saturated - mean_grey) * contrast).clamp(0.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: usize = (3 * INPUT_SIZE * INPUT_SIZE) as usize;

    /// A batch of `count` flat images, image i filled with the value i.
    fn flat_batch(count: usize) -> Vec<f32> {
        (0..count).flat_map(|i| std::iter::repeat_n(i as f32, IMAGE)).collect()
    }

    #[test]
    fn mixup_blends_each_image_with_its_partner_by_its_share() {
        let mut pixels = flat_batch(6);
        let shares = mix_batch(&mut pixels, &Mixing { mixup_alpha: 0.4, cutmix_alpha: 0.0 }, &mut SeededRng::new(9));
        assert_eq!(shares.len(), 6);
        let mut partners: Vec<usize> = shares.iter().map(|s| s.1).collect();
        partners.sort_unstable();
        assert_eq!(partners, (0..6).collect::<Vec<_>>(), "every image is somebody's partner once");
        for &(own, partner, share) in &shares {
            let expected = share * own as f32 + (1.0 - share) * partner as f32;
            assert!(pixels[own * IMAGE..(own + 1) * IMAGE].iter().all(|&v| (v - expected).abs() < 1e-5));
        }
    }

    #[test]
    fn cutmix_pastes_a_box_whose_area_sets_the_label_share() {
        let mut pixels = flat_batch(4);
        let shares = mix_batch(&mut pixels, &Mixing { mixup_alpha: 0.0, cutmix_alpha: 1.0 }, &mut SeededRng::new(2));
        for &(own, partner, share) in &shares {
            let image = &pixels[own * IMAGE..(own + 1) * IMAGE];
            let kept = image.iter().filter(|&&v| v == own as f32).count();
            if own != partner {
                assert!((kept as f32 / IMAGE as f32 - share).abs() < 1e-6, "kept {kept} of {IMAGE}, share {share}");
                assert!(image.iter().all(|&v| v == own as f32 || v == partner as f32));
            }
        }
    }

    #[test]
    fn beta_draws_have_the_right_mean() {
        let mut rng = SeededRng::new(1);
        for (a, b) in [(0.2, 0.2), (1.0, 1.0), (2.0, 5.0)] {
            let draws: Vec<f64> = (0..20_000).map(|_| rng.beta(a, b)).collect();
            assert!(draws.iter().all(|d| (0.0..=1.0).contains(d)));
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            assert!((mean - a / (a + b)).abs() < 0.01, "Beta({a}, {b}) mean {mean}");
        }
    }

    #[test]
    fn random_erasing_fills_one_box_with_noise() {
        let augmentation = Augmentation { random_erasing: 1.0, ..Augmentation::NONE };
        let image = RgbImage::from_pixel(INPUT_SIZE as u32, INPUT_SIZE as u32, image::Rgb([0, 0, 0]));
        let mut out = vec![0f32; IMAGE];
        augment_into(&image, &augmentation, &mut SeededRng::new(4), &mut out);
        let changed = out.iter().filter(|&&v| v != 0.0).count() as f64 / IMAGE as f64;
        assert!((0.015..=0.26).contains(&changed), "{changed} of the picture erased");
    }
}
