//! The shipped description file covers every flowers17 class in both languages, and user files
//! are matched, reported and saved properly.

mod common;

use std::path::Path;

use activation_atlas::descriptions::{DescriptionSet, find_matching};

fn sentences(text: &str) -> usize {
    text.matches(['。', '.']).count() - text.matches("e.g.").count()
}

#[test]
fn shipped_flowers17_descriptions_cover_every_class() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptions");
    let mut classes: Vec<String> = std::fs::read_dir(common::flowers17())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    assert_eq!(classes.len(), 17);
    let (set, errors) = find_matching(&dir, &classes);
    assert!(errors.is_empty(), "{errors:?}");
    let set = set.expect("a description file matches flowers17");
    assert_eq!(set.coverage(&classes), 17);
    for class in &classes {
        let entry = set.get(class).unwrap();
        assert!(!entry.name_zh.is_empty() && !entry.name_en.is_empty(), "{class}");
        let (zh, en) = (sentences(&entry.intro_zh), sentences(&entry.intro_en));
        assert!((3..=6).contains(&zh), "{class}: {zh} Chinese sentences");
        assert!((3..=6).contains(&en), "{class}: {en} English sentences");
    }
}

#[test]
fn edits_round_trip_through_an_atomic_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customs.toml");
    std::fs::write(&path, "name = \"习俗\"\n[[class]]\nid = \"spring_festival\"\nname_zh = \"春节\"\n").unwrap();
    let mut set = DescriptionSet::load(&path).unwrap();
    set.entry_mut("spring_festival").intro_en = "The Lunar New Year.".to_string();
    set.entry_mut("dragon_boat").name_zh = "端午节".to_string();
    let saved = dir.path().join("sub/saved.toml");
    set.save(&saved).unwrap();
    let again = DescriptionSet::load(&saved).unwrap();
    assert_eq!(again.get("spring_festival").unwrap().intro_en, "The Lunar New Year.");
    assert_eq!(again.get("dragon_boat").unwrap().name_zh, "端午节");
    assert_eq!(again.coverage(&["dragon_boat".into(), "other".into()]), 1);
}

#[test]
fn a_broken_file_among_good_ones_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), "[[class]]\nid = \"a\"\n").unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[[class]]\nid = \"a\"\nname_en = oops\n").unwrap();
    let (set, errors) = find_matching(dir.path(), &["a".into()]);
    assert!(set.unwrap().path.ends_with("good.toml"));
    assert_eq!(errors.len(), 1);
    let message = errors[0].to_string();
    assert!(message.contains("bad.toml") && message.contains("line 3"), "{message}");
}
