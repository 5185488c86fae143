//! Placing a new image on an existing atlas: its sampled vectors go where their nearest
//! neighbours (cosine, in activation space) lie in the layout.

use tch::Tensor;

use super::build::Atlas;
use super::collect::interior_positions;
use super::knn::{nearest_among, unit_rows};
use crate::engine::classify::classify_images;
use crate::engine::explain::image_batch;
use crate::engine::network::Network;

/// Where an image lands.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// Layout position (in [0, 1]²) of each of the image's interior vectors.
    pub points: Vec<[f32; 2]>,
    /// Their mean: where the image sits as a whole.
    pub centre: [f32; 2],
    pub predicted_class: usize,
    pub confidence: f32,
}

/// Places `image` (network input) on `atlas`, built from `net`: every interior position's
/// vector is put at the mean layout position of its `k` nearest atlas vectors.
pub fn place_image(net: &dyn Network, atlas: &Atlas, image: &image::RgbImage, k: usize) -> Placement {
    let layer = atlas.collected.layer;
    let batch = image_batch(net, image);
    let activation = tch::no_grad(|| {
        // The precision the atlas's vectors were collected in (the process's).
        let _mixed = crate::engine::precision::mixed(net.device());
        let activation = match crate::engine::model::paper_net(net) {
            Some(paper) => paper.forward_until(&batch, layer, false).get(layer).shallow_clone(),
            None => net.forward_to(&batch, net.spec().layer_index(layer.name()).unwrap_or(0), false),
        };
        activation.get(0).to_kind(tch::Kind::Float)
    });
    let side = activation.size()[1] as usize;
    let dim = atlas.collected.dim;
    let positions = interior_positions(side, atlas.meta.geometry().sampling_margin(layer));
    let mut vectors = Vec::with_capacity(positions.len() * dim);
    let values = Vec::<f32>::try_from(activation.flatten(0, -1).to_device(tch::Device::Cpu)).expect("floats");
    for &[x, y] in &positions {
        for c in 0..dim {
            vectors.push(values[(c * side + y as usize) * side + x as usize]);
        }
    }
    let reference = unit_rows(&atlas.collected.vectors, dim, tch::Device::Cpu);
    let queries: Tensor = unit_rows(&vectors, dim, tch::Device::Cpu);
    let k = k.max(1);
    let (indices, _) = nearest_among(&queries, &reference, k);
    let points: Vec<[f32; 2]> = indices
        .chunks(k)
        .map(|row| {
            let (sx, sy) =
                row.iter().fold((0.0, 0.0), |(sx, sy), &i| (sx + atlas.layout[2 * i as usize], sy + atlas.layout[2 * i as usize + 1]));
            [sx / row.len() as f32, sy / row.len() as f32]
        })
        .collect();
    let centre = points.iter().fold([0.0, 0.0], |acc, p| [acc[0] + p[0] / points.len() as f32, acc[1] + p[1] / points.len() as f32]);
    let prediction = classify_images(net, std::slice::from_ref(image)).remove(0);
    let (predicted_class, confidence) = prediction.best();
    Placement { points, centre, predicted_class, confidence }
}
