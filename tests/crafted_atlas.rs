//! Crafted and damaged atlas files: each defect is refused when the file is read, naming the file
//! and what is wrong, instead of panicking in the window later (a class id past the class names
//! used to panic on hover) or copying files from outside the data set.

use std::path::{Path, PathBuf};

use activation_atlas::engine::atlas::validate::check_atlas;
use activation_atlas::engine::atlas::{Atlas, load_atlas, save_atlas};

fn shipped() -> Atlas {
    let path = activation_atlas::resources::find_resource(Path::new("assets/flowers17.atlas")).expect("the atlas is shipped");
    load_atlas(&path).expect("the shipped atlas loads")
}

/// Writes `atlas` and reads it back: the error's words, or None when it loads.
fn reload(atlas: &Atlas) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.atlas");
    save_atlas(atlas, &path).expect("written");
    load_atlas(&path).err().map(|error| error.to_string())
}

#[test]
fn the_shipped_atlas_passes_every_check() {
    assert_eq!(check_atlas(&shipped()), Ok(()));
}

#[test]
fn a_class_id_past_the_class_names_is_refused() {
    let mut atlas = shipped();
    atlas.levels[0].cells[0].top_by_attribution[0].0 = 999;
    let error = reload(&atlas).expect("refused");
    assert!(error.contains("crafted.atlas") && error.contains("class 999"), "{error}");
}

#[test]
fn fewer_class_names_than_the_tables_have_are_refused() {
    let mut atlas = shipped();
    atlas.meta.class_names.truncate(2);
    let error = reload(&atlas).expect("refused");
    assert!(error.contains("2 classes"), "{error}");
}

#[test]
fn an_image_path_leading_out_of_the_data_set_is_refused() {
    for crafted in ["../../etc/passwd", "/etc/passwd", "daisy/../../secret.jpg"] {
        let mut atlas = shipped();
        assert!(atlas.meta.format_version >= 2, "the shipped atlas names its photos inside its data set");
        atlas.meta.image_paths[0] = PathBuf::from(crafted);
        let error = reload(&atlas).expect("refused");
        assert!(error.contains("leads outside its data set"), "{crafted}: {error}");
    }
}

#[test]
fn a_mosaic_without_maps_and_a_cell_off_its_grid_are_refused() {
    let mut atlas = shipped();
    let mosaic = atlas.mosaic.as_mut().expect("the shipped atlas has the paper's mosaic");
    mosaic.map_side = 0;
    mosaic.maps.clear();
    assert!(reload(&atlas).expect("refused").contains("mosaic"));

    let mut atlas = shipped();
    let size = atlas.levels[0].size;
    atlas.levels[0].cells[0].x = size;
    assert!(reload(&atlas).expect("refused").contains("outside its"));
}

#[test]
fn more_icons_than_one_texture_holds_are_refused() {
    // 20,000 icons of 64 px need a texture 9,088 px wide: more than a GPU is sure to allow.
    let mut atlas = shipped();
    let icons = &mut atlas.icons[0];
    icons.icon_px = 64;
    icons.cells = vec![0; 20_000];
    let error = check_atlas(&atlas).expect_err("refused");
    assert!(error.contains("do not fit one texture"), "{error}");
}

#[test]
fn a_selection_list_never_hands_a_spreadsheet_a_formula() {
    use activation_atlas::engine::atlas::selection::{SelectedImage, csv_field, selection_csv};
    assert_eq!(csv_field("=HYPERLINK(\"http://x\",\"daisy\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"daisy\"\")\"");
    for start in ["+1", "-2+3", "@SUM(A1)", "\t=1"] {
        assert!(csv_field(start).starts_with("\"'"), "{start:?} is kept as text: {}", csv_field(start));
    }
    assert_eq!(csv_field("daisy"), "daisy", "plain names stay as they are");
    let row = SelectedImage { index: 3, class: "=1+1".into(), path: PathBuf::from("-x.jpg"), file: None, umap: Some([-0.5, 0.25]) };
    let csv = selection_csv(&[row]);
    assert_eq!(csv.lines().nth(1), Some("3,\"'=1+1\",\"'-x.jpg\",,-0.5,0.25"), "{csv}");
}

/// A gzipped tar holding one entry `jpg/image_0001.jpg` with `header` filled by `make` and `data`.
fn archive_with(dir: &Path, make: impl FnOnce(&mut tar::Header), data: &[u8]) -> PathBuf {
    let mut header = tar::Header::new_gnu();
    header.set_path("jpg/image_0001.jpg").unwrap();
    header.set_mode(0o644);
    make(&mut header);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend_from_slice(data);
    raw.resize(raw.len().div_ceil(512) * 512 + 1024, 0);
    let path = dir.join("17flowers.tgz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap();
    path
}

#[test]
fn an_archive_entry_claiming_a_gigabyte_is_refused_before_it_is_read() {
    use activation_atlas::engine::dataset_get::unpack_flowers17;
    let dir = tempfile::tempdir().unwrap();
    // The header claims 1 GiB; what follows is a few bytes: refused on the claim, never read.
    let archive = archive_with(dir.path(), |h| h.set_size(1 << 30), b"\xff\xd8\xff");
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let error = unpack_flowers17(&archive, &dir.path().join("flowers17"), &mut |_| {}, &cancel).expect_err("refused").to_string();
    assert!(error.contains("claims 1073741824 bytes"), "{error}");
    assert!(!dir.path().join("flowers17").exists());
}

#[test]
fn a_link_named_like_a_photo_is_not_taken_for_one() {
    use activation_atlas::engine::dataset_get::unpack_flowers17;
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with(
        dir.path(),
        |h| {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_link_name("/etc/passwd").unwrap();
            h.set_size(0);
        },
        b"",
    );
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let error = unpack_flowers17(&archive, &dir.path().join("flowers17"), &mut |_| {}, &cancel).expect_err("refused").to_string();
    assert!(error.contains("it holds 0 of the 1360 images"), "{error}");
}

#[test]
fn a_link_planted_where_a_save_writes_its_temporary_is_never_written_through() {
    use activation_atlas::engine::fsutil::write_atomically;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    let target = dir.path().join("settings.ron");
    // Every name a save of this process could have used under the old naming scheme.
    for n in 0..2000 {
        let planted = dir.path().join(format!(".settings.ron.tmp-{}-{n}", std::process::id()));
        std::os::unix::fs::symlink(&victim, planted).unwrap();
    }
    write_atomically(&target, b"(lang: Zh)").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink(), "the saved file is a file of its own");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "(lang: Zh)");
}
