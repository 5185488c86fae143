//! The mistakes explorer: a model's wrong answers on the photos it was validated on, the surest
//! first, each with Grad-CAM maps (where it saw the class it chose, where it saw the true one) and
//! the training photos nearest to it in the space of its last layer's input (the paper's fc2, an
//! EfficientNet's pooled features) - the photos the network thinks it resembles. Any network.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use tch::{Kind, Tensor};

use super::attribution::{AttributionMethod, AttributionSettings, attribute_at};
use super::data::{Photos, holdout_split};
use super::image_input::images_to_tensor;
use super::model::{Layer, usual_layer};
use super::network::{Network, network_kind};
use super::recipe::{Holdout, TrainConfig};
use super::render::Map2d;

/// Photos run through the network at once.
const BATCH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MistakeParams {
    /// The split the model was trained with (its recipe's): mistakes are looked for among the
    /// validation photos. 0: the model saw every photo; all of them are examined.
    pub validation_fraction: f64,
    /// A cross-validation fold instead of the fraction, when the model was one fold's run.
    pub holdout: Holdout,
    pub seed: u64,
    /// Nearest training photos kept per mistake.
    pub neighbours: usize,
    /// At most this many mistakes get maps and neighbours (the surest first); all are counted.
    pub max_mistakes: usize,
}

impl Default for MistakeParams {
    fn default() -> Self {
        MistakeParams { validation_fraction: 0.2, holdout: Holdout::Fraction, seed: 17, neighbours: 6, max_mistakes: 200 }
    }
}

impl MistakeParams {
    /// The split of the recipe a model was trained with; a model without its recipe (imported
    /// weights) is checked on every photo.
    pub fn for_recipe(recipe: Option<&TrainConfig>) -> MistakeParams {
        match recipe {
            Some(recipe) => MistakeParams {
                validation_fraction: recipe.validation_fraction,
                holdout: recipe.holdout,
                seed: recipe.seed,
                ..Default::default()
            },
            None => MistakeParams { validation_fraction: 0.0, ..Default::default() },
        }
    }
}

/// A training photo near a mistake in fc2 space.
#[derive(Clone, Debug, PartialEq)]
pub struct NearPhoto {
    /// Index of the photo in the data set.
    pub index: usize,
    pub path: PathBuf,
    pub class: usize,
    /// Cosine similarity of the fc2 activations, in [-1, 1] (0 to 1 after ReLU).
    pub similarity: f32,
}

/// One wrong answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Mistake {
    /// Index of the photo in the data set.
    pub index: usize,
    pub path: PathBuf,
    pub truth: usize,
    pub predicted: usize,
    /// Softmax probability of the predicted class.
    pub confidence: f32,
    /// Softmax probability of the true class.
    pub truth_probability: f32,
    /// Grad-CAM (conv4) for the predicted class and for the true class, 100 x 100 in [0, 1].
    pub predicted_map: Map2d,
    pub truth_map: Map2d,
    /// Nearest training photos, nearest first.
    pub near: Vec<NearPhoto>,
    /// The photo as the network sees it (100 x 100).
    pub picture: image::RgbImage,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MistakesReport {
    /// Photos examined (the validation split, or all).
    pub examined: usize,
    /// Wrong answers among them.
    pub wrong: usize,
    /// Whether the examined photos are a validation split the model never trained on.
    pub held_out: bool,
    /// The surest mistakes, surest first (at most `max_mistakes`).
    pub mistakes: Vec<Mistake>,
}

#[derive(Debug, thiserror::Error)]
pub enum MistakesError {
    #[error("the folder's classes ({found}) are not the model's ({expected})")]
    OtherClasses { expected: String, found: String },
    #[error("{0}")]
    Read(String),
    #[error("cancelled")]
    Cancelled,
}

/// Finds `net`'s mistakes on `photos`, a folder with the model's classes (`class_names`).
/// `progress(done, total)` counts the photos read, then the mistakes mapped: the total is the
/// photos until their answers are known, then the photos and the mistakes to map.
pub fn find_mistakes(
    net: &dyn Network,
    class_names: &[String],
    photos: &dyn Photos,
    params: &MistakeParams,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<MistakesReport, MistakesError> {
    if photos.class_names() != class_names || class_names.len() != net.num_classes() {
        return Err(MistakesError::OtherClasses { expected: class_names.join(", "), found: photos.class_names().join(", ") });
    }
    let labels = photos.labels();
    let held_out = params.validation_fraction > 0.0 || matches!(params.holdout, Holdout::Fold { .. });
    let (train, validation) = if held_out {
        let recipe = TrainConfig {
            validation_fraction: params.validation_fraction,
            holdout: params.holdout,
            seed: params.seed,
            ..TrainConfig::default()
        };
        holdout_split(labels, &recipe)
    } else {
        ((0..labels.len()).collect(), (0..labels.len()).collect())
    };
    let mut is_validation = vec![false; labels.len()];
    validation.iter().for_each(|&i| is_validation[i] = true);

    // One pass over every photo: fc2 features (unit length, for cosine similarity) and answers.
    let n = photos.len();
    let mut features: Vec<f32> = Vec::new();
    let mut dim = 0;
    let mut answers = vec![(0usize, 0f32, 0f32); n];
    for start in (0..n).step_by(BATCH) {
        if cancel.load(Ordering::Relaxed) {
            return Err(MistakesError::Cancelled);
        }
        progress(start, n);
        let end = (start + BATCH).min(n);
        let images =
            photos.read(start..end).map_err(|skipped| MistakesError::Read(format!("{}: {}", skipped.path.display(), skipped.reason)))?;
        let batch = images_to_tensor(images.iter()).to_device(net.device()).to_kind(network_kind(net));
        let (fc2, probabilities) = tch::no_grad(|| {
            let last_input = net.spec().layers.len() - 2;
            let features = net.forward_to(&batch, last_input, false);
            let logits = net.forward_from(last_input, &features, false);
            let features = features.to_kind(Kind::Float).flatten(1, -1);
            let unit = &features / features.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
            (unit, logits.to_kind(Kind::Float).softmax(1, Kind::Float))
        });
        dim = fc2.size()[1] as usize;
        features.extend(to_floats(&fc2));
        let probabilities = to_floats(&probabilities);
        let classes = net.num_classes();
        for (row, i) in (start..end).enumerate() {
            let p = &probabilities[row * classes..(row + 1) * classes];
            let (predicted, confidence) = p.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
            answers[i] = (predicted, confidence, p.get(labels[i]).copied().unwrap_or(0.0));
        }
    }

    let mut wrong: Vec<usize> = validation.iter().copied().filter(|&i| answers[i].0 != labels[i]).collect();
    wrong.sort_by(|&a, &b| answers[b].1.total_cmp(&answers[a].1));
    let wrong_count = wrong.len();
    wrong.truncate(params.max_mistakes);
    let total_steps = n + wrong.len();

    // Grad-CAM at the last grid layer (the paper's conv4).
    let cam = usual_layer(net.spec(), Layer::CONV4, false);
    let cam_layer = net.spec().layer_index(cam.name()).unwrap_or(0);
    let settings = AttributionSettings { layer: cam, ..AttributionSettings::default() };
    let feature = |i: usize| &features[i * dim..(i + 1) * dim];
    let mut mistakes = Vec::with_capacity(wrong.len());
    for (done, &i) in wrong.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(MistakesError::Cancelled);
        }
        progress(n + done, total_steps);
        let picture =
            photos.read(i..i + 1).map_err(|skipped| MistakesError::Read(format!("{}: {}", skipped.path.display(), skipped.reason)))?[0]
                .clone();
        let (predicted, confidence, truth_probability) = answers[i];
        let map = |class: usize| {
            attribute_at(net, &picture, AttributionMethod::GradCam, class, cam_layer, &settings, &mut |_, _| {}, cancel)
                .map(|a| a.heat)
                .map_err(|_| MistakesError::Cancelled)
        };
        let (predicted_map, truth_map) = (map(predicted)?, map(labels[i])?);
        let near = nearest(feature(i), train.iter().copied().filter(|&j| j != i), &feature, params.neighbours)
            .into_iter()
            .map(|(j, similarity)| NearPhoto { index: j, path: photos.paths()[j].clone(), class: labels[j], similarity })
            .collect();
        mistakes.push(Mistake {
            index: i,
            path: photos.paths()[i].clone(),
            truth: labels[i],
            predicted,
            confidence,
            truth_probability,
            predicted_map,
            truth_map,
            near,
            picture,
        });
    }
    progress(total_steps, total_steps);
    let examined = if held_out { validation.len() } else { n };
    Ok(MistakesReport { examined, wrong: wrong_count, held_out, mistakes })
}

/// The `k` candidates most similar to `query` (unit vectors: the dot product is the cosine), most
/// similar first.
fn nearest<'a>(
    query: &[f32],
    candidates: impl Iterator<Item = usize>,
    feature: &impl Fn(usize) -> &'a [f32],
    k: usize,
) -> Vec<(usize, f32)> {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for j in candidates {
        let similarity: f32 = query.iter().zip(feature(j)).map(|(a, b)| a * b).sum();
        if best.len() < k || best.last().is_some_and(|&(_, s)| similarity > s) {
            let at = best.partition_point(|&(_, s)| s >= similarity);
            best.insert(at, (j, similarity));
            best.truncate(k);
        }
    }
    best
}

fn to_floats(tensor: &Tensor) -> Vec<f32> {
    let flat = tensor.detach().to_device(tch::Device::Cpu).contiguous().flatten(0, -1);
    Vec::<f32>::try_from(&flat).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_keeps_the_most_similar_in_order() {
        let vectors = [[1.0f32, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8], [-1.0, 0.0]];
        let feature = |i: usize| &vectors[i][..];
        let found = nearest(&[1.0, 0.0], 1..5, &feature, 2);
        assert_eq!(found.iter().map(|(j, _)| *j).collect::<Vec<_>>(), vec![2, 3]);
        assert!((found[0].1 - 0.8).abs() < 1e-6);
    }
}
