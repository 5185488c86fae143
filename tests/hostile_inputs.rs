//! A corpus of hostile files, generated here, pushed through every way in: classify, train,
//! evaluate, atlas build and place (the command line, run as a user would), and dropping on the
//! window (the real app in kittest). Each bad file gets a message naming it or a reported skip;
//! the good-but-odd files are used; nothing panics.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use activation_atlas::app::{AppOptions, ModelStatus};
use egui_kittest::kittest::Queryable;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use common::{run_cli as app, text};

/// Every run must end by itself (no signal), and no Rust panic may be printed.
fn assert_no_crash(output: &Output, what: &str) {
    let stderr = text(&output.stderr);
    assert!(output.status.code().is_some(), "{what}: killed by a signal\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: panicked\n{stderr}");
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
    bytes
}

/// A PNG whose header claims `side` x `side` pixels, with almost no data behind it.
fn huge_header_png(side: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&common::crc32(&ihdr).to_be_bytes());
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&common::crc32(b"IEND").to_be_bytes());
    png
}

fn cmyk_jpeg() -> Vec<u8> {
    let (w, h) = (32u16, 32u16);
    let pixels: Vec<u8> = (0..w as usize * h as usize).flat_map(|i| [0u8, (i % 200) as u8, 255, 0]).collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 90).encode(&pixels, w, h, jpeg_encoder::ColorType::Cmyk).unwrap();
    bytes
}

fn palette_alpha_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 16, 16);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(vec![255, 0, 0, 0, 0, 255]);
        encoder.set_trns(vec![255, 0]);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&(0..256).map(|i| (i % 2) as u8).collect::<Vec<_>>()).unwrap();
    }
    bytes
}

fn animated_gif() -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = image::Frame::new(image::RgbaImage::from_pixel(24, 24, image::Rgba(colour)));
            encoder.encode_frame(frame).unwrap();
        }
    }
    bytes
}

/// The corpus: files that must be refused, and odd files that must work.
struct Corpus {
    bad: Vec<PathBuf>,
    good: Vec<PathBuf>,
}

/// Writes the corpus into `dir` (one class folder's worth of files).
fn write_corpus(dir: &Path, class: usize) -> Corpus {
    std::fs::create_dir_all(dir).unwrap();
    let photo = DynamicImage::ImageRgb8(common::shape_image(class, 99, 64));
    let jpeg = encode(&photo, ImageFormat::Jpeg);
    let files_bad: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.jpg", jpeg[..jpeg.len() / 3].to_vec()),
        ("zero-bytes.png", Vec::new()),
        ("notes.png", b"these are my notes, not a picture".to_vec()),
        ("huge-header.png", huge_header_png(20_000)),
    ];
    let files_good: Vec<(&[u8], Vec<u8>)> = vec![
        (b"png-named-as.jpg", encode(&photo, ImageFormat::Png)),
        (b"one-pixel.png", encode(&DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([200, 30, 30]))), ImageFormat::Png)),
        (b"sixteen-bit.png", encode(&DynamicImage::ImageRgb16(photo.to_rgb16()), ImageFormat::Png)),
        (b"cmyk.jpg", cmyk_jpeg()),
        (b"palette-alpha.png", palette_alpha_png()),
        (b"animated.gif", animated_gif()),
        (b"caf\xe9-latin1-name.jpg", jpeg.clone()),
        (b"duplicate-1.jpg", jpeg.clone()),
        (b"duplicate-2.jpg", jpeg.clone()),
    ];
    let mut corpus = Corpus { bad: Vec::new(), good: Vec::new() };
    for (name, bytes) in files_bad {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        corpus.bad.push(path);
    }
    for (name, bytes) in files_good {
        let path = dir.join(OsStr::from_bytes(name));
        std::fs::write(&path, bytes).unwrap();
        corpus.good.push(path);
    }
    // A link to itself (reading it loops) and a folder link back to the folder (a loop if followed).
    let self_link = dir.join("self-link.jpg");
    std::os::unix::fs::symlink(&self_link, &self_link).unwrap();
    corpus.bad.push(self_link);
    std::os::unix::fs::symlink(dir, dir.join("loop")).unwrap();
    corpus
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn classify_names_each_bad_file_and_classifies_each_odd_one() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 0);
    for path in &corpus.bad {
        let output = app(&[OsStr::new("classify"), path.as_os_str()]);
        assert_no_crash(&output, &file_name(path));
        assert!(!output.status.success(), "{} was accepted", file_name(path));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&file_name(path)), "the message names the file: {stderr}");
    }
    let mut args: Vec<&OsStr> = vec![OsStr::new("classify"), OsStr::new("--json")];
    args.extend(corpus.good.iter().map(|p| p.as_os_str()));
    let output = app(&args);
    assert_no_crash(&output, "odd files");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = results["result"]["results"].as_array().unwrap();
    assert_eq!(results.len(), corpus.good.len());
    assert!(results.iter().all(|r| r.get("top").is_some()), "every odd file is classified: {results:?}");
}

#[test]
fn train_evaluate_and_atlas_skip_bad_files_with_reasons_and_use_the_rest() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut bad = Vec::new();
    for (class, name) in ["disc", "square"].iter().enumerate() {
        let dir = data.join(name);
        bad.extend(write_corpus(&dir, class).bad);
        for i in 0..12 {
            common::shape_image(class, i, 64).save(dir.join(format!("{i:02}.png"))).unwrap();
        }
    }
    std::fs::create_dir_all(data.join("empty-class")).unwrap();

    let runs = root.path().join("runs");
    let output = app(&[
        OsStr::new("train"),
        OsStr::new("--data"),
        data.as_os_str(),
        OsStr::new("--out"),
        runs.as_os_str(),
        OsStr::new("--epochs"),
        OsStr::new("1"),
    ]);
    assert_no_crash(&output, "train");
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for path in &bad {
        assert!(stderr.contains(&path.display().to_string()), "{} is reported as skipped:\n{stderr}", path.display());
    }
    let weights = runs.join("best.safetensors");
    assert!(weights.exists(), "a checkpoint was written");

    let output = app(&[OsStr::new("evaluate"), OsStr::new("--weights"), weights.as_os_str(), OsStr::new("--data"), data.as_os_str()]);
    assert_no_crash(&output, "evaluate");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("truncated.jpg"), "evaluate reports the skips too");

    // The data set has three class folders (one empty) but the model two: refused, clearly.
    let atlas = root.path().join("corpus.atlas");
    let build = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = [
            "atlas",
            "build",
            "--samples",
            "2",
            "--epochs",
            "20",
            "--grids",
            "2,4",
            "--icon-grids",
            "2",
            "--icon-steps",
            "4",
            "--neighbors",
            "5",
        ]
        .iter()
        .map(OsStr::new)
        .collect();
        args.extend([
            OsStr::new("--weights"),
            weights.as_os_str(),
            OsStr::new("--data"),
            data.as_os_str(),
            OsStr::new("--out"),
            atlas.as_os_str(),
        ]);
        args.extend(extra.iter().map(OsStr::new));
        app(&args)
    };
    let output = build(&["--no-paper-views"]);
    assert_no_crash(&output, "atlas build");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("huge-header.png"), "the atlas build reports the skips");

    let mut args: Vec<&OsStr> =
        vec![OsStr::new("atlas"), OsStr::new("place"), atlas.as_os_str(), OsStr::new("--weights"), weights.as_os_str()];
    args.extend(bad.iter().map(|p| p.as_os_str()));
    let output = app(&args);
    assert_no_crash(&output, "atlas place");
    assert!(!output.status.success());
    for path in &bad {
        assert!(text(&output.stderr).contains(&file_name(path)), "place names {}: {}", path.display(), text(&output.stderr));
    }
}

#[test]
fn folders_that_are_not_data_sets_get_a_clear_message() {
    let root = tempfile::tempdir().unwrap();
    // No images at all (only bad files), a single class, and nothing but an empty folder.
    let only_bad = root.path().join("only-bad");
    for (class, name) in ["a", "b"].iter().enumerate() {
        for path in write_corpus(&only_bad.join(name), class).good {
            std::fs::remove_file(path).unwrap();
        }
    }
    let single = root.path().join("single");
    common::write_shape_dataset(&single, 1, 5);
    let empty = root.path().join("empty");
    std::fs::create_dir_all(empty.join("nothing-here")).unwrap();
    let no_folders = root.path().join("no-folders");
    std::fs::create_dir_all(&no_folders).unwrap();
    std::fs::write(no_folders.join("photo.jpg"), b"x").unwrap();

    for (dir, expected) in [
        (&only_bad, "no readable images"),
        (&single, "only one class"),
        (&empty, "no readable images"),
        (&no_folders, "no class sub-folders"),
    ] {
        for command in ["train", "evaluate"] {
            let out = root.path().join("runs");
            let mut args: Vec<&OsStr> = vec![OsStr::new(command), OsStr::new("--data"), dir.as_os_str()];
            if command == "train" {
                args.extend([OsStr::new("--out"), out.as_os_str(), OsStr::new("--epochs"), OsStr::new("1")]);
            }
            let output = app(&args);
            assert_no_crash(&output, command);
            assert!(!output.status.success(), "{command} on {} succeeded", dir.display());
            let stderr = text(&output.stderr).to_lowercase();
            assert!(stderr.contains(expected) && stderr.contains(&file_name(dir)), "{command} on {}: {stderr}", dir.display());
        }
    }
}

#[test]
fn dropping_hostile_files_on_the_window_shows_messages_and_the_app_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path(), 0);
    let options = AppOptions {
        run_root: Some(dir.path().join("runs")),
        ..common::app_options(activation_atlas::app::dialogs::picker_from(|_| None))
    };
    let mut harness = common::app_with_model(options, [1100.0, 760.0]);
    common::run_until(&mut harness, "the atlas loads", 60, |app| app.atlas().atlas().is_some());
    // On the classifier: each bad file is named in a red message.
    for path in &corpus.bad {
        common::dismiss_messages(&mut harness);
        harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(path.clone())));
        common::run_until(&mut harness, "the error is shown", 60, |app| app.messages.error.is_some());
        let message = harness.state().messages.error.clone().unwrap();
        assert!(message.contains(&file_name(path)), "{message}");
    }
    // Each odd file opens.
    for path in &corpus.good {
        harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(path.clone())));
        common::run_until(&mut harness, "the picture is shown", 60, |app| {
            app.classify().image_path().map(|p| p.as_path()) == Some(path.as_path()) && app.classify().has_picture()
        });
    }
    // On the atlas, all at once: the good ones are placed, the bad ones named.
    common::dismiss_messages(&mut harness);
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    for path in corpus.bad.iter().chain(&corpus.good) {
        harness.input_mut().dropped_files.push(Arc::new(common::DroppedPath(path.clone())));
    }
    common::run_until(&mut harness, "the good files are placed", 120, |app| app.atlas().map().dropped.len() == corpus.good.len());
    assert!(harness.state().messages.error.is_some(), "a bad file on the atlas gets a message");
    assert!(matches!(harness.state().model, ModelStatus::Ready(_)));
}

#[test]
fn a_panic_in_the_worker_is_reported_and_the_model_reloaded() {
    let photo = common::flowers17_photo("daisy");
    let answer = photo.clone();
    let mut harness = common::app_with_model(
        common::app_options(activation_atlas::app::dialogs::picker_from(move |_| Some(answer.clone()))),
        [1100.0, 760.0],
    );
    harness.state_mut().simulate_worker_crash();
    common::run_until(&mut harness, "the crash is reported", 60, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("simulated crash"), "{message}");
    common::run_until(&mut harness, "the model is back", 60, |app| matches!(app.model, ModelStatus::Ready(_)) && !app.worker_busy());
    // And it works: a photo opens with 读取图片 and classifies.
    harness.get_by_label("读取图片").click();
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    harness.key_press(eframe::egui::Key::Enter);
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
}

#[test]
fn a_dead_worker_is_reported_started_again_and_its_model_loaded_back() {
    let photo = common::flowers17_photo("daisy");
    let answer = photo.clone();
    let mut harness = common::app_with_model(
        common::app_options(activation_atlas::app::dialogs::picker_from(move |_| Some(answer.clone()))),
        [1100.0, 760.0],
    );
    // The worker dies outside its guards with a picture waiting to open behind it.
    harness.state_mut().simulate_worker_death();
    harness.get_by_label("读取图片").click();
    common::run_until(&mut harness, "the stop is reported", 60, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("started again"), "{message}");
    // No job is left shown as running, and the model in use is loaded again on the new worker.
    common::run_until(&mut harness, "the model is back", 60, |app| matches!(app.model, ModelStatus::Ready(_)) && !app.worker_busy());
    assert!(harness.state().jobs().running().is_empty(), "{:?}", harness.state().jobs().running());
    common::dismiss_messages(&mut harness);
    harness.get_by_label("读取图片").click();
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    harness.key_press(eframe::egui::Key::Enter);
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
}

#[test]
fn a_broken_checkpoint_or_description_file_is_refused_and_the_current_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let answer: Arc<std::sync::Mutex<Option<PathBuf>>> = Arc::new(std::sync::Mutex::new(None));
    let picker_answer = answer.clone();
    let options = AppOptions {
        run_root: Some(dir.path().join("runs")),
        ..common::app_options(activation_atlas::app::dialogs::picker_from(move |_| picker_answer.lock().unwrap().clone()))
    };
    let mut harness = common::app_with_model(options, [1100.0, 760.0]);
    let shipped = activation_atlas::resources::shipped_model().unwrap();

    // Half a weights file (its sidecar copied beside it, so only the weights are at fault).
    let broken = dir.path().join("half.safetensors");
    let bytes = std::fs::read(&shipped).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::copy(shipped.with_extension("json"), broken.with_extension("json")).unwrap();
    *answer.lock().unwrap() = Some(broken.clone());
    common::menu_item(&mut harness, "模型", "加载检查点…");
    common::run_until(&mut harness, "the refusal is shown", 60, |app| {
        app.messages.error.is_some() && !matches!(app.model, ModelStatus::Loading(_))
    });
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("half.safetensors"), "{message}");
    let ModelStatus::Ready(info) = &harness.state().model else { panic!("the shipped model stays in use") };
    assert_eq!(info.path, shipped);

    // A description file cut in the middle of a string.
    let descriptions = activation_atlas::resources::find_resource(Path::new("descriptions/flowers17.toml")).unwrap();
    let text = std::fs::read(&descriptions).unwrap();
    let cut = dir.path().join("cut.toml");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    common::dismiss_messages(&mut harness);
    *answer.lock().unwrap() = Some(cut);
    common::menu_item(&mut harness, "模型", "加载类别介绍文件…");
    common::run_until(&mut harness, "the refusal is shown", 60, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("cut.toml"), "{message}");
    assert!(harness.state().descriptions.as_ref().is_some_and(|d| d.get("sunflower").is_some()), "the shipped descriptions stay");

    // The app still classifies with the model it had.
    *answer.lock().unwrap() = Some(common::flowers17_photo("sunflower"));
    harness.get_by_label("读取图片").click();
    common::run_until(&mut harness, "the picture is shown", 60, |app| app.classify().has_picture());
    harness.key_press(eframe::egui::Key::Enter);
    common::run_until(&mut harness, "a result is shown", 60, |app| app.classify().result().is_some());
}
