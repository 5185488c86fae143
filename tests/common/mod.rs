//! Helpers shared by the integration tests: generated images and data sets, and the flowers17
//! folder (`../shared/data/flowers17`, or `ACTIVATION_ATLAS_FLOWERS17`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// The command-line binary, with the decode cache of test folders kept out of the user's cache.
pub fn cli() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_activation-atlas"));
    command.env("ACTIVATION_ATLAS_CACHE", std::env::temp_dir().join("activation-atlas-test-cache"));
    command
}

/// Runs the binary with `args` to the end.
pub fn run_cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    cli().args(args).output().expect("the binary runs")
}

/// A command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The flowers17 data set. Tests that use it must run (not skip) on CI, so a missing folder fails.
pub fn flowers17() -> PathBuf {
    let dir = activation_atlas::resources::flowers17_dir();
    assert!(dir.is_dir(), "flowers17 not found at {} (set ACTIVATION_ATLAS_FLOWERS17)", dir.display());
    dir
}

/// The first `per_class` photos of every flowers17 class, in grey, as class folders under `dir`:
/// real photographs that the shipped model (which fits every flowers17 photo) gets partly wrong,
/// since much of what it knows of flowers is their colour.
pub fn grey_flowers17(dir: &Path, per_class: usize) {
    let mut classes: Vec<PathBuf> = std::fs::read_dir(flowers17()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    classes.sort();
    for class in classes {
        let out = dir.join(class.file_name().unwrap());
        std::fs::create_dir_all(&out).unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&class).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.into_iter().take(per_class) {
            let grey = image::open(&file).unwrap().thumbnail(160, 160).grayscale().to_rgb8();
            grey.save(out.join(file.with_extension("png").file_name().unwrap())).unwrap();
        }
    }
}

/// The first `per_class` photos of the flowers17 classes `classes`, in class folders of a new
/// temporary folder: linked to the originals, or copied (`copy`) where a test changes one.
/// The first `per_class` photos of every flowers17 class, linked into a new folder (the shipped
/// model's atlas needs all its classes).
pub fn flowers17_every_class(per_class: usize) -> tempfile::TempDir {
    let mut classes: Vec<String> = std::fs::read_dir(flowers17())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    flowers17_subset(&classes.iter().map(String::as_str).collect::<Vec<_>>(), per_class, false)
}

pub fn flowers17_subset(classes: &[&str], per_class: usize, copy: bool) -> tempfile::TempDir {
    let subset = tempfile::tempdir().unwrap();
    for class in classes {
        let target = subset.path().join(class);
        std::fs::create_dir_all(&target).unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(flowers17().join(class)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().take(per_class) {
            let to = target.join(file.file_name().unwrap());
            if copy {
                std::fs::copy(file, to).unwrap();
            } else {
                std::os::unix::fs::symlink(file, to).unwrap();
            }
        }
    }
    subset
}

/// One real photograph of class `class` from flowers17.
pub fn flowers17_photo(class: &str) -> PathBuf {
    let dir = flowers17().join(class);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().next().expect("class folder has photos")
}

/// The shipped model on the CPU; in float64 with `double` (for comparisons with hand-computed or
/// finite-difference values).
pub fn shipped_net(double: bool) -> activation_atlas::engine::model::Net {
    let path = activation_atlas::resources::shipped_model().expect("shipped model");
    let mut net = activation_atlas::engine::checkpoint::load_checkpoint(&path, tch::Device::Cpu).unwrap().net;
    if double {
        net.vs.double();
    }
    net
}

/// The network input (100 x 100) of the first flowers17 photo of `class`.
pub fn flowers17_input(class: &str) -> RgbImage {
    activation_atlas::engine::image_input::load_network_image(&flowers17_photo(class)).unwrap()
}

/// A picture of a filled shape on a noisy background: class 0 red disc, 1 green square,
/// 2 blue horizontal bar, 3 yellow cross. Position, size and noise vary with `variant`.
pub fn shape_image(class: usize, variant: u64, side: u32) -> RgbImage {
    let mut state = variant.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(class as u64 + 1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1000) as f32 / 1000.0
    };
    let s = side as f32;
    let (cx, cy) = (s * (0.35 + 0.3 * next()), s * (0.35 + 0.3 * next()));
    let radius = s * (0.18 + 0.1 * next());
    let colour = [[220, 40, 40], [40, 190, 60], [50, 70, 220], [230, 210, 40]][class % 4];
    let mut image = RgbImage::new(side, side);
    for (x, y, pixel) in image.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let inside = match class % 4 {
            0 => dx * dx + dy * dy < radius * radius,
            1 => dx.abs() < radius * 0.8 && dy.abs() < radius * 0.8,
            2 => dx.abs() < radius * 1.3 && dy.abs() < radius * 0.35,
            _ => (dx.abs() < radius * 0.3 && dy.abs() < radius) || (dy.abs() < radius * 0.3 && dx.abs() < radius),
        };
        let noise = (next() * 60.0) as u8;
        *pixel = if inside { Rgb(colour) } else { Rgb([90 + noise, 90 + noise, 90 + noise]) };
    }
    image
}

/// Writes a data set of `per_class` PNGs per class into `root/<class name>/`.
pub fn write_shape_dataset(root: &Path, classes: usize, per_class: usize) -> Vec<String> {
    let names: Vec<String> = ["disc", "square", "bar", "cross"][..classes].iter().map(|s| s.to_string()).collect();
    for (class, name) in names.iter().enumerate() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            shape_image(class, i as u64 * 7 + 3, 64).save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
    names
}

/// Steps the app until `done` holds: the worker answers on its own thread, so GUI tests wait for
/// its events rather than for a fixed number of frames. Fails after `timeout_secs`.
pub fn run_until(
    harness: &mut egui_kittest::Harness<'static, activation_atlas::app::AtlasApp>,
    what: &str,
    timeout_secs: u64,
    done: impl Fn(&activation_atlas::app::AtlasApp) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_secs);
    while !done(harness.state()) {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    harness.run_steps(2);
}

/// A file or folder dropped on the window, as winit reports it on the desktop.
#[derive(Debug)]
pub struct DroppedPath(pub PathBuf);

impl eframe::egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// CRC-32 (as PNG chunks use), for hand-made PNG files.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// How GUI tests start the app: the shipped model, no saved settings, file dialogs answered by
/// `picker`; tests change the other fields with `..`.
pub fn app_options(picker: activation_atlas::app::dialogs::Picker) -> activation_atlas::app::AppOptions {
    activation_atlas::app::AppOptions {
        picker,
        model: activation_atlas::resources::shipped_model(),
        settings_file: None,
        image: None,
        data_dir: None,
        run_root: None,
        // No user description files: only the shipped ones.
        user_descriptions: Some(std::env::temp_dir().join("activation-atlas-tests-no-user-descriptions")),
        atlas: None,
        place: Vec::new(),
        timeline: None,
    }
}

/// The real app in a harness of `size`, stepped until its model has loaded.
pub fn app_with_model(
    options: activation_atlas::app::AppOptions,
    size: [f32; 2],
) -> egui_kittest::Harness<'static, activation_atlas::app::AtlasApp> {
    let mut harness =
        egui_kittest::Harness::builder().with_size(size).build_eframe(move |cc| activation_atlas::app::AtlasApp::new(cc, options));
    run_until(&mut harness, "the model loads", 60, |app| matches!(app.model, activation_atlas::app::ModelStatus::Ready(_)));
    harness
}

/// The real app of `size` with `options`, its model loaded, on 训练 with the data folder the
/// picker answers for 选择数据集文件夹… read.
pub fn app_on_training_folder(
    options: activation_atlas::app::AppOptions,
    size: [f32; 2],
) -> egui_kittest::Harness<'static, activation_atlas::app::AtlasApp> {
    use egui_kittest::kittest::Queryable;
    let mut harness = app_with_model(options, size);
    harness.get_by_label("训练").click();
    harness.run_steps(2);
    harness.get_by_label("选择数据集文件夹…").click();
    run_until(&mut harness, "the data set summary is shown", 120, |app| app.train().dataset().overview.is_some());
    harness
}

/// Clicks 知道了 on every message shown, as a user clears the message area.
pub fn dismiss_messages(harness: &mut egui_kittest::Harness<'static, activation_atlas::app::AtlasApp>) {
    use egui_kittest::kittest::Queryable;
    while harness.query_by_label("知道了").is_some() {
        harness.get_all_by_label("知道了").next().unwrap().click();
        harness.run_steps(2);
    }
    assert!(harness.state().messages.error.is_none() && harness.state().messages.notice.is_none());
}

/// Opens a menu of the top bar and clicks one of its entries.
pub fn menu_item(harness: &mut egui_kittest::Harness<'static, activation_atlas::app::AtlasApp>, menu: &str, item: &str) {
    use egui_kittest::kittest::Queryable;
    harness.get_by_label(menu).click();
    harness.run_steps(2);
    harness.get_by_label(item).click();
    harness.run_steps(2);
}

/// A tar.gz like 17flowers.tgz holding `count` of its images (each a distinct 8x8 JPEG).
pub fn flowers17_archive(count: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for n in 1..=count {
        let picture = image::RgbImage::from_pixel(8, 8, image::Rgb([(n % 256) as u8, (n / 256) as u8, 90]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg).encode_image(&picture).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(jpeg.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("jpg/image_{n:04}.jpg"), jpeg.as_slice()).unwrap();
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_cksum();
    builder.append_data(&mut header, "jpg/files.txt", &b"list\n"[..]).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}
