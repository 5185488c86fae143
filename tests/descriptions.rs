//! The shipped description files cover every flowers17 class in both languages and name every
//! ImageNet class in both; user files are matched, reported and saved properly.

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

#[test]
fn an_imagenet_network_gets_every_class_named_in_chinese_and_english() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptions");
    let classes = activation_atlas::engine::network::import::imagenet_class_names();
    assert_eq!(classes.len(), 1000);
    let (set, errors) = find_matching(&dir, &classes);
    assert!(errors.is_empty(), "{errors:?}");
    let set = set.expect("a description file matches ImageNet's classes");
    assert!(set.path.ends_with("imagenet.toml"), "{}", set.path.display());
    assert_eq!(set.coverage(&classes), 1000);
    let mut chinese = std::collections::HashSet::new();
    for class in &classes {
        let entry = set.get(class).unwrap();
        assert_eq!(&entry.name_en, class);
        assert!(
            entry.name_zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) || entry.name_zh == "iPod",
            "{class}: {}",
            entry.name_zh
        );
        assert!(chinese.insert(entry.name_zh.clone()), "{class}: '{}' names two classes", entry.name_zh);
    }
    // The two cranes and the two swimsuits keep apart.
    assert_eq!((set.get("crane bird").unwrap().name_zh.as_str(), set.get("crane").unwrap().name_zh.as_str()), ("鹤", "起重机"));
    assert_eq!(set.get("daisy").unwrap().name_zh, "雏菊");
    // The flower data set still gets its own file, not ImageNet's (which names daisy too).
    let (flowers, _) = find_matching(&dir, &["daisy".to_string(), "sunflower".to_string(), "tulip".to_string()]);
    assert!(flowers.expect("a match").path.ends_with("flowers17.toml"));
}
