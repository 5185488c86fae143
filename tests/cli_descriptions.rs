//! Class descriptions from the command line: a template with every class of a model, a check of
//! a file against a model, and `--names` naming classes as a description file does.

mod common;

use std::process::Output;

use common::text;

fn app(args: &[&str], lang: &str) -> Output {
    common::cli()
        .args(args)
        .env("LANG", lang)
        // No description files of the user's own: the shipped ones are found.
        .env("XDG_DATA_HOME", std::env::temp_dir().join("activation-atlas-tests-empty-data-home"))
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("the binary runs")
}

fn shipped_model() -> String {
    activation_atlas::resources::shipped_model().unwrap().display().to_string()
}

#[test]
fn init_writes_a_template_with_every_class_and_check_finds_what_is_missing_or_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    let weights = shipped_model();
    let output = app(&["descriptions", "init", "--weights", &weights, "--out", file.to_str().unwrap()], "C");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let template = activation_atlas::descriptions::DescriptionSet::load(&file).unwrap();
    let model = activation_atlas::engine::checkpoint::load_checkpoint(weights.as_ref(), tch::Device::Cpu).unwrap();
    let ids: Vec<&str> = template.file.classes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, model.meta.class_names.iter().map(String::as_str).collect::<Vec<_>>());

    // A second init does not replace the file.
    let again = app(&["descriptions", "init", "--weights", &weights, "--out", file.to_str().unwrap()], "C");
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));

    // The whole template fits: nothing missing or unknown, every class still without names.
    let output = app(&["descriptions", "check", file.to_str().unwrap(), "--weights", &weights, "--json"], "C");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(envelope["result"]["missing"].as_array().unwrap().len(), 0);
    assert_eq!(envelope["result"]["incomplete"].as_array().unwrap().len(), 17);

    // Drop one class, misspell another: both reported, exit 1.
    let mut set = activation_atlas::descriptions::DescriptionSet::load(&file).unwrap();
    set.file.classes.iter_mut().find(|c| c.id == "tulip").unwrap().id = "tullip".to_string();
    let daisy = set.entry_mut("daisy");
    (daisy.name_zh, daisy.name_en) = ("雏菊".to_string(), "Daisy".to_string());
    set.save(&file).unwrap();
    let output = app(&["descriptions", "check", file.to_str().unwrap(), "--weights", &weights, "--json"], "C");
    assert!(!output.status.success());
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(envelope["ok"], false);
    assert_eq!(envelope["result"]["missing"], serde_json::json!(["tulip"]));
    assert_eq!(envelope["result"]["unknown"], serde_json::json!(["tullip"]));
    assert_eq!(envelope["result"]["incomplete"].as_array().unwrap().len(), 15, "daisy has both names now");
    let plain = app(&["descriptions", "check", file.to_str().unwrap(), "--weights", &weights], "C");
    let said = text(&plain.stdout);
    assert!(said.contains("missing: tulip") && said.contains("unknown to the model: tullip"), "{said}");
}

#[test]
fn names_follow_the_description_file_in_the_locale_language() {
    let photo = common::flowers17_photo("sunflower");
    let photo = photo.to_str().unwrap();
    let chinese = text(&app(&["classify", "--top", "1", "--names", photo], "zh_CN.UTF-8").stdout);
    assert!(chinese.contains("向日葵"), "{chinese}");
    let english = text(&app(&["classify", "--top", "1", "--names", photo], "en_GB.UTF-8").stdout);
    assert!(english.contains("Sunflower") && !english.contains("向日葵"), "{english}");
    let ids = text(&app(&["classify", "--top", "1", photo], "zh_CN.UTF-8").stdout);
    assert!(ids.contains("sunflower") && !ids.contains("向日葵"), "without --names the folder name: {ids}");

    // A file of one's own, given with --descriptions.
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.toml");
    std::fs::write(&own, "[[class]]\nid = \"sunflower\"\nname_en = \"Big yellow one\"\n").unwrap();
    let output = app(&["classify", "--top", "1", "--names", "--descriptions", own.to_str().unwrap(), "--json", photo], "C");
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let top = &envelope["result"]["results"][0]["top"][0];
    assert_eq!(top["class"], "sunflower");
    assert_eq!(top["name"], "Big yellow one");
}
