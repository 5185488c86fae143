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
