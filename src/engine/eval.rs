//! Evaluation: accuracy, per-class precision / recall / F1 and the confusion matrix.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::classify::{TestTimeViews, view_averaged_probabilities};
use super::model::Net;
use super::network::Network;

/// Metrics of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Images of this class in the evaluated set.
    pub support: u32,
}

/// Metrics of a model on a labelled set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    pub images: u32,
    pub per_class: Vec<ClassReport>,
    /// `confusion[true_class][predicted_class]` = image count.
    pub confusion: Vec<Vec<u32>>,
}

/// Counts `(true, predicted)` pairs into a `classes` x `classes` matrix.
pub fn confusion_matrix(labels: &[usize], predictions: &[usize], classes: usize) -> Vec<Vec<u32>> {
    let mut matrix = vec![vec![0u32; classes]; classes];
    for (&truth, &predicted) in labels.iter().zip(predictions) {
        matrix[truth][predicted] += 1;
    }
    matrix
}

/// Derives every metric from a confusion matrix. A class never predicted has precision 0; one
/// with no images has recall 0 (and both report F1 0), as scikit-learn does with zero_division=0.
pub fn report_from_confusion(confusion: Vec<Vec<u32>>, class_names: &[String], loss: f64) -> EvalReport {
    let classes = confusion.len();
    let total: u32 = confusion.iter().flatten().sum();
    let correct: u32 = (0..classes).map(|c| confusion[c][c]).sum();
    let per_class = (0..classes)
        .map(|c| {
            let true_positive = f64::from(confusion[c][c]);
            let support: u32 = confusion[c].iter().sum();
            let predicted: u32 = confusion.iter().map(|row| row[c]).sum();
            let ratio = |num: f64, den: u32| if den == 0 { 0.0 } else { num / f64::from(den) };
            let precision = ratio(true_positive, predicted);
            let recall = ratio(true_positive, support);
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            ClassReport { name: class_names.get(c).cloned().unwrap_or_else(|| format!("class {c}")), precision, recall, f1, support }
        })
        .collect();
    EvalReport { accuracy: if total == 0 { 0.0 } else { f64::from(correct) / f64::from(total) }, loss, images: total, per_class, confusion }
}

impl EvalReport {
    pub fn macro_f1(&self) -> f64 {
        if self.per_class.is_empty() {
            return 0.0;
        }
        self.per_class.iter().map(|c| c.f1).sum::<f64>() / self.per_class.len() as f64
    }
}

/// Runs `net` (in evaluation mode) over `images` [N, 3, 100, 100] with `labels` in batches.
pub fn evaluate_tensors(net: &Net, images: &Tensor, labels: &[usize], class_names: &[String], batch_size: i64) -> EvalReport {
    evaluate_with_predictions(net, images, labels, class_names, batch_size).0
}

/// What the network said of one image: its class and the softmax probability of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub predicted: usize,
    pub confidence: f32,
}

/// [`evaluate_tensors`], also giving each image's prediction (in the images' order), so a
/// confusion cell can be opened as its images.
pub fn evaluate_with_predictions(
    net: &Net,
    images: &Tensor,
    labels: &[usize],
    class_names: &[String],
    batch_size: i64,
) -> (EvalReport, Vec<Prediction>) {
    evaluate_images(net, images, labels, class_names, batch_size, TestTimeViews::Single)
}

/// [`evaluate_with_predictions`], each image judged by the mean of its `views`' probabilities
/// (see `classify::TestTimeViews`).
pub fn evaluate_images(
    net: &dyn Network,
    images: &Tensor,
    labels: &[usize],
    class_names: &[String],
    batch_size: i64,
    views: TestTimeViews,
) -> (EvalReport, Vec<Prediction>) {
    let count = images.size()[0];
    let mut predictions = Vec::with_capacity(labels.len());
    let mut loss_sum = 0.0;
    tch::no_grad(|| {
        let mut start = 0;
        while start < count {
            let len = batch_size.min(count - start);
            let batch = images.narrow(0, start, len).to_device(net.device());
            let targets: Vec<i64> = labels[start as usize..(start + len) as usize].iter().map(|&l| l as i64).collect();
            let targets = Tensor::from_slice(&targets).to_device(net.device());
            // The loss is that of what is judged: one view's logits, or the views' mean probabilities.
            let probabilities = if views == TestTimeViews::Single {
                let logits = {
                    let _mixed = super::precision::mixed(net.device());
                    net.logits(&batch, false).to_kind(Kind::Float)
                };
                loss_sum += logits.cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::Sum, -100, 0.0).double_value(&[]);
                logits.to_kind(Kind::Float).softmax(1, Kind::Float)
            } else {
                let probabilities = view_averaged_probabilities(net, &batch, views);
                let log_probabilities = probabilities.clamp_min(1e-12).log();
                loss_sum += log_probabilities.nll_loss_nd::<Tensor>(&targets, None, tch::Reduction::Sum, -100).double_value(&[]);
                probabilities
            };
            let (confidence, predicted) = probabilities.max_dim(1, false);
            let predicted =
                Vec::<i64>::try_from(predicted.to_kind(Kind::Int64).to_device(tch::Device::Cpu)).expect("argmax gives an int64 vector");
            let confidence = Vec::<f32>::try_from(confidence.to_device(tch::Device::Cpu)).expect("a float vector");
            predictions.extend(predicted.into_iter().zip(confidence).map(|(p, c)| Prediction { predicted: p as usize, confidence: c }));
            start += len;
        }
    });
    let predicted: Vec<usize> = predictions.iter().map(|p| p.predicted).collect();
    let confusion = confusion_matrix(labels, &predicted, class_names.len());
    let loss = if count == 0 { 0.0 } else { loss_sum / count as f64 };
    (report_from_confusion(confusion, class_names, loss), predictions)
}
