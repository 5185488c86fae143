//! Classifying images with a trained network.

use image::RgbImage;
use tch::{Kind, Tensor};

use super::image_input::images_to_tensor_any;
use super::network::Network;

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

/// Test-time augmentation: which views of a picture are classified, their probabilities averaged.
/// The network was trained on mirrored, cropped and rescaled photos, so such views are pictures
/// it knows, and their answers' errors partly cancel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TestTimeViews {
    /// The picture alone.
    #[default]
    Single,
    /// The picture and its mirror image.
    Mirror,
    /// The picture, and its centre and four corners at 7/8 of its side scaled back up, each also
    /// mirrored: 12 views.
    Crops,
}

/// Side of the crops of [`TestTimeViews::Crops`], as a fraction of the picture's.
pub const TTA_CROP_FRACTION: f64 = 0.875;

impl TestTimeViews {
    /// How many forward passes one picture costs.
    pub fn count(self) -> usize {
        match self {
            TestTimeViews::Single => 1,
            TestTimeViews::Mirror => 2,
            TestTimeViews::Crops => 12,
        }
    }

    /// The views of a batch `[N, 3, H, W]`, each a batch of the same shape.
    pub fn views(self, batch: &Tensor) -> Vec<Tensor> {
        let mut views = vec![batch.shallow_clone()];
        if self == TestTimeViews::Crops {
            let size = batch.size();
            let (height, width) = (size[2], size[3]);
            let (crop_h, crop_w) = ((height as f64 * TTA_CROP_FRACTION).round() as i64, (width as f64 * TTA_CROP_FRACTION).round() as i64);
            let (free_h, free_w) = (height - crop_h, width - crop_w);
            for (top, left) in [(free_h / 2, free_w / 2), (0, 0), (0, free_w), (free_h, 0), (free_h, free_w)] {
                let crop = batch.narrow(2, top, crop_h).narrow(3, left, crop_w);
                views.push(crop.upsample_bilinear2d([height, width], false, None, None));
            }
        }
        if self != TestTimeViews::Single {
            let mirrored: Vec<Tensor> = views.iter().map(|view| view.flip([3])).collect();
            views.extend(mirrored);
        }
        views
    }
}

/// The softmax probabilities `[N, classes]` (float) of `net` for a batch, averaged over `views`.
pub fn view_averaged_probabilities(net: &dyn Network, batch: &Tensor, views: TestTimeViews) -> Tensor {
    let all = views.views(batch);
    let count = all.len() as f64;
    let _mixed = super::precision::mixed(net.device());
    let mut sum: Option<Tensor> = None;
    for view in all {
        let probabilities = net.logits(&view, false).to_kind(Kind::Float).softmax(1, Kind::Float);
        sum = Some(match sum {
            Some(total) => total + probabilities,
            None => probabilities,
        });
    }
    sum.expect("at least the picture itself") / count
}

/// Softmax probabilities of `net` for each image (at the network's input size), in batches of 64.
pub fn classify_images(net: &dyn Network, images: &[RgbImage]) -> Vec<Prediction> {
    classify_images_with(net, images, TestTimeViews::Single)
}

/// As [`classify_images`], each image's probabilities averaged over its `views`.
pub fn classify_images_with(net: &dyn Network, images: &[RgbImage], views: TestTimeViews) -> Vec<Prediction> {
    let mut predictions = Vec::with_capacity(images.len());
    tch::no_grad(|| {
        for chunk in images.chunks(64) {
            let batch = images_to_tensor_any(chunk).to_device(net.device());
            let probabilities = view_averaged_probabilities(net, &batch, views).to_device(tch::Device::Cpu);
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
