//! Classifying images with a trained network.

use image::RgbImage;
use tch::{Kind, Tensor};

use super::image_input::images_to_tensor;
use super::model::Net;

/// Class probabilities for one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub probabilities: Vec<f32>,
}

impl Prediction {
    /// The `k` most probable classes as (class index, probability), most probable first.
    pub fn top_k(&self, k: usize) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self.probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(k);
        ranked
    }

    pub fn best(&self) -> (usize, f32) {
        self.top_k(1).first().copied().unwrap_or((0, 0.0))
    }
}

/// Softmax probabilities of `net` for each 100x100 image, in batches of 64.
pub fn classify_images(net: &Net, images: &[RgbImage]) -> Vec<Prediction> {
    classify_images_with(net, images, false)
}

/// As [`classify_images`]; with `flip_average`, each image's probabilities are the mean of the
/// image's and its mirror image's (test-time augmentation: the network was trained on mirrored
/// photos too, and the two answers' errors partly cancel).
pub fn classify_images_with(net: &Net, images: &[RgbImage], flip_average: bool) -> Vec<Prediction> {
    let mut predictions = Vec::with_capacity(images.len());
    tch::no_grad(|| {
        for chunk in images.chunks(64) {
            let batch = images_to_tensor(chunk).to_device(net.device());
            let mut probabilities = net.forward(&batch, false).softmax(1, Kind::Float);
            if flip_average {
                let mirrored = net.forward(&batch.flip([3]), false).softmax(1, Kind::Float);
                probabilities = (probabilities + mirrored) * 0.5;
            }
            let probabilities = probabilities.to_device(tch::Device::Cpu);
            for row in 0..chunk.len() as i64 {
                let values = Vec::<f32>::try_from(probabilities.get(row)).expect("a float vector");
                predictions.push(Prediction { probabilities: values });
            }
        }
    });
    predictions
}

/// Probabilities for a single tensor batch (used by explanations that already hold tensors).
pub fn softmax_rows(logits: &Tensor) -> Vec<Vec<f32>> {
    let probabilities = logits.softmax(1, Kind::Float).to_device(tch::Device::Cpu);
    (0..probabilities.size()[0]).map(|row| Vec::<f32>::try_from(probabilities.get(row)).expect("a float vector")).collect()
}
