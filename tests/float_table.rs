//! The build's float tables: small ones on the heap, large ones in an unnamed scratch file,
//! mapped; both read back the same numbers and a failure names the folder.

use activation_atlas::engine::atlas::table::{FloatTable, FloatTableWriter};

fn numbers(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37).sin() * 1e3).collect()
}

fn write(values: &[f32], limit_bytes: usize, folder: &std::path::Path) -> FloatTable {
    let mut writer = FloatTableWriter::with_limit(values.len(), limit_bytes, folder).expect("writer");
    // In uneven pieces, as batches arrive.
    for piece in values.chunks(777) {
        writer.extend_from_slice(piece).expect("write");
    }
    writer.finish().expect("finish")
}

#[test]
fn a_table_over_the_limit_is_mapped_and_reads_back_what_was_written() {
    let folder = tempfile::tempdir().unwrap();
    let values = numbers(100_003);
    let mapped = write(&values, 1024, folder.path());
    assert!(mapped.is_mapped(), "400 kB over a 1 kB limit goes to the scratch file");
    assert_eq!(mapped.heap_bytes(), 0);
    assert_eq!(&*mapped, &values[..]);
    let on_heap = write(&values, usize::MAX, folder.path());
    assert!(!on_heap.is_mapped());
    assert_eq!(on_heap.heap_bytes(), values.len() * 4);
    assert_eq!(mapped, on_heap, "the same table either way");
    // A clone shares the mapping and outlives the original.
    let copy = mapped.clone();
    drop(mapped);
    assert_eq!(&copy[99_990..], &values[99_990..]);
}

#[test]
fn the_scratch_file_has_no_name_so_nothing_is_left_in_the_folder() {
    let folder = tempfile::tempdir().unwrap();
    let scratch = folder.path().join("scratch");
    let table = write(&numbers(5000), 0, &scratch);
    assert!(table.is_mapped());
    let entries: Vec<_> = std::fs::read_dir(&scratch).expect("created").collect();
    assert!(entries.is_empty(), "no named file while the table lives: {entries:?}");
    drop(table);
    assert_eq!(std::fs::read_dir(&scratch).expect("still there").count(), 0);
}

#[test]
fn an_unwritable_scratch_folder_is_named_in_the_error() {
    let folder = tempfile::tempdir().unwrap();
    // A folder that cannot be made: its parent is a regular file.
    let blocker = folder.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let wanted = blocker.join("scratch");
    let error = match FloatTableWriter::with_limit(1000, 0, &wanted) {
        Err(error) => error,
        Ok(_) => panic!("a writer under a regular file"),
    };
    assert_eq!(error.folder, wanted);
    assert!(error.to_string().contains("not-a-folder"), "{error}");
}

#[test]
fn an_empty_table_over_no_limit_is_empty() {
    let folder = tempfile::tempdir().unwrap();
    let writer = FloatTableWriter::with_limit(10, 0, folder.path()).expect("writer");
    let table = writer.finish().expect("finish");
    assert!(table.is_empty());
}
