//! What makes an atlas self-contained: every image's network input (100 x 100), JPEG-compressed,
//! so the real patches behind a cell can be shown from the file alone; and where the data came
//! from, recorded without any machine's paths.

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// JPEG quality of embedded images: patches are enlarged crops, so keep them clean.
const JPEG_QUALITY: u8 = 90;

/// The network inputs of an atlas's images, one JPEG each, concatenated.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddedImages {
    /// `offsets[i]..offsets[i + 1]` are image `i`'s bytes in `jpeg`.
    pub offsets: Vec<u32>,
    pub jpeg: Vec<u8>,
}

fn encode_jpeg(image: &RgbImage) -> Vec<u8> {
    let mut jpeg = Vec::new();
    // Encoding an in-memory RGB image into a Vec cannot fail; an empty entry would only mean no
    // patch for that image.
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY).encode_image(image);
    jpeg
}

impl Default for EmbeddedImages {
    fn default() -> Self {
        EmbeddedImages { offsets: vec![0], jpeg: Vec::new() }
    }
}

impl EmbeddedImages {
    pub fn encode(images: &[RgbImage]) -> EmbeddedImages {
        let mut embedded = EmbeddedImages::default();
        embedded.extend(images);
        embedded
    }

    /// Appends several images, encoded in parallel.
    pub fn extend(&mut self, images: &[RgbImage]) {
        use rayon::prelude::*;
        let encoded: Vec<Vec<u8>> = images.par_iter().map(encode_jpeg).collect();
        encoded.iter().for_each(|bytes| self.push_encoded(bytes));
    }

    fn push_encoded(&mut self, bytes: &[u8]) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.jpeg.extend_from_slice(bytes);
        self.offsets.push(self.jpeg.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Image `index`, decoded; None when it is not there or not readable.
    pub fn image(&self, index: usize) -> Option<RgbImage> {
        let (start, end) = (*self.offsets.get(index)? as usize, *self.offsets.get(index + 1)? as usize);
        let bytes = self.jpeg.get(start..end)?;
        image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).ok().map(|i| i.to_rgb8())
    }

    /// Whether the offsets describe `jpeg` (start at 0, never go back, end at its length).
    pub fn is_consistent(&self) -> bool {
        self.offsets.first() == Some(&0)
            && self.offsets.windows(2).all(|w| w[0] <= w[1])
            && self.offsets.last().is_some_and(|&end| end as usize == self.jpeg.len())
    }
}

/// Where an atlas's data came from, without paths of the machine it was built on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetProvenance {
    /// The data set folder's name.
    pub name: String,
    /// Images per class, in class order.
    pub class_counts: Vec<usize>,
    /// SHA-256 of the sorted list of files (relative to the data set folder, one per line).
    pub files_sha256: String,
}

impl DatasetProvenance {
    pub fn of(root: &Path, paths: &[PathBuf], labels: &[usize], classes: usize) -> DatasetProvenance {
        let mut class_counts = vec![0; classes];
        for &label in labels {
            if let Some(count) = class_counts.get_mut(label) {
                *count += 1;
            }
        }
        let mut files: Vec<String> = paths.iter().map(|p| relative_to(p, root).to_string_lossy().replace('\\', "/")).collect();
        files.sort();
        let listing = files.iter().map(|f| format!("{f}\n")).collect::<String>();
        let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        DatasetProvenance { name, class_counts, files_sha256: crate::engine::fsutil::sha256_hex(listing.as_bytes()) }
    }
}

/// `path` relative to `root` when it lies inside it, else `path` unchanged.
pub fn relative_to(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}
