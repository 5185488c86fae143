//! Labelled image folders: one sub-folder per class (the paper's layout). Files are decoded in
//! parallel through the one image-input function; unreadable files are skipped and reported.
//! Decoded 100x100 images are cached per folder so a second run does not decode again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fsutil::{sha256_hex, write_atomically};
use super::image_input::load_network_image;
use super::model::INPUT_SIZE;
use super::rng::SeededRng;

const IMAGE_BYTES: usize = (INPUT_SIZE * INPUT_SIZE * 3) as usize;

/// A file that was not used, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedFile {
    #[serde(with = "crate::engine::fsutil::any_path")]
    pub path: PathBuf,
    pub reason: String,
}

/// A decoded data set.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    pub class_names: Vec<String>,
    /// Network-ready images (100x100 RGB), with their class and source file.
    pub images: Vec<RgbImage>,
    pub labels: Vec<usize>,
    pub paths: Vec<PathBuf>,
    pub skipped: Vec<SkippedFile>,
    /// How many images were taken from the cache instead of decoded.
    pub cached: usize,
}

/// What a user is shown about a data set before training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    #[serde(with = "crate::engine::fsutil::any_path")]
    pub root: PathBuf,
    pub class_names: Vec<String>,
    pub counts: Vec<usize>,
    pub skipped: Vec<SkippedFile>,
}

impl Dataset {
    pub fn summary(&self) -> DatasetSummary {
        let mut counts = vec![0; self.class_names.len()];
        for &label in &self.labels {
            counts[label] += 1;
        }
        DatasetSummary { root: self.root.clone(), class_names: self.class_names.clone(), counts, skipped: self.skipped.clone() }
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

impl DatasetSummary {
    /// Classes with fewer than two images cannot be split into training and validation.
    pub fn classes_too_small_to_split(&self) -> Vec<&str> {
        self.class_names.iter().zip(&self.counts).filter(|(_, count)| **count < 2).map(|(name, _)| name.as_str()).collect()
    }
}

/// Why a folder could not be used as a data set.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read folder {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} has no class sub-folders; a data set is a folder with one sub-folder of images per class")]
    NoClasses { path: PathBuf },
    #[error("{path} contains no readable images ({skipped} files skipped)")]
    NoImages { path: PathBuf, skipped: usize },
    #[error("{path} has only one class with images ({class}); classification needs at least two")]
    SingleClass { path: PathBuf, class: String },
    #[error("loading was cancelled")]
    Cancelled,
}

/// Where the decoded-image cache lives: `$ACTIVATION_ATLAS_CACHE` or `~/.cache/activation-atlas`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ACTIVATION_ATLAS_CACHE") {
        return PathBuf::from(dir);
    }
    crate::resources::xdg_app_dir("XDG_CACHE_HOME", ".cache")
}

fn io_error(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io { path: path.to_path_buf(), source }
}

/// What each class looks like: the first readable image of each class folder under `root`, as
/// the network sees it (100x100); None for a class whose folder is missing or unreadable.
pub fn class_samples(root: &Path, class_names: &[String]) -> Vec<Option<RgbImage>> {
    /// Files tried per class before giving up (a folder may start with a broken file).
    const TRIES: usize = 8;
    class_names
        .iter()
        .map(|class| {
            let mut files: Vec<PathBuf> =
                std::fs::read_dir(root.join(class)).into_iter().flatten().flatten().map(|entry| entry.path()).collect();
            files.sort();
            files.iter().filter(|file| !is_hidden(file)).take(TRIES).find_map(|file| load_network_image(file).ok())
        })
        .collect()
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

/// How many images a data set folder holds and in which classes, without reading them.
pub fn count_images(root: &Path) -> Result<(Vec<String>, usize), DataError> {
    let classes = scan_folder(root)?;
    let images = classes.iter().map(|(_, files)| files.len()).sum();
    Ok((classes.into_iter().map(|(name, _)| name).collect(), images))
}

/// Lists class folders (sorted by name, hidden ones ignored) and their files.
pub fn scan_folder(root: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, DataError> {
    let mut classes = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|source| io_error(root, source))? {
        let entry = entry.map_err(|source| io_error(root, source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // `metadata` follows links, so a linked class folder counts; a dangling link is ignored.
        if name.starts_with('.') || !entry.path().metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let class_dir = entry.path();
        let mut files = Vec::new();
        for file in std::fs::read_dir(&class_dir).map_err(|source| io_error(&class_dir, source))? {
            let file = file.map_err(|source| io_error(&class_dir, source))?;
            let hidden = file.file_name().to_string_lossy().starts_with('.');
            // Only entries directly inside the class folder: no recursion, so no link loops. Every
            // entry but hidden ones is kept, so that what cannot be read (a dangling or looping
            // link, a named pipe, a device, a sub-folder) is reported as skipped with the reason.
            if !hidden {
                files.push(file.path());
            }
        }
        files.sort();
        classes.push((name, files));
    }
    classes.sort_by(|a, b| a.0.cmp(&b.0));
    if classes.is_empty() {
        return Err(DataError::NoClasses { path: root.to_path_buf() });
    }
    Ok(classes)
}

/// One file read for a data set: label, path, stamp, the picture or why not, and whether it came
/// from the decode cache.
type DecodedFile = (usize, PathBuf, FileStamp, Result<RgbImage, String>, bool);

/// Loads a data set folder. Decoded images are cached under `cache` (normally [`cache_dir`];
/// None decodes everything). `progress(done, total)` is called from worker threads as files are
/// decoded; `cancel` stops early with `DataError::Cancelled`.
pub fn load_dataset(
    root: &Path,
    cache: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<Dataset, DataError> {
    let classes = scan_folder(root)?;
    let files: Vec<(usize, &PathBuf)> =
        classes.iter().enumerate().flat_map(|(label, (_, files))| files.iter().map(move |path| (label, path))).collect();
    let cache_file = cache.map(|dir| dir.join("datasets").join(format!("{}.bin", dataset_key(root))));
    let cache = cache_file.as_deref().map(DecodeCache::read).unwrap_or_default();
    let total = files.len();
    let done = AtomicUsize::new(0);
    let results: Vec<DecodedFile> = files
        .par_iter()
        .map(|&(label, path)| {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let stamp = FileStamp::of(path);
            let key = cache_key(root, path);
            let (result, from_cache) = match cache.entries.get(&key) {
                Some((cached_stamp, cached)) if *cached_stamp == stamp => (cached.clone(), true),
                _ => (load_network_image(path).map_err(|error| error.to_string()), false),
            };
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            Some((label, path.clone(), stamp, result, from_cache))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(DataError::Cancelled)?;

    let mut dataset = Dataset {
        root: root.to_path_buf(),
        class_names: classes.iter().map(|(name, _)| name.clone()).collect(),
        images: Vec::new(),
        labels: Vec::new(),
        paths: Vec::new(),
        skipped: Vec::new(),
        cached: 0,
    };
    let mut fresh_cache = DecodeCache::default();
    for (label, path, stamp, result, from_cache) in results {
        dataset.cached += usize::from(from_cache);
        fresh_cache.entries.insert(cache_key(root, &path), (stamp, result.clone()));
        match result {
            Ok(image) => {
                dataset.images.push(image);
                dataset.labels.push(label);
                dataset.paths.push(path);
            }
            Err(reason) => dataset.skipped.push(SkippedFile { path, reason }),
        }
    }
    if let Some(cache_file) = cache_file.filter(|_| dataset.cached < total || cache.entries.len() != total) {
        // A cache that cannot be written only costs time next run.
        let _ = fresh_cache.write(&cache_file);
    }
    if dataset.images.is_empty() {
        return Err(DataError::NoImages { path: root.to_path_buf(), skipped: dataset.skipped.len() });
    }
    let summary = dataset.summary();
    let populated: Vec<&String> = summary.class_names.iter().zip(&summary.counts).filter(|(_, n)| **n > 0).map(|(c, _)| c).collect();
    if populated.len() < 2 {
        return Err(DataError::SingleClass { path: root.to_path_buf(), class: populated[0].clone() });
    }
    Ok(dataset)
}

/// Indices of the training and validation images: per class, a seeded shuffle, then the first
/// `round(n * validation_fraction)` (at least one when the class has two or more) to validation.
pub fn stratified_split(labels: &[usize], validation_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = SeededRng::new(seed);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut members);
        let wanted = (members.len() as f64 * validation_fraction).round() as usize;
        let held_out = if members.len() >= 2 { wanted.clamp(1, members.len() - 1) } else { 0 };
        validation.extend_from_slice(&members[..held_out]);
        train.extend_from_slice(&members[held_out..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}

/// Size and modification time: a changed file invalidates its cache entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct FileStamp {
    bytes: u64,
    modified_nanos: u128,
}

impl FileStamp {
    fn of(path: &Path) -> FileStamp {
        let Ok(meta) = std::fs::metadata(path) else { return FileStamp::default() };
        let modified_nanos = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        FileStamp { bytes: meta.len(), modified_nanos }
    }
}

/// A file's cache entry name: its path inside the data set, so the same folder reached by a
/// relative or an absolute path shares its cache.
fn cache_key(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

fn dataset_key(root: &Path) -> String {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    sha256_hex(canonical.to_string_lossy().as_bytes())[..24].to_string()
}

/// The decode cache of one folder: per file path, its stamp and either the decoded image or the
/// reason it was skipped. A simple binary file; anything unreadable is treated as no cache.
#[derive(Default)]
struct DecodeCache {
    entries: HashMap<String, (FileStamp, Result<RgbImage, String>)>,
}

const CACHE_MAGIC: &[u8; 8] = b"AADECv1\n";

impl DecodeCache {
    fn read(path: &Path) -> DecodeCache {
        std::fs::read(path).ok().and_then(|bytes| DecodeCache::parse(&bytes)).unwrap_or_default()
    }

    fn parse(bytes: &[u8]) -> Option<DecodeCache> {
        let mut reader = ByteReader { bytes, at: 0 };
        if reader.take(8)? != CACHE_MAGIC {
            return None;
        }
        let count = reader.u64()? as usize;
        let mut entries = HashMap::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let path_len = reader.u64()? as usize;
            let path = String::from_utf8(reader.take(path_len)?.to_vec()).ok()?;
            let stamp = FileStamp { bytes: reader.u64()?, modified_nanos: u128::from(reader.u64()?) << 64 | u128::from(reader.u64()?) };
            let result = match reader.take(1)?[0] {
                0 => {
                    let side = INPUT_SIZE as u32;
                    Ok(RgbImage::from_raw(side, side, reader.take(IMAGE_BYTES)?.to_vec())?)
                }
                _ => {
                    let len = reader.u64()? as usize;
                    Err(String::from_utf8(reader.take(len)?.to_vec()).ok()?)
                }
            };
            entries.insert(path, (stamp, result));
        }
        Some(DecodeCache { entries })
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(self.entries.len() * (IMAGE_BYTES + 128) + 16);
        out.extend_from_slice(CACHE_MAGIC);
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (file, (stamp, result)) in &self.entries {
            out.extend_from_slice(&(file.len() as u64).to_le_bytes());
            out.extend_from_slice(file.as_bytes());
            out.extend_from_slice(&stamp.bytes.to_le_bytes());
            out.extend_from_slice(&((stamp.modified_nanos >> 64) as u64).to_le_bytes());
            out.extend_from_slice(&(stamp.modified_nanos as u64).to_le_bytes());
            match result {
                Ok(image) => {
                    out.push(0);
                    out.extend_from_slice(image.as_raw());
                }
                Err(reason) => {
                    out.push(1);
                    out.extend_from_slice(&(reason.len() as u64).to_le_bytes());
                    out.extend_from_slice(reason.as_bytes());
                }
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_atomically(path, &out)
    }
}

struct ByteReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ByteReader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(len)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}
