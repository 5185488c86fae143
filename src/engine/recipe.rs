//! The training recipe: everything that decides a run, as plain data. Checkpoints store it in
//! their sidecars and the training loop reads it, so it lives apart from both.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the learning rate changes over the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The paper's: the same rate throughout.
    Constant,
    /// Linear warm-up, then a cosine decay to zero at the last epoch.
    Cosine { warmup_epochs: u32 },
    /// Multiply by `gamma` every `every_epochs`.
    Step { every_epochs: u32, gamma: f64 },
}

/// Random changes to each training image, generated on a separate thread ahead of the optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augmentation {
    /// Mirror left-right with probability 1/2.
    pub horizontal_flip: bool,
    /// Random resized crop: smallest fraction of the image area kept (1.0 = off).
    pub crop_min_area: f64,
    /// Brightness, contrast and saturation each scaled by a factor in [1-j, 1+j] (0 = off).
    pub colour_jitter: f64,
    /// Probability of filling one random rectangle (2-25% of the image) with noise (0 = off).
    #[serde(default)]
    pub random_erasing: f64,
}

impl Augmentation {
    pub const NONE: Augmentation = Augmentation { horizontal_flip: false, crop_min_area: 1.0, colour_jitter: 0.0, random_erasing: 0.0 };
    /// A good default for small photo data sets.
    pub const STANDARD: Augmentation = Augmentation { horizontal_flip: true, crop_min_area: 0.5, colour_jitter: 0.2, random_erasing: 0.0 };

    pub fn is_off(&self) -> bool {
        !self.horizontal_flip && self.crop_min_area >= 1.0 && self.colour_jitter <= 0.0 && self.random_erasing <= 0.0
    }
}

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation::NONE
    }
}

/// Mixing pairs of training images and their labels (Zhang et al. 2018; Yun et al. 2019). With
/// both alphas above 0, each batch uses one of the two at random.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Mixing {
    /// Mixup: blend two images with weight λ ~ Beta(α, α), their labels likewise (0 = off).
    pub mixup_alpha: f64,
    /// CutMix: paste a rectangle of one image into another, labels weighted by area (0 = off).
    pub cutmix_alpha: f64,
}

impl Mixing {
    pub fn is_off(&self) -> bool {
        self.mixup_alpha <= 0.0 && self.cutmix_alpha <= 0.0
    }
}

/// Which photos a run holds out. The split is a pure function of the labels and the seed, so a
/// resumed run, the validation view and the mistakes explorer all see the same photos.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holdout {
    /// `validation_fraction` of each class.
    #[default]
    Fraction,
    /// Fold `index` (0-based) of a stratified `folds`-fold partition: one run of a
    /// cross-validation.
    Fold { folds: u32, index: u32 },
}

/// Everything that decides a training run; stored in each checkpoint's sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub epochs: u32,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub lr_schedule: LrSchedule,
    /// Decoupled weight decay (AdamW); 0 is plain Adam as in the paper.
    pub weight_decay: f64,
    pub augmentation: Augmentation,
    /// Smoothed one-hot targets: the true class gets 1 - ε + ε/K, every class ε/K (0 = off).
    pub label_smoothing: f64,
    pub mixing: Mixing,
    /// Evaluate and save an exponential moving average of the weights with this decay per step
    /// (0 = off; 0.99 averages over roughly the last hundred steps).
    pub ema_decay: f64,
    pub seed: u64,
    pub validation_fraction: f64,
    pub holdout: Holdout,
    /// Save `epoch-NNN.safetensors` every this many epochs (and at the last epoch).
    pub checkpoint_every: u32,
    /// How many `epoch-NNN` checkpoints to keep; `best.safetensors` is kept besides.
    pub keep_last: usize,
    /// The data folder trained on (informational).
    pub data_dir: Option<PathBuf>,
    /// Start from a pretrained network instead of the paper's network from scratch (absent in
    /// every recipe written before: from scratch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PretrainedStart>,
}

/// A start from a pretrained backbone (transfer learning): its architecture's name and what is
/// trained of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainedStart {
    /// The backbone's architecture (`efficientnet-lite0`).
    pub backbone: String,
    pub mode: TransferMode,
}

/// What transfer learning trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Only a new last layer, on the backbone's pooled features computed once.
    Linear,
    /// A new last layer and the backbone's last `unfreeze` blocks, with augmentation.
    Finetune { unfreeze: u32 },
}

/// The settings a linear head starts from: Adam at 1e-3 with decoupled weight decay, label
/// smoothing 0.1, batches of 64, 40 passes over the features (seconds). Chosen by 5-fold
/// cross-validation on flowers17 (docs/transfer.md has the candidates and their figures).
pub fn linear_head_recipe(backbone: &str) -> TrainConfig {
    TrainConfig {
        epochs: 40,
        batch_size: 64,
        learning_rate: 0.001,
        weight_decay: 0.01,
        label_smoothing: 0.1,
        checkpoint_every: 40,
        pretrained: Some(PretrainedStart { backbone: backbone.to_string(), mode: TransferMode::Linear }),
        ..TrainConfig::default()
    }
}

/// Stages fine-tuning trains unless told otherwise: EfficientNet-Lite0's head convolution and
/// its last seven blocks (everything at 14 x 14 and 7 x 7 after block 8).
pub const DEFAULT_UNFREEZE: u32 = 8;

/// The settings fine-tuning starts from: AdamW at 3e-4 with weight decay 0.01 on a cosine
/// schedule, label smoothing 0.1, batches of 32, flips, crops of at least a quarter of the photo
/// and colour jitter 0.2, 8 epochs; the last layer starts from a linear head. Chosen on flowers17
/// (docs/transfer.md has the candidates and their figures).
pub fn finetune_recipe(backbone: &str, unfreeze: u32) -> TrainConfig {
    TrainConfig {
        epochs: 8,
        batch_size: 32,
        learning_rate: 3e-4,
        lr_schedule: LrSchedule::Cosine { warmup_epochs: 0 },
        weight_decay: 0.01,
        label_smoothing: 0.1,
        augmentation: Augmentation { crop_min_area: 0.25, ..Augmentation::STANDARD },
        checkpoint_every: 1,
        keep_last: 2,
        pretrained: Some(PretrainedStart { backbone: backbone.to_string(), mode: TransferMode::Finetune { unfreeze } }),
        ..TrainConfig::default()
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            learning_rate: 0.001,
            lr_schedule: LrSchedule::Constant,
            weight_decay: 0.0,
            augmentation: Augmentation::NONE,
            label_smoothing: 0.0,
            mixing: Mixing::default(),
            ema_decay: 0.0,
            seed: 0,
            validation_fraction: 0.2,
            holdout: Holdout::Fraction,
            checkpoint_every: 2,
            keep_last: 5,
            data_dir: None,
            pretrained: None,
        }
    }
}

impl TrainConfig {
    /// The same recipe with the settings that do not change the trained weights (where files go,
    /// which photos are held out) reset: two runs whose recipes are equal this way train alike.
    pub fn recipe_only(&self) -> TrainConfig {
        TrainConfig {
            validation_fraction: 0.0,
            holdout: Holdout::Fraction,
            checkpoint_every: 0,
            keep_last: 0,
            data_dir: None,
            ..self.clone()
        }
    }

    /// Whether the recipe fine-tunes a pretrained network (trains more than a last layer).
    pub fn fine_tunes(&self) -> bool {
        matches!(self.pretrained.as_ref().map(|start| start.mode), Some(TransferMode::Finetune { .. }))
    }

    /// Whether training uses soft targets (smoothing or mixing) instead of class indices.
    pub fn soft_targets(&self) -> bool {
        self.label_smoothing > 0.0 || !self.mixing.is_off()
    }

    /// Learning rate during `epoch` (0-based) at `fraction` of the way through it.
    pub fn learning_rate_at(&self, epoch: u32, fraction: f64) -> f64 {
        let position = f64::from(epoch) + fraction;
        match self.lr_schedule {
            LrSchedule::Constant => self.learning_rate,
            LrSchedule::Cosine { warmup_epochs } => {
                let warmup = f64::from(warmup_epochs);
                if position < warmup {
                    self.learning_rate * (position + 1e-3) / warmup
                } else {
                    let span = (f64::from(self.epochs) - warmup).max(1e-9);
                    let progress = ((position - warmup) / span).clamp(0.0, 1.0);
                    self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
                }
            }
            LrSchedule::Step { every_epochs, gamma } => self.learning_rate * gamma.powi((epoch / every_epochs.max(1)) as i32),
        }
    }
}
