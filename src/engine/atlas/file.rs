//! Atlas files: one safetensors file holding every table as a tensor and the metadata, cells and
//! icon index as JSON in its header. Saved atomically; loading checks every table's size.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::build::{Atlas, AtlasError, AtlasMeta, LevelIcons};
use super::cells::GridLevel;
use super::collect::Collected;
use super::embedded::EmbeddedImages;
use crate::engine::fsutil::write_atomically;
use crate::engine::model::Layer;

const HEADER_KEY: &str = "activation_atlas_atlas";

/// Everything that is not a big table.
#[derive(Serialize, Deserialize)]
struct Header {
    meta: AtlasMeta,
    layer: Layer,
    dim: usize,
    classes: usize,
    levels: Vec<GridLevel>,
    icons: Vec<(u16, u16, Vec<u32>)>,
    #[serde(default)]
    mosaic: Option<(Vec<usize>, usize)>,
    #[serde(default)]
    has_distribution: bool,
    /// Whether the file holds every image's network input (tables `images_jpeg`, `images_offsets`).
    #[serde(default)]
    has_images: bool,
    /// Per icon level (as `icons`), each icon's fidelity (absent in older files).
    #[serde(default)]
    icon_fidelity: Vec<Vec<super::icons::IconFidelity>>,
}

fn bytes_of_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bytes_of_u32(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `atlas` to `path` (write to a temporary file, then rename).
pub fn save_atlas(atlas: &Atlas, path: &Path) -> Result<(), AtlasError> {
    let error = |reason: String| AtlasError::File { path: path.to_path_buf(), reason };
    let c = &atlas.collected;
    let n = c.len();
    // Cells carry their members; the header would be huge, so members go into one table.
    let mut levels = atlas.levels.clone();
    let mut members = Vec::new();
    for level in &mut levels {
        for cell in &mut level.cells {
            members.extend(std::mem::take(&mut cell.members));
        }
    }
    let header = Header {
        meta: atlas.meta.clone(),
        layer: c.layer,
        dim: c.dim,
        classes: c.classes,
        levels,
        icons: atlas.icons.iter().map(|l| (l.size, l.icon_px, l.cells.clone())).collect(),
        mosaic: atlas.mosaic.as_ref().map(|m| (m.order.clone(), m.map_side)),
        has_distribution: atlas.distribution.is_some(),
        has_images: atlas.images.is_some(),
        icon_fidelity: atlas.icons.iter().map(|l| l.fidelity.clone()).collect(),
    };
    let position: Vec<u8> = c.position.iter().flat_map(|p| [p[0].to_le_bytes(), p[1].to_le_bytes()].concat()).collect();
    let label: Vec<u8> = c.label.iter().flat_map(|l| l.to_le_bytes()).collect();
    let mut tables: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        ("vectors".into(), Dtype::F32, vec![n, c.dim], bytes_of_f32(&c.vectors)),
        ("attribution".into(), Dtype::F32, vec![n, c.classes], bytes_of_f32(&c.attribution)),
        ("image".into(), Dtype::U32, vec![n], bytes_of_u32(&c.image)),
        ("position".into(), Dtype::U16, vec![n, 2], position),
        ("label".into(), Dtype::U16, vec![n], label),
        ("layout".into(), Dtype::F32, vec![n, 2], bytes_of_f32(&atlas.layout)),
        ("members".into(), Dtype::U32, vec![members.len()], bytes_of_u32(&members)),
    ];
    if let Some(mosaic) = &atlas.mosaic {
        let images = mosaic.labels.len();
        tables.push(("mosaic_maps".into(), Dtype::U8, vec![images, mosaic.map_side * mosaic.map_side], mosaic.maps.clone()));
        tables.push(("mosaic_labels".into(), Dtype::U16, vec![images], mosaic.labels.iter().flat_map(|l| l.to_le_bytes()).collect()));
    }
    if let Some(d) = &atlas.distribution {
        let images = d.labels.len();
        tables.push(("distribution_labels".into(), Dtype::U16, vec![images], d.labels.iter().flat_map(|l| l.to_le_bytes()).collect()));
        for (name, values, components) in [("umap2", &d.umap2, 2), ("umap3", &d.umap3, 3), ("tsne2", &d.tsne2, 2), ("tsne3", &d.tsne3, 3)] {
            tables.push((format!("distribution_{name}"), Dtype::F32, vec![images, components], bytes_of_f32(values)));
        }
    }
    if let Some(images) = &atlas.images {
        tables.push(("images_offsets".into(), Dtype::U32, vec![images.offsets.len()], bytes_of_u32(&images.offsets)));
        tables.push(("images_jpeg".into(), Dtype::U8, vec![images.jpeg.len()], images.jpeg.clone()));
    }
    for level in &atlas.icons {
        let px = level.icon_px as usize;
        tables.push((format!("icons_{}", level.size), Dtype::U8, vec![level.cells.len(), px, px, 3], level.pixels.clone()));
    }
    let views = tables
        .iter()
        .map(|(name, dtype, shape, bytes)| TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("{e:?}")))?;
    let header_json = serde_json::to_string(&header).map_err(|e| error(e.to_string()))?;
    let bytes = safetensors::serialize(views, &Some(HashMap::from([(HEADER_KEY.to_string(), header_json)])))
        .map_err(|e| error(format!("{e:?}")))?;
    write_atomically(path, &bytes).map_err(|e| error(e.to_string()))
}

/// Atlas files larger than this are refused (the shipped one is about 20 MB).
pub const MAX_ATLAS_FILE_BYTES: u64 = 8 << 30;

/// The bytes of table `name` of a safetensors file, if it is there with this type and shape;
/// else why not, in words.
pub(super) fn checked_table(tensors: &SafeTensors, name: &str, dtype: Dtype, shape: &[usize]) -> Result<Vec<u8>, String> {
    let view = tensors.tensor(name).map_err(|_| format!("missing table '{name}'"))?;
    if view.dtype() != dtype || view.shape() != shape {
        return Err(format!("table '{name}' is {:?} {:?}, expected {dtype:?} {shape:?}", view.dtype(), view.shape()));
    }
    Ok(view.data().to_vec())
}

/// Reads an atlas file, checking that every table has the size its header promises.
pub fn load_atlas(path: &Path) -> Result<Atlas, AtlasError> {
    let bytes = crate::engine::fsutil::read_user_file(path, MAX_ATLAS_FILE_BYTES)
        .map_err(|e| AtlasError::File { path: path.to_path_buf(), reason: e.to_string() })?;
    parse_atlas(&bytes, path)
}

/// An atlas from the bytes of an atlas file (named `path` in messages).
pub fn parse_atlas(bytes: &[u8], path: &Path) -> Result<Atlas, AtlasError> {
    let error = |reason: String| AtlasError::File { path: path.to_path_buf(), reason };
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| error(format!("not an atlas file (truncated or damaged?): {e:?}")))?;
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| error(format!("{e:?}")))?;
    let header_json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(HEADER_KEY))
        .ok_or_else(|| error("not an atlas file (no atlas header)".to_string()))?;
    let header: Header = serde_json::from_str(header_json).map_err(|e| error(format!("malformed atlas header: {e}")))?;
    let n = tensors.tensor("image").map_err(|_| error("missing table 'image'".into()))?.shape().first().copied().unwrap_or(0);
    let table = |name: &str, dtype: Dtype, shape: &[usize]| checked_table(&tensors, name, dtype, shape).map_err(error);
    let f32s = |b: Vec<u8>| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect::<Vec<f32>>();
    let u32s = |b: Vec<u8>| b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect::<Vec<u32>>();
    let u16s = |b: Vec<u8>| b.chunks_exact(2).map(|c| u16::from_le_bytes(c.try_into().expect("2 bytes"))).collect::<Vec<u16>>();
    let positions = u16s(table("position", Dtype::U16, &[n, 2])?);
    let collected = Collected {
        layer: header.layer,
        dim: header.dim,
        classes: header.classes,
        vectors: f32s(table("vectors", Dtype::F32, &[n, header.dim])?).into(),
        image: u32s(table("image", Dtype::U32, &[n])?),
        position: positions.chunks_exact(2).map(|p| [p[0], p[1]]).collect(),
        label: u16s(table("label", Dtype::U16, &[n])?),
        attribution: f32s(table("attribution", Dtype::F32, &[n, header.classes])?).into(),
    };
    let layout = f32s(table("layout", Dtype::F32, &[n, 2])?);
    let total_members: usize = header.levels.iter().flat_map(|l| &l.cells).map(|c| c.count as usize).sum();
    let members = u32s(table("members", Dtype::U32, &[total_members])?);
    if members.iter().any(|&m| m as usize >= n) || collected.label.iter().any(|&l| l as usize >= header.classes) {
        return Err(error("an index points outside the atlas tables".into()));
    }
    let mut levels = header.levels;
    let mut at = 0;
    for cell in levels.iter_mut().flat_map(|l| l.cells.iter_mut()) {
        cell.members = members[at..at + cell.count as usize].to_vec();
        at += cell.count as usize;
    }
    let mut icons = Vec::new();
    let mut fidelities = header.icon_fidelity.into_iter();
    for (size, icon_px, cells) in header.icons {
        let px = icon_px as usize;
        let pixels = table(&format!("icons_{size}"), Dtype::U8, &[cells.len(), px, px, 3])?;
        // A fidelity list that does not match its icons is dropped, not trusted.
        let fidelity = fidelities.next().filter(|f| f.len() == cells.len()).unwrap_or_default();
        icons.push(LevelIcons { size, icon_px, cells, pixels, fidelity });
    }
    let mosaic = match header.mosaic {
        Some((order, side)) => {
            let view = tensors.tensor("mosaic_labels").map_err(|_| error("missing table 'mosaic_labels'".into()))?;
            let images = view.shape().first().copied().unwrap_or(0);
            let labels = u16s(table("mosaic_labels", Dtype::U16, &[images])?);
            let maps = table("mosaic_maps", Dtype::U8, &[images, side * side])?;
            Some(super::views::ClassMosaic { order, maps, map_side: side, labels })
        }
        None => None,
    };
    let distribution = if header.has_distribution {
        let view = tensors.tensor("distribution_labels").map_err(|_| error("missing table 'distribution_labels'".into()))?;
        let images = view.shape().first().copied().unwrap_or(0);
        Some(super::views::Distribution {
            labels: u16s(table("distribution_labels", Dtype::U16, &[images])?),
            umap2: f32s(table("distribution_umap2", Dtype::F32, &[images, 2])?),
            umap3: f32s(table("distribution_umap3", Dtype::F32, &[images, 3])?),
            tsne2: f32s(table("distribution_tsne2", Dtype::F32, &[images, 2])?),
            tsne3: f32s(table("distribution_tsne3", Dtype::F32, &[images, 3])?),
        })
    } else {
        None
    };
    let images = if header.has_images {
        let length = |name: &str| {
            tensors.tensor(name).map(|v| v.shape().first().copied().unwrap_or(0)).map_err(|_| error(format!("missing table '{name}'")))
        };
        let offsets = u32s(table("images_offsets", Dtype::U32, &[length("images_offsets")?])?);
        let jpeg = table("images_jpeg", Dtype::U8, &[length("images_jpeg")?])?;
        let images = EmbeddedImages { offsets, jpeg };
        let referenced = collected.image.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
        if !images.is_consistent() || images.len() < referenced {
            return Err(error(format!(
                "the embedded images are damaged ({} images, {} bytes; the vectors refer to {referenced})",
                images.len(),
                images.jpeg.len()
            )));
        }
        Some(images)
    } else {
        None
    };
    let atlas = Atlas { meta: header.meta, collected, layout, levels, icons, mosaic, distribution, images };
    super::validate::check_atlas(&atlas).map_err(error)?;
    Ok(atlas)
}
