//! The paper's data set in one step: download the Oxford 17 Category Flower Dataset archive
//! (resuming a partial download), check its layout, and sort its images into the class folders
//! that training reads.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

/// The Visual Geometry Group's archive (about 58 MB). Not reachable from every machine; `--from`
/// takes another address or a local copy.
pub const FLOWERS17_URL: &str = "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz";
/// SHA-256 of that archive as the Visual Geometry Group publishes it (its MD5 is
/// b59a65d8d1a99cd66944d474e1289eab). A download or a copy on disk is checked against it before
/// anything is unpacked.
pub const FLOWERS17_SHA256: &str = "fe38a60f8b4a95e657551247d3e7d799a3fafcdbc595be504b12839967823d70";
/// Names another SHA-256 to accept (a mirror that repackaged the archive).
pub const SHA256_VARIABLE: &str = "ACTIVATION_ATLAS_FLOWERS17_SHA256";

/// The SHA-256 the archive must have: [`SHA256_VARIABLE`] when set, else [`FLOWERS17_SHA256`].
pub fn expected_sha256() -> String {
    std::env::var(SHA256_VARIABLE)
        .ok()
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| FLOWERS17_SHA256.to_string())
}

/// The archive's classes, in the order of its numbered images.
pub const FLOWERS17_CLASSES: [&str; 17] = [
    "daffodil",
    "snowdrop",
    "lily_valley",
    "bluebell",
    "crocus",
    "iris",
    "tigerlily",
    "tulip",
    "fritillary",
    "sunflower",
    "daisy",
    "colts_foot",
    "dandelion",
    "cowslip",
    "buttercup",
    "windflower",
    "pansy",
];
/// Consecutive images per class: `jpg/image_0001.jpg` … `image_1360.jpg`.
pub const FLOWERS17_PER_CLASS: usize = 80;
const FLOWERS17_IMAGES: usize = FLOWERS17_CLASSES.len() * FLOWERS17_PER_CLASS;
/// Largest archive accepted (the real one is about 58 MB).
const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("cannot download {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("{path}: {reason}", path = .path.display())]
    File { path: PathBuf, reason: String },
    #[error("{path} is not the 17 flowers archive: {reason}", path = .path.display())]
    NotTheArchive { path: PathBuf, reason: String },
    #[error("{path} already holds files; choose an empty or new folder", path = .path.display())]
    NotEmpty { path: PathBuf },
    #[error("cancelled")]
    Cancelled,
}

/// How far a `get` is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GetProgress {
    /// Bytes of the archive on disk, and its size when the server says.
    Downloading {
        done: u64,
        total: Option<u64>,
    },
    /// Bytes of the archive checked (its SHA-256 and its gzip CRC) before unpacking.
    Checking {
        done: u64,
        total: u64,
    },
    Unpacking {
        done: usize,
        total: usize,
    },
}

/// Where the archive comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Url(String),
    File(PathBuf),
}

impl Source {
    /// `http(s)://…` is an address, anything else a file.
    pub fn parse(text: &str) -> Source {
        if text.starts_with("http://") || text.starts_with("https://") {
            Source::Url(text.to_string())
        } else {
            Source::File(PathBuf::from(text))
        }
    }
}

/// Gets flowers17 into `dir` (class folders of 80 images each). A download goes to
/// `downloads/17flowers.tgz`, resuming from `17flowers.tgz.part` if an earlier one was cut off.
/// The archive must have the SHA-256 `sha256` (lower-case hex) and an intact gzip stream before
/// anything of it is unpacked.
pub fn get_flowers17(
    source: &Source,
    dir: &Path,
    downloads: &Path,
    sha256: &str,
    progress: &mut dyn FnMut(GetProgress),
    cancel: &AtomicBool,
) -> Result<usize, GetError> {
    refuse_if_not_empty(dir)?;
    match source {
        Source::File(path) => {
            verify_archive(path, sha256, progress, cancel)?;
            unpack_flowers17(path, dir, progress, cancel)
        }
        Source::Url(url) => {
            // A complete download from an earlier run (whose unpacking failed or was
            // cancelled) is used again rather than fetched anew.
            let archive = downloads.join("17flowers.tgz");
            if !archive.is_file() {
                download(url, &archive, progress, cancel)?;
            }
            let unpacked =
                verify_archive(&archive, sha256, progress, cancel).and_then(|()| unpack_flowers17(&archive, dir, progress, cancel));
            // A downloaded file that is not the archive would otherwise be refused on every later run.
            if matches!(unpacked, Err(GetError::NotTheArchive { .. })) {
                let _ = std::fs::remove_file(&archive);
            }
            unpacked
        }
    }
}

/// Reads `archive` once: its SHA-256 must be `sha256`, and its gzip stream must inflate to the
/// end with the CRC-32 and length its trailer records. Nothing is written.
pub fn verify_archive(archive: &Path, sha256: &str, progress: &mut dyn FnMut(GetProgress), cancel: &AtomicBool) -> Result<(), GetError> {
    use sha2::Digest;
    let not_it = |reason: String| GetError::NotTheArchive { path: archive.to_path_buf(), reason };
    let file_error = |e: std::io::Error| GetError::File { path: archive.to_path_buf(), reason: e.to_string() };
    crate::engine::fsutil::ensure_regular_file(archive).map_err(file_error)?;
    let file = File::open(archive).map_err(file_error)?;
    let total = file.metadata().map_err(file_error)?.len();
    if total > MAX_ARCHIVE_BYTES {
        return Err(not_it(format!("{total} bytes, more than the archive can be")));
    }
    /// Hashes what the gzip decoder reads, and reports the bytes read.
    struct Hashing<'a, R> {
        inner: R,
        hasher: sha2::Sha256,
        done: u64,
        total: u64,
        progress: &'a mut dyn FnMut(GetProgress),
        cancel: &'a AtomicBool,
    }
    impl<R: Read> Read for Hashing<'_, R> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled"));
            }
            let n = self.inner.read(buffer)?;
            self.hasher.update(&buffer[..n]);
            self.done += n as u64;
            (self.progress)(GetProgress::Checking { done: self.done, total: self.total });
            Ok(n)
        }
    }
    let mut hashing = Hashing { inner: std::io::BufReader::new(file), hasher: sha2::Sha256::new(), done: 0, total, progress, cancel };
    // flate2 checks the trailer's CRC-32 and length when the stream ends; inflated bytes are
    // counted, not kept.
    let inflated = std::io::copy(&mut flate2::read::GzDecoder::new(&mut hashing), &mut std::io::sink());
    if cancel.load(Ordering::Relaxed) {
        return Err(GetError::Cancelled);
    }
    let inflated = inflated.map_err(|e| not_it(format!("its gzip stream is damaged ({e})")));
    // Bytes after the gzip stream count towards the hash too.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(file_error)?;
    let digest: String = hashing.hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
    if digest != sha256 {
        return Err(not_it(format!(
            "its SHA-256 is {digest}, the published archive's is {sha256} (a damaged or different file; {SHA256_VARIABLE} names another to accept)"
        )));
    }
    inflated.map(|_| ())
}

fn refuse_if_not_empty(dir: &Path) -> Result<(), GetError> {
    let has_entries = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if has_entries { Err(GetError::NotEmpty { path: dir.to_path_buf() }) } else { Ok(()) }
}

/// How long a download may wait: to connect, for the response's headers, and between two pieces
/// of its body. A server that stops sending is given up on after `idle`, and a cancel is seen
/// within `poll` however the connection behaves.
#[derive(Clone, Copy, Debug)]
pub struct NetLimits {
    pub connect: Duration,
    pub response: Duration,
    pub idle: Duration,
    pub poll: Duration,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits {
            connect: Duration::from_secs(20),
            response: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            poll: Duration::from_millis(250),
        }
    }
}

/// Downloads `url` to `archive`, continuing `archive.part` when the server supports ranges.
pub fn download(url: &str, archive: &Path, progress: &mut dyn FnMut(GetProgress), cancel: &AtomicBool) -> Result<(), GetError> {
    download_within(url, archive, progress, cancel, &NetLimits::default())
}

/// [`download`] with the waits of `limits`.
pub fn download_within(
    url: &str,
    archive: &Path,
    progress: &mut dyn FnMut(GetProgress),
    cancel: &AtomicBool,
    limits: &NetLimits,
) -> Result<(), GetError> {
    let failed = |reason: String| GetError::Download { url: url.to_string(), reason };
    let partial = archive.with_extension("tgz.part");
    if let Some(dir) = archive.parent() {
        std::fs::create_dir_all(dir).map_err(|e| GetError::File { path: dir.to_path_buf(), reason: e.to_string() })?;
    }
    // A part as large as the whole archive can be is not a part of it: start again.
    let mut have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    if have > MAX_ARCHIVE_BYTES {
        let _ = std::fs::remove_file(&partial);
        have = 0;
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(limits.connect))
        .timeout_recv_response(Some(limits.response))
        // The reading thread of an abandoned download ends by this at the latest.
        .timeout_recv_body(Some(Duration::from_secs(4 * 3600)))
        // An https download never follows a redirect to plain http.
        .https_only(url.starts_with("https://"))
        .http_status_as_error(false)
        .build()
        .into();
    // What identified the file the part was cut from: a server whose file has changed since
    // answers an If-Range request with the whole new file instead of the rest of the old one.
    let validator_file = archive.with_extension("tgz.part.validator");
    let validator = std::fs::read_to_string(&validator_file).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let get = |from: u64| {
        // The bytes as stored: a content encoding would make the counts and ranges lie.
        let mut request = agent.get(url).header("Accept-Encoding", "identity");
        if from > 0 {
            request = request.header("Range", &format!("bytes={from}-"));
            if let Some(validator) = &validator {
                request = request.header("If-Range", validator);
            }
        }
        request.call().map_err(|e| failed(e.to_string()))
    };
    let mut response = get(have)?;
    // 416: the part is complete or not of this file; either way, start again from zero.
    if have > 0 && response.status() == 416 {
        have = 0;
        response = get(0)?;
    }
    if !response.status().is_success() {
        return Err(failed(format!("the server answered {}", response.status())));
    }
    // A 206 continues the part only where its Content-Range starts at the part's end; a server
    // that ignores the range (200) or answers another one is read from zero.
    let content_range_start = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes ")?.split('-').next()?.trim().parse::<u64>().ok());
    let resumed = have > 0 && response.status() == 206 && content_range_start == Some(have);
    if response.status() == 206 && !resumed {
        have = 0;
        response = get(0)?;
    }
    let length = response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let start = if resumed { have } else { 0 };
    let total = length.map(|l| l + start);
    if total.is_some_and(|t| t > MAX_ARCHIVE_BYTES) {
        return Err(failed(format!("the server offers {} bytes, more than the archive can be", total.unwrap_or(0))));
    }
    let file_error = |e: std::io::Error| GetError::File { path: partial.clone(), reason: e.to_string() };
    if !resumed {
        // A new part: remember its file's strong ETag, else its Last-Modified (a weak ETag may
        // not be used with If-Range).
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let etag = header("etag").filter(|tag| !tag.starts_with("W/"));
        match etag.or_else(|| header("last-modified")) {
            Some(validator) => write_durably(&validator_file, validator.as_bytes()).map_err(file_error)?,
            None => {
                let _ = std::fs::remove_file(&validator_file);
            }
        }
    }
    let mut file = if resumed {
        std::fs::OpenOptions::new().append(true).open(&partial).map_err(file_error)?
    } else {
        File::create(&partial).map_err(file_error)?
    };
    let pieces = read_in_background(response.into_body().into_reader());
    let mut done = start;
    let mut last_piece = Instant::now();
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(GetError::Cancelled);
        }
        let piece = match pieces.recv_timeout(limits.poll) {
            Ok(piece) => piece,
            Err(RecvTimeoutError::Timeout) if last_piece.elapsed() < limits.idle => continue,
            Err(RecvTimeoutError::Timeout) => {
                return Err(failed(format!(
                    "the server sent nothing for {} s after {done} bytes; run again to resume",
                    limits.idle.as_secs()
                )));
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        last_piece = Instant::now();
        let piece = piece.map_err(|e| failed(format!("the connection broke after {done} bytes ({e}); run again to resume")))?;
        file.write_all(&piece).map_err(file_error)?;
        done += piece.len() as u64;
        if done > MAX_ARCHIVE_BYTES {
            return Err(failed("more bytes than the archive can be".to_string()));
        }
        progress(GetProgress::Downloading { done, total });
    }
    file.sync_all().map_err(file_error)?;
    if let Some(total) = total.filter(|&t| t != done) {
        return Err(failed(format!("got {done} of {total} bytes; run again to resume")));
    }
    std::fs::rename(&partial, archive).map_err(|e| GetError::File { path: archive.to_path_buf(), reason: e.to_string() })?;
    let _ = std::fs::remove_file(&validator_file);
    Ok(())
}

/// Reads `body` on a thread of its own, piece by piece, so the download can give up on a silent
/// server or a cancel without waiting for a read that may never return; the thread ends with
/// the connection (its reads are bounded by the connection's own timeouts or its closing).
fn read_in_background(mut body: impl Read + Send + 'static) -> Receiver<std::io::Result<Vec<u8>>> {
    let (sender, receiver) = sync_channel(4);
    let spawned = std::thread::Builder::new().name("download-read".to_string()).spawn(move || {
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            match body.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    if sender.send(Ok(buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    let _ = sender.send(Err(error));
                    return;
                }
            }
        }
    });
    if let Err(error) = spawned {
        let (sender, receiver) = sync_channel(1);
        let _ = sender.send(Err(error));
        return receiver;
    }
    receiver
}

/// The largest photo entry accepted from the archive (its largest photo is well under 1 MB).
const MAX_ENTRY_BYTES: u64 = 32 << 20;

/// Writes a new file and flushes it to disk, so the rename that publishes the data set never
/// publishes a photo the disk does not hold yet.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The number `n` of an archive entry named `jpg/image_NNNN.jpg`.
fn image_number(entry: &Path) -> Option<usize> {
    let name = entry.to_str()?.strip_prefix("jpg/")?.strip_prefix("image_")?.strip_suffix(".jpg")?;
    (name.len() == 4).then(|| name.parse().ok()).flatten()
}

/// Sorts the archive's 1,360 images into `dir/<class>/image_NNNN.jpg`. Unpacks beside `dir` and
/// renames at the end, so a failed or cancelled run leaves no half data set.
pub fn unpack_flowers17(archive: &Path, dir: &Path, progress: &mut dyn FnMut(GetProgress), cancel: &AtomicBool) -> Result<usize, GetError> {
    let not_it = |reason: String| GetError::NotTheArchive { path: archive.to_path_buf(), reason };
    let file_error = |e: std::io::Error| GetError::File { path: archive.to_path_buf(), reason: e.to_string() };
    // Checked before opening: opening a named pipe would wait for a writer.
    crate::engine::fsutil::ensure_regular_file(archive).map_err(file_error)?;
    let file = File::open(archive).map_err(file_error)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "flowers17".to_string());
    let staging = dir.with_file_name(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    let write_error = |path: &Path, e: std::io::Error| GetError::File { path: path.to_path_buf(), reason: e.to_string() };
    for class in FLOWERS17_CLASSES {
        std::fs::create_dir_all(staging.join(class)).map_err(|e| write_error(&staging, e))?;
    }
    let mut seen = vec![false; FLOWERS17_IMAGES];
    let mut found = 0;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let entries = tar.entries().map_err(|e| not_it(e.to_string()))?;
    for entry in entries {
        if cancel.load(Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(GetError::Cancelled);
        }
        let mut entry = entry.map_err(|e| not_it(format!("damaged ({e})")))?;
        let path = entry.path().map_err(|e| not_it(e.to_string()))?.into_owned();
        // Only plain files: a link, device or folder named like a photo is not one.
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Some(number) = image_number(&path).filter(|n| (1..=FLOWERS17_IMAGES).contains(n)) else { continue };
        // The size the entry claims is checked before anything is read, and the read is bounded
        // by it: a crafted entry that inflates to gigabytes is refused, not held in memory.
        let claimed = entry.header().size().unwrap_or(u64::MAX);
        if claimed > MAX_ENTRY_BYTES {
            return Err(not_it(format!(
                "{} claims {claimed} bytes; no photo of the set is over {} MB",
                path.display(),
                MAX_ENTRY_BYTES >> 20
            )));
        }
        let class = FLOWERS17_CLASSES[(number - 1) / FLOWERS17_PER_CLASS];
        let target = staging.join(class).join(format!("image_{number:04}.jpg"));
        let mut bytes = Vec::with_capacity(claimed as usize);
        (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| not_it(format!("damaged at {} ({e})", path.display())))?;
        write_durably(&target, &bytes).map_err(|e| write_error(&target, e))?;
        if !std::mem::replace(&mut seen[number - 1], true) {
            found += 1;
        }
        progress(GetProgress::Unpacking { done: found, total: FLOWERS17_IMAGES });
    }
    if found != FLOWERS17_IMAGES {
        let _ = std::fs::remove_dir_all(&staging);
        let first_missing = seen.iter().position(|s| !s).map_or(0, |i| i + 1);
        return Err(not_it(format!(
            "it holds {found} of the 1360 images jpg/image_0001.jpg … image_1360.jpg (image_{first_missing:04}.jpg is missing)"
        )));
    }
    // `dir` is empty or absent (checked first); an empty one is replaced.
    let _ = std::fs::remove_dir(dir);
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| write_error(dir, e))?;
    Ok(found)
}
