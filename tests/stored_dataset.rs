//! A data set that stays on disk: its photos are read back a batch at a time, from the decode
//! cache or their own files, exactly as loading them into memory decodes them.

mod common;

use std::sync::atomic::AtomicBool;

use activation_atlas::engine::data::{Photos, load_dataset, open_dataset};

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

#[test]
fn stored_photos_read_back_exactly_what_loading_decodes_with_or_without_a_cache() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 7);
    std::fs::write(data.path().join("bar/broken.png"), b"not a picture").unwrap();
    let loaded = load_dataset(data.path(), None, &|_, _| {}, &never()).unwrap();
    assert_eq!(loaded.len(), 21);
    let cache = tempfile::tempdir().unwrap();
    // No cache, a cache written while opening, and that cache read back.
    for (round, cache) in [None, Some(cache.path()), Some(cache.path())].into_iter().enumerate() {
        let stored = open_dataset(data.path(), cache, &|_, _| {}, &never()).unwrap();
        assert_eq!(stored.labels, loaded.labels, "round {round}");
        assert_eq!(stored.paths, loaded.paths, "round {round}");
        assert_eq!(stored.skipped.len(), 1, "round {round}");
        assert!(stored.skipped[0].path.ends_with("bar/broken.png"));
        assert_eq!(stored.cached, if round == 2 { 22 } else { 0 }, "round {round}: the broken file's verdict is cached too");
        // In uneven batches, as a build reads them.
        let mut read = Vec::new();
        for start in (0..stored.len()).step_by(8) {
            read.extend(stored.read(start..(start + 8).min(stored.len())).unwrap().iter().cloned());
        }
        assert_eq!(read, loaded.images, "round {round}");
        assert_eq!(stored.resident_photo_bytes(), 0);
    }
    // The cache the stored data set wrote serves a load into memory too.
    let again = load_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    assert_eq!(again.cached, 22);
    assert_eq!(again.images, loaded.images);
}

#[test]
fn a_changed_file_is_decoded_again_and_the_cache_rewritten() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 5);
    open_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    common::shape_image(1, 999, 80).save(data.path().join("disc/000.png")).unwrap();
    let stored = open_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    assert_eq!(stored.cached, 9);
    let index = stored.paths.iter().position(|p| p.ends_with("disc/000.png")).unwrap();
    let fresh = load_dataset(data.path(), None, &|_, _| {}, &never()).unwrap();
    assert_eq!(stored.read(index..index + 1).unwrap()[0], fresh.images[index]);
    let third = open_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    assert_eq!(third.cached, 10);
    // Only the cache itself is left in its folder: no temporary files.
    let files: Vec<_> = std::fs::read_dir(cache.path().join("datasets")).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn a_photo_removed_after_opening_is_named_when_read() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 4);
    let stored = open_dataset(data.path(), None, &|_, _| {}, &never()).unwrap();
    let gone = stored.paths[5].clone();
    std::fs::remove_file(&gone).unwrap();
    assert!(stored.read(0..4).is_ok());
    let error = stored.read(4..8).unwrap_err();
    assert_eq!(error.path, gone);
    assert!(!error.reason.is_empty());
}

#[test]
fn a_corrupt_cache_is_ignored() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 2, 4);
    open_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    let file = std::fs::read_dir(cache.path().join("datasets")).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&file).unwrap();
    // A footer pointing past the end, then a truncated file.
    let end = bytes.len();
    bytes[end - 8..].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&file, &bytes).unwrap();
    let stored = open_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    assert_eq!(stored.cached, 0);
    std::fs::write(&file, &bytes[..end / 2]).unwrap();
    let loaded = load_dataset(data.path(), Some(cache.path()), &|_, _| {}, &never()).unwrap();
    assert_eq!(loaded.cached, 0);
    assert_eq!(stored.read(0..8).unwrap().to_vec(), loaded.images);
}
