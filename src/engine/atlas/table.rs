//! Tables of floats (a build's activation vectors and attributions) that stay in memory while they
//! are small and move to a scratch file, memory-mapped, once they are large: at a million vectors
//! the two tables are over 300 MB, and pages of a mapped file are the kernel's to drop and read
//! again when memory runs short, where the same bytes on the heap would have to be swapped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

/// Above this many bytes a table is written to a scratch file instead of the heap.
pub const SPILL_BYTES: usize = 64 << 20;

/// A read-only table of `f32`s, on the heap or mapped from a scratch file; reads as `&[f32]`.
#[derive(Clone, Default)]
pub struct FloatTable {
    backing: Backing,
}

#[derive(Clone)]
enum Backing {
    Heap(Vec<f32>),
    /// An unnamed file (it disappears with the process) mapped whole; `len` floats.
    Mapped {
        map: Arc<Mmap>,
        len: usize,
    },
}

impl Default for Backing {
    fn default() -> Self {
        Backing::Heap(Vec::new())
    }
}

impl FloatTable {
    /// True when the table lives in a scratch file rather than on the heap.
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped { .. })
    }

    /// Heap bytes the table holds (a mapped table holds none).
    pub fn heap_bytes(&self) -> usize {
        match &self.backing {
            Backing::Heap(values) => values.len() * 4,
            Backing::Mapped { .. } => 0,
        }
    }
}

impl Deref for FloatTable {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match &self.backing {
            Backing::Heap(values) => values,
            // SAFETY: the map is page-aligned, `len * 4` bytes long (checked when it was made),
            // read-only, and of a file no other handle can reach, so nothing changes it under us.
            Backing::Mapped { map, len } => unsafe { std::slice::from_raw_parts(map.as_ptr().cast::<f32>(), *len) },
        }
    }
}

impl From<Vec<f32>> for FloatTable {
    fn from(values: Vec<f32>) -> Self {
        FloatTable { backing: Backing::Heap(values) }
    }
}

impl PartialEq for FloatTable {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for FloatTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backing = if self.is_mapped() { "mapped" } else { "heap" };
        write!(f, "FloatTable({} floats, {backing})", self.len())
    }
}

/// Why a table could not be written to its scratch file.
#[derive(Debug, thiserror::Error)]
#[error("could not write a scratch file in {folder}: {source}")]
pub struct ScratchError {
    pub folder: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Builds a [`FloatTable`] by appending; told the expected length up front, it writes straight to
/// a scratch file when that is over the limit, so the table is never whole on the heap.
pub struct FloatTableWriter {
    sink: Sink,
}

enum Sink {
    Heap(Vec<f32>),
    File { folder: PathBuf, file: BufWriter<File>, len: usize },
}

impl FloatTableWriter {
    /// A writer for about `expected_len` floats: on the heap up to [`SPILL_BYTES`], otherwise in a
    /// scratch file in `scratch_folder` (created if missing).
    pub fn new(expected_len: usize, scratch_folder: &Path) -> Result<Self, ScratchError> {
        Self::with_limit(expected_len, SPILL_BYTES, scratch_folder)
    }

    /// As [`FloatTableWriter::new`] with the heap limit given, in bytes.
    pub fn with_limit(expected_len: usize, limit_bytes: usize, scratch_folder: &Path) -> Result<Self, ScratchError> {
        let sink = if expected_len.saturating_mul(4) <= limit_bytes {
            Sink::Heap(Vec::with_capacity(expected_len))
        } else {
            let scratch = |source| ScratchError { folder: scratch_folder.to_path_buf(), source };
            std::fs::create_dir_all(scratch_folder).map_err(scratch)?;
            // Unnamed (O_TMPFILE where the system has it, else unlinked at once): nothing is left
            // behind if the process dies, and no other process can open it.
            let file = tempfile::tempfile_in(scratch_folder).map_err(scratch)?;
            Sink::File { folder: scratch_folder.to_path_buf(), file: BufWriter::with_capacity(1 << 20, file), len: 0 }
        };
        Ok(FloatTableWriter { sink })
    }

    pub fn extend_from_slice(&mut self, values: &[f32]) -> Result<(), ScratchError> {
        match &mut self.sink {
            Sink::Heap(heap) => heap.extend_from_slice(values),
            Sink::File { folder, file, len } => {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
                file.write_all(&bytes).map_err(|source| ScratchError { folder: folder.clone(), source })?;
                *len += values.len();
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<FloatTable, ScratchError> {
        match self.sink {
            Sink::Heap(values) => Ok(FloatTable::from(values)),
            Sink::File { len: 0, .. } => Ok(FloatTable::default()),
            Sink::File { folder, file, len } => {
                let scratch = |source| ScratchError { folder: folder.clone(), source };
                let file = file.into_inner().map_err(|e| scratch(e.into_error()))?;
                // SAFETY: the file is unnamed and this the only handle to it; it is mapped
                // read-only once fully written and never written again.
                let map = unsafe { Mmap::map(&file) }.map_err(scratch)?;
                if map.len() != len * 4 {
                    return Err(scratch(std::io::Error::other(format!("{} bytes mapped, {} written", map.len(), len * 4))));
                }
                Ok(FloatTable { backing: Backing::Mapped { map: Arc::new(map), len } })
            }
        }
    }
}

/// Where build tables go when they are large: the app's cache folder, on disk (the system's temp
/// folder is often memory).
pub fn scratch_folder() -> PathBuf {
    crate::engine::data::cache_dir().join("scratch")
}
