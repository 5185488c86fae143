//! Exact k-nearest neighbours by cosine distance, as batched matrix products on libtorch.

use tch::{Device, Tensor};

/// Neighbour lists: for each point its `k` nearest (itself first, at distance 0), as indices and
/// cosine distances (1 - cosine similarity), row-major `n x k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    pub indices: Vec<u32>,
    pub distances: Vec<f32>,
}

/// Rows of `vectors` (`n x dim`) scaled to unit length (zero rows stay zero).
pub fn unit_rows(vectors: &[f32], dim: usize, device: Device) -> Tensor {
    let n = (vectors.len() / dim.max(1)) as i64;
    let x = Tensor::from_slice(vectors).view([n, dim as i64]).to_device(device);
    let norms = x.norm_scalaropt_dim(2.0, &[1i64][..], true).clamp_min(1e-12);
    x / norms
}

/// The `k` nearest neighbours of every row of `points` among the rows of `reference` (both unit
/// rows), in blocks of `block` query rows so memory stays bounded.
pub fn nearest_among(points: &Tensor, reference: &Tensor, k: usize, block: i64) -> (Vec<u32>, Vec<f32>) {
    let n = points.size()[0];
    let k = k.min(reference.size()[0] as usize) as i64;
    let mut indices = Vec::with_capacity((n * k) as usize);
    let mut distances = Vec::with_capacity((n * k) as usize);
    tch::no_grad(|| {
        let mut start = 0;
        while start < n {
            let len = block.min(n - start);
            let similarity = points.narrow(0, start, len).matmul(&reference.tr());
            let (values, idx) = similarity.topk(k, 1, true, true);
            let values = Vec::<f32>::try_from((values.neg() + 1.0).clamp_min(0.0).to_device(Device::Cpu).flatten(0, -1)).expect("floats");
            let idx = Vec::<i64>::try_from(idx.to_device(Device::Cpu).flatten(0, -1)).expect("ints");
            distances.extend(values);
            indices.extend(idx.into_iter().map(|i| i as u32));
            start += len;
        }
    });
    (indices, distances)
}

/// Exact kNN graph of `vectors` (`n x dim`) under cosine distance, `k` including the point itself.
pub fn knn_graph(vectors: &[f32], dim: usize, k: usize, device: Device) -> Neighbours {
    let unit = unit_rows(vectors, dim, device);
    let (mut indices, mut distances) = nearest_among(&unit, &unit, k, 2048);
    let k = k.min(unit.size()[0] as usize);
    // Ties can put an identical twin before the point itself: make every row start with itself.
    for row in 0..indices.len() / k.max(1) {
        let slice = &mut indices[row * k..(row + 1) * k];
        if let Some(at) = slice.iter().position(|&i| i as usize == row) {
            slice.swap(0, at);
            distances.swap(row * k, row * k + at);
        } else {
            slice[0] = row as u32;
        }
        distances[row * k] = 0.0;
    }
    Neighbours { k, indices, distances }
}
