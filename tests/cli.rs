//! The command line, run as a user would: the built binary on real photographs.

mod common;

use std::path::{Path, PathBuf};

use common::{run_cli as app, text};

#[test]
fn help_documents_every_command_and_flag() {
    // The commands as clap lists them: one per line under "Commands:", name first.
    let commands = |help: &str| -> Vec<String> {
        help.lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    let help = text(&app(&["--help"]).stdout);
    let listed = commands(&help);
    for command in ["classify", "train", "evaluate", "explain", "visualize", "atlas", "gui"] {
        assert!(listed.iter().any(|c| c == command), "{command} is not a command in --help: {listed:?}\n{help}");
    }
    let atlas_listed = commands(&text(&app(&["atlas", "--help"]).stdout));
    for command in ["build", "export", "place"] {
        assert!(atlas_listed.iter().any(|c| c == command), "atlas {command} missing: {atlas_listed:?}");
    }
    let train_help = text(&app(&["train", "--help"]).stdout);
    for flag in [
        "--data",
        "--out",
        "--epochs",
        "--batch-size",
        "--lr",
        "--schedule",
        "--weight-decay",
        "--augment",
        "--seed",
        "--resume",
        "--checkpoint-every",
        "--keep-last",
    ] {
        assert!(train_help.contains(flag), "{flag} missing from train --help");
    }
    let classify_help = text(&app(&["classify", "--help"]).stdout);
    for flag in ["--weights", "--top", "--json"] {
        assert!(classify_help.contains(flag), "{flag} missing from classify --help");
    }
}

#[test]
fn layers_completions_and_the_man_page_come_from_the_same_definitions_as_help() {
    // --layer names a layer of the model's own network: --help says where the names are, and
    // a wrong name is refused with them before any picture is read.
    let explain_help = text(&app(&["explain", "--help"]).stdout);
    assert!(explain_help.contains("model layers"), "{explain_help}");
    let wrong = app(&["explain", "x.jpg", "--method", "gradcam", "--layer", "conv9", "--out", "x.png"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("no layer 'conv9' in paper CNN (7 layers); its layers are conv1, conv2, conv3, conv4, fc1, fc2, fc3"),
        "{}",
        text(&wrong.stderr)
    );
    let layers = text(&app(&["model", "layers"]).stdout);
    assert!(layers.contains("conv2") && layers.contains("64 x 25 x 25") && layers.contains("16"), "{layers}");
    // Completion scripts name the subcommands and their options (layer names depend on the
    // network, so they are not listed).
    for shell in ["bash", "zsh", "fish"] {
        let output = app(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {}", text(&output.stderr));
        let script = text(&output.stdout);
        for word in ["classify", "atlas", "timeline", "--layer", "--data"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let bash = text(&app(&["completions", "bash"]).stdout);
    assert!(bash.contains("complete -F") && bash.contains("activation-atlas"), "a bash completion function");
    // The man page is roff with the program's name and its commands.
    let man = text(&app(&["man"]).stdout);
    assert!(man.contains(".TH activation-atlas") && man.contains(".SH NAME"), "{}", &man[..man.len().min(400)]);
    for command in ["classify", "train", "atlas"] {
        assert!(man.contains(command), "the man page names {command}");
    }
}

#[test]
fn errors_go_to_the_log_file_and_to_the_terminal_with_rust_log() {
    let state = tempfile::tempdir().unwrap();
    let missing = state.path().join("no-such-atlas.atlas");
    let run = |rust_log: Option<&str>| {
        let mut command = common::cli();
        command.args(["atlas", "info"]).arg(&missing).env("XDG_STATE_HOME", state.path()).env_remove("RUST_LOG");
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        command.output().unwrap()
    };
    let quiet = run(None);
    assert!(!quiet.status.success());
    assert!(!text(&quiet.stderr).contains("ERROR"), "no log lines on the terminal unless asked: {}", text(&quiet.stderr));
    assert_eq!(text(&quiet.stderr).lines().count(), 1, "only the error itself: {}", text(&quiet.stderr));
    let logs: Vec<PathBuf> = std::fs::read_dir(state.path().join("activation-atlas/logs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(logs.len(), 1, "one daily file: {logs:?}");
    let name = logs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("activation-atlas.") && name.ends_with(".log"), "{name}");
    let logged = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(logged.contains("ERROR") && logged.contains("no-such-atlas.atlas"), "{logged}");
    let loud = run(Some("error"));
    let stderr = text(&loud.stderr);
    assert!(stderr.lines().any(|l| l.contains("ERROR") && l.contains("no-such-atlas.atlas")), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal");
}

#[test]
fn classify_names_a_real_photograph() {
    let photo = common::flowers17_photo("sunflower");
    let output = app(&["classify", "--json", photo.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let top = json["result"]["results"][0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    assert_eq!(top[0]["class"], "sunflower");
    let probabilities: Vec<f64> = top.iter().map(|t| t["probability"].as_f64().unwrap()).collect();
    assert!(probabilities.windows(2).all(|w| w[0] >= w[1]), "sorted: {probabilities:?}");
    assert!(probabilities.iter().sum::<f64>() <= 1.0 + 1e-5);

    let plain = text(&app(&["classify", "--top", "2", photo.to_str().unwrap()]).stdout);
    assert_eq!(plain.lines().count(), 3, "{plain}");
    assert!(plain.lines().nth(1).unwrap().contains("sunflower"));
}

#[test]
fn classify_averages_twelve_views_unless_told_and_tta_alone_takes_the_next_word_as_a_photo() {
    let photo = common::flowers17_photo("sunflower");
    let photo = photo.to_str().unwrap();
    let top = |args: &[&str]| {
        let output = app(args);
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["result"]["results"][0]["top"][0]["probability"].as_f64().unwrap()
    };
    // 12 views by default, as the classifier window answers.
    let crops = top(&["classify", "--json", photo]);
    let single = top(&["classify", "--json", "--tta=off", photo]);
    let mirror = top(&["classify", "--json", "--tta=mirror", photo]);
    assert_eq!(crops, top(&["classify", "--json", "--tta=crops", photo]));
    assert_eq!(crops, top(&["classify", "--json", "--tta", photo]));
    assert!(single != crops && single != mirror && crops != mirror, "{single} {mirror} {crops}");
    let wrong = app(&["classify", "--tta=sideways", photo]);
    assert!(!wrong.status.success());
    assert!(text(&wrong.stderr).contains("mirror"), "{}", text(&wrong.stderr));
}

#[test]
fn classify_reports_an_unreadable_file_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("holiday.jpg");
    std::fs::write(&bad, b"not really a jpeg").unwrap();
    let good = common::flowers17_photo("daisy");
    let output = app(&["classify", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("holiday.jpg") && stderr.contains("1 of 2"), "{stderr}");
    assert!(text(&output.stdout).contains("daisy"), "the good file is still classified");
}

#[test]
fn classify_refuses_a_wrong_checkpoint_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::write(&weights, b"\x10\0\0\0\0\0\0\0{\"a\":").unwrap();
    let output = app(&["classify", "--weights", weights.to_str().unwrap(), "x.jpg"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("model.safetensors") && stderr.contains("not a valid safetensors"), "{stderr}");
}

/// A small labelled copy of flowers17 (links to 3 photos per class).
fn flowers_subset(dir: &Path) {
    for class in std::fs::read_dir(common::flowers17()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let target = dir.join(class.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().take(3) {
            std::os::unix::fs::symlink(file, target.join(file.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn evaluate_prints_metrics_for_a_labelled_folder() {
    let dir = tempfile::tempdir().unwrap();
    flowers_subset(dir.path());
    let output = app(&["evaluate", "--json", "--data", dir.path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(envelope["command"], "evaluate");
    let report = &envelope["result"];
    assert_eq!(report["images"], 51);
    let confusion = report["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 17);
    let total: u64 = confusion.iter().flat_map(|row| row.as_array().unwrap()).map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(total, 51);
    let diagonal: u64 = (0..17).map(|i| confusion[i][i].as_u64().unwrap()).sum();
    assert!((report["accuracy"].as_f64().unwrap() - diagonal as f64 / 51.0).abs() < 1e-9);
    assert_eq!(report["per_class"].as_array().unwrap().len(), 17);

    let plain = text(&app(&["evaluate", "--data", dir.path().to_str().unwrap()]).stdout);
    assert!(plain.contains("accuracy") && plain.contains("precision") && plain.contains("confusion"), "{plain}");
}

#[test]
fn train_writes_a_run_folder_and_one_line_per_epoch() {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 10);
    let run = tempfile::tempdir().unwrap();
    let output = app(&[
        "train",
        "--data",
        data.path().to_str().unwrap(),
        "--out",
        run.path().to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--augment",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("epoch")).count(), 2, "{stdout}");
    assert!(run.path().join("epoch-002.safetensors").exists());
    assert!(run.path().join("history.json").exists());
    // The trained checkpoint is usable by classify.
    let image = data.path().join("disc/000.png");
    let output = app(&["classify", "--weights", run.path().join("epoch-002.safetensors").to_str().unwrap(), image.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// What each `explain --method` should draw, computed in the test from the engine's methods
/// (not through the CLI's or the explanation entry point's own choice of method).
fn expected_explanation(method: &str, photo: &Path, size: u32) -> image::RgbImage {
    use activation_atlas::engine::explain::{
        MapNormalisation, all_feature_maps, filter_montage, grad_cam, occlusion, paper_feature_map, saliency,
    };
    use activation_atlas::engine::model::Layer;
    use activation_atlas::engine::render::{grey_image, overlay};
    let checkpoint =
        activation_atlas::engine::checkpoint::load_checkpoint(&activation_atlas::resources::shipped_model().unwrap(), tch::Device::Cpu)
            .unwrap();
    let net = &checkpoint.net;
    let picture = activation_atlas::engine::image_input::load_network_image(photo).unwrap();
    let class = activation_atlas::engine::classify::classify_images(net, std::slice::from_ref(&picture))[0].best().0;
    let large = image::imageops::resize(&picture, size, size, image::imageops::FilterType::Triangle);
    match method {
        "gradcam" => overlay(&large, &grad_cam(net, &picture, Layer::CONV4, class).upsampled, 0.6),
        "saliency" => overlay(&large, &saliency(net, &picture, class).scaled_to_quantile(0.99), 0.6),
        "occlusion" => {
            let result = occlusion(net, &picture, class, 20, 5, &mut |_, _| {}, &std::sync::atomic::AtomicBool::new(false)).unwrap();
            let mut map = result.per_pixel.clone();
            let largest = map.max().max(f32::EPSILON);
            map.values.iter_mut().for_each(|v| *v = (*v / largest).max(0.0));
            overlay(&large, &map, 0.6)
        }
        "featuremaps" => {
            let maps = all_feature_maps(net, &picture);
            maps[Layer::CONV2.index()].montage(MapNormalisation::PerChannel, (0.0, 1.0))
        }
        "papermap" => grey_image(&paper_feature_map(&all_feature_maps(net, &picture)[Layer::CONV2.index()]).1, size / 25),
        "filters" => filter_montage(net, Layer::CONV1).unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn explain_and_visualize_write_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let photo = common::flowers17_photo("daisy");
    let mut written_pictures = Vec::new();
    for method in ["gradcam", "saliency", "occlusion", "featuremaps", "papermap", "filters"] {
        let out = dir.path().join(format!("{method}.png"));
        // Float32, as the expected pictures are computed here: bfloat16's own tolerances are
        // tests/precision_explain.rs's.
        let args = [
            "--precision",
            "fp32",
            "explain",
            photo.to_str().unwrap(),
            "--method",
            method,
            "--size",
            "200",
            "--out",
            out.to_str().unwrap(),
        ];
        let output = app(&args);
        assert!(output.status.success(), "{method}: {}", text(&output.stderr));
        let written = image::open(&out).unwrap().to_rgb8();
        let expected = expected_explanation(method, &photo, 200);
        assert_eq!(written.dimensions(), expected.dimensions(), "{method}");
        let largest = written.as_raw().iter().zip(expected.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        assert!(largest <= 2, "{method}: the picture is not that method's (pixels differ by up to {largest})");
        written_pictures.push((method, written));
    }
    // And no two methods draw the same picture.
    for (i, (a, first)) in written_pictures.iter().enumerate() {
        for (b, second) in &written_pictures[i + 1..] {
            assert!(first != second, "{a} and {b} wrote the same picture");
        }
    }
    let output = app(&[
        "explain",
        photo.to_str().unwrap(),
        "--method",
        "gradcam",
        "--layer",
        "fc1",
        "--out",
        dir.path().join("x.png").to_str().unwrap(),
    ]);
    assert!(!output.status.success() && text(&output.stderr).contains("fc1 has no spatial grid"), "{}", text(&output.stderr));

    let out = dir.path().join("vis.png");
    let output = app(&["visualize", "--class", "daisy,sunflower", "--steps", "16", "--size", "120", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(image::open(&out).unwrap().width(), 120);
    let output = app(&["visualize", "--layer", "conv3", "--channel", "500", "--out", out.to_str().unwrap()]);
    assert!(!output.status.success() && text(&output.stderr).contains("128 channels"));
}

#[test]
fn the_shipped_atlas_belongs_to_the_shipped_model_and_exports_and_places() {
    let atlas_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/flowers17.atlas");
    let atlas = activation_atlas::engine::atlas::load_atlas(&atlas_path).unwrap();
    let model =
        activation_atlas::engine::checkpoint::load_checkpoint(&activation_atlas::resources::shipped_model().unwrap(), tch::Device::Cpu)
            .unwrap();
    assert_eq!(atlas.meta.model_fingerprint, model.fingerprint, "assets/flowers17.atlas was built from weights/flowers17.safetensors");
    assert!(atlas.collected.len() >= 15_000, "{} vectors", atlas.collected.len());
    assert!(atlas.mosaic.is_some() && atlas.distribution.is_some());

    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("atlas.png");
    let output = app(&[
        "atlas",
        "export",
        atlas_path.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--size",
        "300",
        "--grid",
        "20",
        "--labels",
        "--grid-lines",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let picture = image::open(&png).unwrap();
    assert_eq!((picture.width(), picture.height()), (300, 300));
    let output = app(&["atlas", "export", atlas_path.to_str().unwrap(), "--png", png.to_str().unwrap(), "--grid", "33"]);
    assert!(!output.status.success() && text(&output.stderr).contains("no 33 grid"));

    let photo = common::flowers17_photo("sunflower");
    let output = app(&[
        "atlas",
        "place",
        atlas_path.to_str().unwrap(),
        "--json",
        "--weights",
        activation_atlas::resources::shipped_model().unwrap().to_str().unwrap(),
        photo.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let placed = &envelope["result"]["results"];
    assert_eq!(placed[0]["class"], "sunflower");
    let centre = placed[0]["centre"].as_array().unwrap();
    assert!(centre.iter().all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap())));
}

#[test]
fn atlas_info_describes_the_shipped_atlas_without_machine_paths() {
    let atlas_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/flowers17.atlas");
    let output = app(&["atlas", "info", "--json", atlas_path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let info = &envelope["result"];
    assert_eq!(info["layer"], "conv2");
    assert_eq!(info["vectors"], 19_040);
    assert_eq!(info["levels"].as_array().unwrap().iter().map(|l| l["grid"].as_u64().unwrap()).collect::<Vec<_>>(), [10, 20, 40, 80]);
    assert_eq!(info["embedded_images"]["count"], 1190);
    assert_eq!(info["dataset"]["name"], "flowers17");
    assert_eq!(info["dataset"]["class_counts"].as_array().unwrap().len(), 17);
    assert_eq!(info["model"]["file"], "flowers17.safetensors");
    // The shipped file names no path of the machine it was made on.
    let bytes = std::fs::read(&atlas_path).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&bytes[8..header_end]);
    for machine in ["/work/", "/root/", "/home/", "/tmp/", "../shared"] {
        assert!(!header.contains(machine), "the atlas header names {machine}");
    }
    assert!(std::fs::metadata(&atlas_path).unwrap().len() <= 25_000_000, "the shipped atlas stays at most 25 MB");
    // The transfer-learned model's atlas, embedded photos and all, likewise.
    let second = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/flowers17-efficientnet-lite0.atlas");
    let bytes = std::fs::read(&second).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&bytes[8..header_end]);
    for machine in ["/work/", "/root/", "/home/", "/tmp/", "../shared"] {
        assert!(!header.contains(machine), "{} names {machine}", second.display());
    }
    assert!(bytes.len() <= 40_000_000, "the second shipped atlas stays at most 40 MB");
    // Nor do the shipped weights' sidecars; they record the data set by name, counts and digest.
    for entry in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let sidecar = std::fs::read_to_string(&path).unwrap();
            for machine in ["/work/", "/root/", "/home/", "/tmp/", "../shared"] {
                assert!(!sidecar.contains(machine), "{} names {machine}", path.display());
            }
            let json: serde_json::Value = serde_json::from_str(&sidecar).unwrap();
            if json["training"].is_null() {
                // A pretrained network converted unchanged: ImageNet's classes, no data set of ours.
                assert_eq!(json["class_names"].as_array().unwrap().len(), 1000, "{}", path.display());
                continue;
            }
            assert_eq!(json["dataset"]["name"], "flowers17");
            assert_eq!(json["dataset"]["class_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 1190);
        }
    }
}

#[test]
fn checkpoint_portable_keeps_the_weights_and_its_atlases_matched() {
    use activation_atlas::engine::checkpoint::load_checkpoint;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("shapes");
    common::write_shape_dataset(&data, 3, 6);
    let run = work.path().join("run");
    let trained = app(&["train", "--data", data.to_str().unwrap(), "--out", run.to_str().unwrap(), "--epochs", "1", "--batch-size", "8"]);
    assert!(trained.status.success(), "{}", text(&trained.stderr));
    let weights = run.join("epoch-001.safetensors");
    let before = load_checkpoint(&weights, tch::Device::Cpu).unwrap();
    assert_eq!(before.meta.dataset.as_ref().unwrap().class_counts, [6, 6, 6], "training records the data set");
    let atlas = work.path().join("shapes.atlas");
    let built = app(&[
        "atlas",
        "build",
        "--weights",
        weights.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        atlas.to_str().unwrap(),
        "--grids",
        "4",
        "--icon-grids",
        "4",
        "--icon-steps",
        "8",
        "--samples",
        "4",
        "--neighbors",
        "5",
        "--no-paper-views",
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let output =
        app(&["checkpoint", "portable", weights.to_str().unwrap(), "--data", data.to_str().unwrap(), "--atlas", atlas.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let after = load_checkpoint(&weights, tch::Device::Cpu).unwrap();
    let sidecar = std::fs::read_to_string(weights.with_extension("json")).unwrap();
    assert!(!sidecar.contains(&work.path().display().to_string()), "no path of this machine: {sidecar}");
    assert_eq!(after.meta.training.as_ref().unwrap().data_dir.as_deref(), Some(std::path::Path::new("shapes")));
    for (name, tensor) in before.net.vs.variables() {
        assert!(tensor.equal(&after.net.vs.variables()[&name]), "{name}: the weights are unchanged");
    }
    assert_ne!(after.fingerprint, before.fingerprint);
    assert_eq!(activation_atlas::engine::atlas::load_atlas(&atlas).unwrap().meta.model_fingerprint, after.fingerprint, "the atlas follows");
    // Run again, the atlas still matches; an atlas of another model is refused.
    let again = app(&["checkpoint", "portable", weights.to_str().unwrap(), "--atlas", atlas.to_str().unwrap()]);
    assert!(again.status.success(), "the atlas now matches: {}", text(&again.stderr));
    let shipped_atlas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/flowers17.atlas");
    let wrong = app(&["checkpoint", "portable", weights.to_str().unwrap(), "--atlas", shipped_atlas.to_str().unwrap()]);
    assert!(!wrong.status.success() && text(&wrong.stderr).contains("was not built from"));
}

#[test]
fn atlas_cell_writes_the_densest_cells_patches_from_any_directory() {
    let atlas_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/flowers17.atlas");
    let atlas = activation_atlas::engine::atlas::load_atlas(&atlas_path).unwrap();
    let densest = atlas.level(20).unwrap().cells.iter().map(|c| c.count).max().unwrap() as usize;
    let elsewhere = tempfile::tempdir().unwrap();
    let patches = elsewhere.path().join("patches");
    let output = common::cli()
        .args(["atlas", "cell", atlas_path.to_str().unwrap(), "--grid", "20", "--rank", "1", "--json", "--patches"])
        .arg(&patches)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cell = &envelope["result"];
    assert_eq!(cell["count"].as_u64().unwrap() as usize, densest);
    assert_eq!(cell["members"].as_array().unwrap().len(), densest);
    assert_eq!(cell["top_by_attribution"].as_array().unwrap().len(), 3);
    let written: Vec<_> = std::fs::read_dir(&patches).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), densest.min(24), "min(members, 24) patches");
    assert!(written.iter().all(|p| image::open(p).is_ok_and(|i| i.width() == 72)));
    // A cell by coordinates, and a rank that does not exist.
    let (x, y) = (cell["x"].as_u64().unwrap(), cell["y"].as_u64().unwrap());
    let again = app(&["atlas", "cell", atlas_path.to_str().unwrap(), "--grid", "20", "--cell", &format!("{x},{y}")]);
    assert!(text(&again.stdout).contains(&format!("{densest} vectors")), "{}", text(&again.stdout));
    let beyond = app(&["atlas", "cell", atlas_path.to_str().unwrap(), "--grid", "20", "--rank", "100000"]);
    assert!(!beyond.status.success() && text(&beyond.stderr).contains("--rank must be from 1 to"));
}

#[test]
fn atlas_build_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    flowers_subset(data.path());
    let out = data.path().join("small.atlas");
    let output = app(&[
        "atlas",
        "build",
        "--data",
        data.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--grids",
        "5,10",
        "--icon-grids",
        "5",
        "--icon-steps",
        "8",
        "--samples",
        "4",
        "--neighbors",
        "5",
        "--no-paper-views",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("built 204 vectors at conv2"), "{stdout}");
    // The file it wrote is an atlas of that folder with the asked-for grids.
    let atlas = activation_atlas::engine::atlas::load_atlas(&out).unwrap();
    assert_eq!(atlas.collected.len(), 204);
    assert_eq!(atlas.levels.iter().map(|l| l.size).collect::<Vec<_>>(), [5, 10]);
    assert_eq!(atlas.icons.iter().map(|l| l.size).collect::<Vec<_>>(), [5]);
    assert!(atlas.mosaic.is_none() && atlas.distribution.is_none(), "--no-paper-views");
    let counted: u32 = atlas.levels[0].cells.iter().map(|c| c.count).sum();
    assert_eq!(counted, 204, "every vector is in one cell");
    for stage in ["Collect", "Neighbours", "Layout", "Icons"] {
        assert!(stdout.contains(&format!("{stage}:")), "stage {stage} timed: {stdout}");
    }
    // Only layers with a grid have positions to map; --layer says so before any photo is read,
    // listing the network's layers that have one.
    let output = app(&["atlas", "build", "--data", data.path().to_str().unwrap(), "--out", out.to_str().unwrap(), "--layer", "fc1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("fc1 has no spatial grid; the layers that have one: conv1, conv2, conv3, conv4"), "{stderr}");
    assert!(!stderr.contains("images in") && !text(&output.stdout).contains("images in"), "refused before the folder is read");
}
