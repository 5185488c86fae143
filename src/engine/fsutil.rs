//! File helpers shared by every save in the engine.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or the new
/// one, never a mix: write a temporary file beside it, flush it to disk, then rename over.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit().map(drop)
}

/// A file written in pieces that replaces `path` only when [`AtomicFile::commit`] succeeds: until
/// then it is a hidden temporary beside it, removed if the writer is dropped, so a crash or an
/// error part-way never leaves a half-written file under the real name.
pub struct AtomicFile {
    path: PathBuf,
    temporary: PathBuf,
    writer: Option<std::io::BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        remove_stale_temporaries(path);
        // A new file under a name nobody could guess, created exclusively: a link or file planted
        // at a temporary's name is never followed or written through. Readable too, so the
        // committed file can be read back through the same handle.
        let (temporary, file) = loop {
            let temporary = temporary_path(path);
            match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&temporary) {
                Ok(file) => break (temporary, file),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        };
        Ok(AtomicFile { path: path.to_path_buf(), temporary, writer: Some(std::io::BufWriter::with_capacity(1 << 20, file)) })
    }

    /// Flushes to disk and renames over `path`; returns the file, open for reading.
    pub fn commit(mut self) -> std::io::Result<File> {
        let writer = self.writer.take().expect("committed once");
        let result = (|| {
            let file = writer.into_inner().map_err(|error| error.into_error())?;
            file.sync_all()?;
            std::fs::rename(&self.temporary, &self.path)?;
            // Make the rename itself durable.
            if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty())
                && let Ok(dir) = File::open(dir)
            {
                let _ = dir.sync_all();
            }
            Ok(file)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temporary);
        }
        result
    }
}

impl Write for AtomicFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.writer.as_mut().expect("not committed").write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.as_mut().expect("not committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// `dir/.name.tmp-<pid>-<n>`: hidden, beside the target (same file system, so rename is atomic),
/// and distinct per process and per writer (two threads may write the same file at once).
fn temporary_path(path: &Path) -> PathBuf {
    static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The pid first (stale temporaries are found by it), then a number no other process knows.
    let secret = {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.finish()
    };
    path.with_file_name(format!(".{name}.tmp-{}-{n}-{secret:016x}", std::process::id()))
}

/// Removes temporary files of `path` left by processes that were killed mid-save (their pid no
/// longer runs), so interrupted saves do not pile up beside the user's files.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|rest| rest.split('-').next()?.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads a file a user named, at most `limit` bytes. Refuses what is not a regular file before
/// opening it: a FIFO would block the read forever and a device such as /dev/zero never ends.
/// Links are followed, so a link to a regular file is read as that file.
pub fn read_user_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    ensure_regular_file(path)?;
    let mut file = File::open(path)?;
    // Checked again on the opened file, in case the path was swapped in between.
    ensure_regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    (&mut file).take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than the {} MB this kind of file may have", limit / (1024 * 1024)),
        ));
    }
    Ok(bytes)
}

/// [`read_user_file`] for text files.
pub fn read_user_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_user_file(path, limit)?).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// An error naming what `path` is when it is not a regular file (a folder, a named pipe, a
/// device, a socket).
pub fn ensure_regular_file(path: &Path) -> std::io::Result<()> {
    ensure_regular(&std::fs::metadata(path)?)
}

fn ensure_regular(metadata: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not a regular file but {what}")))
}

/// Encodes `image` as PNG and writes it atomically (every exported picture goes through here).
pub fn write_png(image: &image::DynamicImage, path: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(std::io::Error::other)?;
    write_atomically(path, &bytes)
}

/// Hex SHA-256 of `bytes`; identifies a model's exact weights.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Current UTC time as RFC 3339 (`2026-11-22T10:51:56Z`), without a date-time dependency.
pub fn utc_timestamp_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_utc_timestamp(secs)
}

pub fn format_utc_timestamp(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs_of_day = unix_secs % 86_400;
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's well-known algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_known_dates() {
        assert_eq!(format_utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc_timestamp(1_795_344_716), "2026-11-22T10:51:56Z");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

/// Serde for file paths that may not be UTF-8 (Linux file names are bytes): a UTF-8 path is
/// written as a string, any other as `{"bytes": [...]}`; both are read back exactly.
pub mod any_path {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        Bytes { bytes: Vec<u8> },
    }

    fn stored(path: &Path) -> Stored {
        match path.to_str() {
            Some(text) => Stored::Text(text.to_string()),
            None => Stored::Bytes { bytes: path.as_os_str().as_bytes().to_vec() },
        }
    }

    fn restored(stored: Stored) -> PathBuf {
        match stored {
            Stored::Text(text) => PathBuf::from(text),
            Stored::Bytes { bytes } => PathBuf::from(OsString::from_vec(bytes)),
        }
    }

    pub fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        stored(path).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
        Stored::deserialize(deserializer).map(restored)
    }

    /// The same for an optional path (settings).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(path: &Option<PathBuf>, serializer: S) -> Result<S::Ok, S::Error> {
            path.as_deref().map(stored).serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<PathBuf>, D::Error> {
            Option::<Stored>::deserialize(deserializer).map(|stored| stored.map(restored))
        }
    }

    /// The same for a list of paths.
    pub mod many {
        use super::*;

        pub fn serialize<S: Serializer>(paths: &[PathBuf], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(paths.iter().map(|p| stored(p)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<PathBuf>, D::Error> {
            Vec::<Stored>::deserialize(deserializer).map(|list| list.into_iter().map(restored).collect())
        }
    }
}
