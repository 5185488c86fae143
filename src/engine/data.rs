//! Labelled image folders: one sub-folder per class (the paper's layout). Files are decoded in
//! parallel through the one image-input function; unreadable files are skipped and reported.
//! Decoded images, at the side of the network's input (100 for the paper's CNN), are cached per
//! folder and side so a second run does not decode again.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fsutil::{AtomicFile, sha256_hex};
use super::image_input::{load_network_image, load_network_image_sized};
use super::model::INPUT_SIZE;
use super::rng::SeededRng;

/// Bytes of one decoded square picture of side `side`.
fn image_bytes(side: u32) -> usize {
    (side as usize).pow(2) * 3
}

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
    /// Network-ready images (`side` x `side` RGB), with their class and source file.
    pub images: Vec<RgbImage>,
    pub labels: Vec<usize>,
    pub paths: Vec<PathBuf>,
    pub skipped: Vec<SkippedFile>,
    /// How many images were taken from the cache instead of decoded.
    pub cached: usize,
    /// The side the photos were decoded at (the network's input size).
    pub side: u32,
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
        summarise(&self.root, &self.class_names, &self.labels, &self.skipped)
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

/// Loads a data set folder into memory. Decoded images are cached under `cache` (normally
/// [`cache_dir`]; None decodes everything). `progress(done, total)` is called from worker threads
/// as files are read; `cancel` stops early with `DataError::Cancelled`.
pub fn load_dataset(
    root: &Path,
    cache: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<Dataset, DataError> {
    load_dataset_sized(root, cache, INPUT_SIZE, progress, cancel)
}

/// [`load_dataset`] for a network whose input is `side` x `side`.
pub fn load_dataset_sized(
    root: &Path,
    cache: Option<&Path>,
    side: i64,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<Dataset, DataError> {
    let read = read_folder(root, cache, side as u32, true, progress, cancel)?;
    Ok(Dataset {
        root: read.root,
        class_names: read.class_names,
        images: read.images,
        labels: read.labels,
        paths: read.paths,
        skipped: read.skipped,
        cached: read.cached,
        side: read.side,
    })
}

/// Opens a data set folder without keeping its photos in memory: each is decoded once (or found
/// in the cache under `cache`) to learn whether it is readable, and read back a batch at a time
/// through [`Photos::read`]. Memory does not grow with the number of photos, so any folder fits.
pub fn open_dataset(
    root: &Path,
    cache: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<StoredDataset, DataError> {
    open_dataset_sized(root, cache, INPUT_SIZE, progress, cancel)
}

/// [`open_dataset`] for a network whose input is `side` x `side`.
pub fn open_dataset_sized(
    root: &Path,
    cache: Option<&Path>,
    side: i64,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<StoredDataset, DataError> {
    let read = read_folder(root, cache, side as u32, false, progress, cancel)?;
    Ok(StoredDataset {
        root: read.root,
        class_names: read.class_names,
        labels: read.labels,
        paths: read.paths,
        skipped: read.skipped,
        cached: read.cached,
        places: read.places,
        store: read.store,
        side: read.side,
    })
}

/// A data set's photos wherever they are kept: what an atlas build reads, a batch at a time.
pub trait Photos: Sync {
    fn root(&self) -> &Path;
    fn class_names(&self) -> &[String];
    fn labels(&self) -> &[usize];
    fn paths(&self) -> &[PathBuf];
    /// Photos `range`, network-ready (the network's input side, RGB). An error names a file that can no longer be
    /// read (changed or removed since the data set was opened).
    fn read(&self, range: std::ops::Range<usize>) -> Result<std::borrow::Cow<'_, [RgbImage]>, SkippedFile>;
    /// Bytes of decoded photos this data set holds in memory.
    fn resident_photo_bytes(&self) -> u64;

    fn len(&self) -> usize {
        self.labels().len()
    }

    fn is_empty(&self) -> bool {
        self.labels().is_empty()
    }
}

impl Photos for Dataset {
    fn root(&self) -> &Path {
        &self.root
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn labels(&self) -> &[usize] {
        &self.labels
    }

    fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    fn read(&self, range: std::ops::Range<usize>) -> Result<std::borrow::Cow<'_, [RgbImage]>, SkippedFile> {
        Ok(std::borrow::Cow::Borrowed(&self.images[range]))
    }

    fn resident_photo_bytes(&self) -> u64 {
        (self.images.len() * image_bytes(self.side)) as u64
    }
}

/// A data set whose photos stay on disk: in the decode cache, or (when no cache could be
/// written) in their own files, decoded again when read.
pub struct StoredDataset {
    pub root: PathBuf,
    pub class_names: Vec<String>,
    pub labels: Vec<usize>,
    pub paths: Vec<PathBuf>,
    pub skipped: Vec<SkippedFile>,
    /// How many images were taken from the cache instead of decoded.
    pub cached: usize,
    places: Vec<Place>,
    store: Option<std::fs::File>,
    side: u32,
}

impl StoredDataset {
    pub fn summary(&self) -> DatasetSummary {
        summarise(&self.root, &self.class_names, &self.labels, &self.skipped)
    }
}

impl Photos for StoredDataset {
    fn root(&self) -> &Path {
        &self.root
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn labels(&self) -> &[usize] {
        &self.labels
    }

    fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    fn read(&self, range: std::ops::Range<usize>) -> Result<std::borrow::Cow<'_, [RgbImage]>, SkippedFile> {
        let images: Result<Vec<RgbImage>, SkippedFile> = range
            .into_par_iter()
            .map(|i| {
                let path = &self.paths[i];
                let unreadable = |reason: String| SkippedFile { path: path.clone(), reason };
                let cached = match (self.places[i], &self.store) {
                    (Place::Record(record), Some(store)) => read_record(store, record, self.side).ok(),
                    _ => None,
                };
                // A record that cannot be read (the cache damaged from outside) costs a decode.
                cached.map_or_else(|| load_network_image_sized(path, self.side.into()).map_err(|error| unreadable(error.to_string())), Ok)
            })
            .collect();
        images.map(std::borrow::Cow::Owned)
    }

    fn resident_photo_bytes(&self) -> u64 {
        0
    }
}

fn summarise(root: &Path, class_names: &[String], labels: &[usize], skipped: &[SkippedFile]) -> DatasetSummary {
    let mut counts = vec![0; class_names.len()];
    for &label in labels {
        counts[label] += 1;
    }
    DatasetSummary { root: root.to_path_buf(), class_names: class_names.to_vec(), counts, skipped: skipped.to_vec() }
}

/// Where a stored data set finds a photo.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// A record of the decode cache file.
    Record(u64),
    /// Its own file, decoded again.
    File,
}

/// What reading a folder found, for [`load_dataset`] and [`open_dataset`].
struct ReadFolder {
    root: PathBuf,
    class_names: Vec<String>,
    labels: Vec<usize>,
    paths: Vec<PathBuf>,
    skipped: Vec<SkippedFile>,
    cached: usize,
    /// The pictures, when kept in memory.
    images: Vec<RgbImage>,
    /// Where each picture is on disk, when not kept.
    places: Vec<Place>,
    store: Option<std::fs::File>,
    side: u32,
}

/// A file's picture (None when it stays in the old cache, unread) or why it is not usable.
type FileRead = Result<Option<RgbImage>, String>;

/// Files are read this many at a time: every file of a chunk decoded in parallel, then written to
/// the new cache, so memory holds one chunk of pictures, not the folder.
const READ_CHUNK: usize = 256;

fn read_folder(
    root: &Path,
    cache: Option<&Path>,
    side: u32,
    keep_images: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancel: &AtomicBool,
) -> Result<ReadFolder, DataError> {
    let classes = scan_folder(root)?;
    let files: Vec<(usize, &PathBuf)> =
        classes.iter().enumerate().flat_map(|(label, (_, files))| files.iter().map(move |path| (label, path))).collect();
    let cache_file = cache.map(|dir| dir.join("datasets").join(cache_file_name(root, side)));
    let old = cache_file.as_deref().and_then(|path| DecodeCache::open(path, side));
    let stamps: Vec<FileStamp> = files.par_iter().map(|(_, path)| FileStamp::of(path)).collect();
    let keys: Vec<String> = files.iter().map(|(_, path)| cache_key(root, path)).collect();
    let cached_entry = |i: usize| old.as_ref().and_then(|old| old.entries.get(&keys[i]).filter(|(stamp, _)| *stamp == stamps[i]));
    // A cache that already describes every file, and only them, is kept as it is.
    let up_to_date =
        old.as_ref().is_some_and(|old| old.entries.len() == files.len()) && (0..files.len()).all(|i| cached_entry(i).is_some());
    let mut writer = match (&cache_file, up_to_date) {
        (Some(path), false) => CacheWriter::create(path, side),
        _ => None,
    };
    let needs_pixels = keep_images || writer.is_some();

    let mut read = ReadFolder {
        root: root.to_path_buf(),
        class_names: classes.iter().map(|(name, _)| name.clone()).collect(),
        labels: Vec::new(),
        paths: Vec::new(),
        skipped: Vec::new(),
        cached: 0,
        images: Vec::new(),
        places: Vec::new(),
        store: None,
        side,
    };
    let total = files.len();
    let done = AtomicUsize::new(0);
    // Per usable photo: its record in the new cache and in the old one.
    let mut records: Vec<(Option<u64>, Option<u64>)> = Vec::new();
    for chunk_start in (0..total).step_by(READ_CHUNK) {
        let chunk: Vec<usize> = (chunk_start..(chunk_start + READ_CHUNK).min(total)).collect();
        // Per file: the picture (None when it stays in the old cache unread) or why it is not
        // usable, and its record in the old cache.
        let results: Vec<(FileRead, Option<u64>)> = chunk
            .par_iter()
            .map(|&i| {
                if cancel.load(Ordering::Relaxed) {
                    return None;
                }
                let decode = || load_network_image_sized(files[i].1, side.into()).map(Some).map_err(|error| error.to_string());
                let result = match (cached_entry(i), &old) {
                    (Some((_, Err(reason))), _) => (Err(reason.clone()), None),
                    (Some((_, Ok(record))), Some(old)) if needs_pixels => match read_record(&old.file, *record, side) {
                        Ok(image) => (Ok(Some(image)), Some(*record)),
                        // The cache went bad under us: decode the file itself.
                        Err(_) => (decode(), None),
                    },
                    (Some((_, Ok(record))), _) => (Ok(None), Some(*record)),
                    _ => (decode(), None),
                };
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                Some(result)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(DataError::Cancelled)?;
        for (&i, (result, old_record)) in chunk.iter().zip(results) {
            let (label, path) = files[i];
            read.cached += usize::from(old_record.is_some() || cached_entry(i).is_some_and(|(_, r)| r.is_err()));
            let new_record = writer.as_mut().and_then(|w| w.add(&keys[i], stamps[i], &result));
            if writer.as_ref().is_some_and(|w| w.failed) {
                // A cache that cannot be written only costs time next run.
                writer = None;
            }
            match result {
                Ok(image) => {
                    read.labels.push(label);
                    read.paths.push(path.clone());
                    records.push((new_record, old_record));
                    if keep_images && let Some(image) = image {
                        read.images.push(image);
                    }
                }
                Err(reason) => read.skipped.push(SkippedFile { path: path.clone(), reason }),
            }
        }
    }
    // Photos are read back from the new cache when it was written whole, else from the old one
    // where it has them, else from their own files.
    let committed = writer.and_then(CacheWriter::commit);
    if !keep_images {
        let use_new = committed.is_some();
        read.places = records
            .iter()
            .map(|&(new, old)| match if use_new { new } else { old } {
                Some(record) => Place::Record(record),
                None => Place::File,
            })
            .collect();
        read.store = committed.or_else(|| old.map(|old| old.file));
    }
    if read.labels.is_empty() {
        return Err(DataError::NoImages { path: root.to_path_buf(), skipped: read.skipped.len() });
    }
    let summary = summarise(root, &read.class_names, &read.labels, &read.skipped);
    let populated: Vec<&String> = summary.class_names.iter().zip(&summary.counts).filter(|(_, n)| **n > 0).map(|(c, _)| c).collect();
    if populated.len() < 2 {
        return Err(DataError::SingleClass { path: root.to_path_buf(), class: populated[0].clone() });
    }
    Ok(read)
}

/// Indices of the training and validation images: per class, a seeded shuffle, then the first
/// `round(n * validation_fraction)` (at least one when the class has two or more and the fraction
/// is above 0) to validation.
pub fn stratified_split(labels: &[usize], validation_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = SeededRng::new(seed);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut members);
        let wanted = (members.len() as f64 * validation_fraction).round() as usize;
        // A fraction of 0 trains on every photo (a final model whose recipe was cross-validated).
        let held_out = if members.len() >= 2 && validation_fraction > 0.0 { wanted.clamp(1, members.len() - 1) } else { 0 };
        validation.extend_from_slice(&members[..held_out]);
        train.extend_from_slice(&members[held_out..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}

/// The fold (0..folds) of each image in a stratified `folds`-fold partition: per class, a seeded
/// shuffle, then the members dealt to the folds in turn, so every fold holds each class's share
/// to within one photo.
pub fn stratified_folds(labels: &[usize], folds: u32, seed: u64) -> Vec<u32> {
    let folds = folds.max(1);
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = SeededRng::new(seed);
    let mut fold_of = vec![0u32; labels.len()];
    // Where each class's dealing starts turns round, so the small remainders of many classes do
    // not all land in fold 0.
    let mut start = 0u32;
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut members);
        for (position, &member) in members.iter().enumerate() {
            fold_of[member] = (start + position as u32) % folds;
        }
        start = (start + members.len() as u32) % folds;
    }
    fold_of
}

/// Indices of the training and held-out images of a run with `recipe`.
pub fn holdout_split(labels: &[usize], recipe: &crate::engine::recipe::TrainConfig) -> (Vec<usize>, Vec<usize>) {
    match recipe.holdout {
        crate::engine::recipe::Holdout::Fraction => stratified_split(labels, recipe.validation_fraction, recipe.seed),
        crate::engine::recipe::Holdout::Fold { folds, index } => {
            let fold_of = stratified_folds(labels, folds, recipe.seed);
            (0..labels.len()).partition(|&i| fold_of[i] != index)
        }
    }
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

/// The cache file of a folder decoded at `side`: the paper's size keeps the name it always had,
/// so existing caches stay valid; other sides get their own file.
fn cache_file_name(root: &Path, side: u32) -> String {
    if i64::from(side) == INPUT_SIZE { format!("{}.bin", dataset_key(root)) } else { format!("{}-{side}.bin", dataset_key(root)) }
}

/// The decode cache of one folder: a file of fixed-size picture records followed by an index
/// that gives, per file path, its stamp and either its record or the reason it was skipped.
/// Opening it reads only the index; pictures are read by record when needed. Anything
/// unreadable is treated as no cache.
///
/// Layout: magic, records (`image_bytes(side)` each), index, the index's offset (u64 LE).
struct DecodeCache {
    entries: HashMap<String, (FileStamp, Result<u64, String>)>,
    file: std::fs::File,
}

const CACHE_MAGIC: &[u8; 8] = b"AADECv2\n";

fn read_record(file: &std::fs::File, record: u64, side: u32) -> std::io::Result<RgbImage> {
    use std::os::unix::fs::FileExt;
    let bytes = image_bytes(side);
    let mut pixels = vec![0u8; bytes];
    file.read_exact_at(&mut pixels, CACHE_MAGIC.len() as u64 + record * bytes as u64)?;
    RgbImage::from_raw(side, side, pixels).ok_or_else(|| std::io::Error::other("bad record"))
}

impl DecodeCache {
    fn open(path: &Path, side: u32) -> Option<DecodeCache> {
        let record_bytes = image_bytes(side) as u64;
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(path).ok()?;
        let length = file.metadata().ok()?.len();
        let mut magic = [0u8; 8];
        file.read_exact(&mut magic).ok()?;
        if &magic != CACHE_MAGIC || length < 16 {
            return None;
        }
        file.seek(SeekFrom::End(-8)).ok()?;
        let mut footer = [0u8; 8];
        file.read_exact(&mut footer).ok()?;
        let index_at = u64::from_le_bytes(footer);
        let records_end = index_at.checked_sub(CACHE_MAGIC.len() as u64)?;
        if index_at > length - 8 || records_end % record_bytes != 0 {
            return None;
        }
        let records = records_end / record_bytes;
        file.seek(SeekFrom::Start(index_at)).ok()?;
        let mut index = Vec::new();
        (&mut file).take(length - 8 - index_at).read_to_end(&mut index).ok()?;
        let mut reader = ByteReader { bytes: &index, at: 0 };
        let count = reader.u64()? as usize;
        let mut entries = HashMap::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let path_len = reader.u64()? as usize;
            let path = String::from_utf8(reader.take(path_len)?.to_vec()).ok()?;
            let stamp = FileStamp { bytes: reader.u64()?, modified_nanos: u128::from(reader.u64()?) << 64 | u128::from(reader.u64()?) };
            let result = match reader.take(1)?[0] {
                0 => Ok(Some(reader.u64()?).filter(|&record| record < records)?),
                _ => {
                    let len = reader.u64()? as usize;
                    Err(String::from_utf8(reader.take(len)?.to_vec()).ok()?)
                }
            };
            entries.insert(path, (stamp, result));
        }
        Some(DecodeCache { entries, file })
    }
}

/// A new decode cache, written a picture at a time while a folder is read, and put in place
/// atomically at the end.
struct CacheWriter {
    out: AtomicFile,
    records: u64,
    index: Vec<u8>,
    entries: u64,
    failed: bool,
    record_bytes: u64,
}

impl CacheWriter {
    fn create(path: &Path, side: u32) -> Option<CacheWriter> {
        std::fs::create_dir_all(path.parent()?).ok()?;
        let mut out = AtomicFile::create(path).ok()?;
        out.write_all(CACHE_MAGIC).ok()?;
        Some(CacheWriter { out, records: 0, index: Vec::new(), entries: 0, failed: false, record_bytes: image_bytes(side) as u64 })
    }

    /// Adds a file's entry; returns the record its picture went to (None for a skipped file, or
    /// when writing failed, which sets `failed`).
    fn add(&mut self, key: &str, stamp: FileStamp, result: &FileRead) -> Option<u64> {
        self.index.extend_from_slice(&(key.len() as u64).to_le_bytes());
        self.index.extend_from_slice(key.as_bytes());
        self.index.extend_from_slice(&stamp.bytes.to_le_bytes());
        self.index.extend_from_slice(&((stamp.modified_nanos >> 64) as u64).to_le_bytes());
        self.index.extend_from_slice(&(stamp.modified_nanos as u64).to_le_bytes());
        self.entries += 1;
        match result {
            Ok(Some(image)) => {
                if self.out.write_all(image.as_raw()).is_err() {
                    self.failed = true;
                    return None;
                }
                self.index.push(0);
                self.index.extend_from_slice(&self.records.to_le_bytes());
                self.records += 1;
                Some(self.records - 1)
            }
            // Pictures are always given to a writer; a missing one cannot be recorded.
            Ok(None) => {
                self.failed = true;
                None
            }
            Err(reason) => {
                self.index.push(1);
                self.index.extend_from_slice(&(reason.len() as u64).to_le_bytes());
                self.index.extend_from_slice(reason.as_bytes());
                None
            }
        }
    }

    /// Writes the index and puts the file in place; the file, open for reading, or None.
    fn commit(mut self) -> Option<std::fs::File> {
        let index_at = CACHE_MAGIC.len() as u64 + self.records * self.record_bytes;
        self.out.write_all(&self.entries.to_le_bytes()).ok()?;
        self.out.write_all(&self.index).ok()?;
        self.out.write_all(&index_at.to_le_bytes()).ok()?;
        self.out.commit().ok()
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
