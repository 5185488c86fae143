//! Files that are not regular files — a named pipe (FIFO), a link to /dev/zero, a folder named
//! like a picture — given to every loader of user files (pictures, checkpoints, sidecars, atlases,
//! description files), to the command line and inside a data set. Each is refused at once with a
//! message naming the file; none blocks or reads without end. Every call runs under a deadline,
//! so a loader that hangs fails the test instead of hanging it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use activation_atlas::descriptions::DescriptionSet;
use activation_atlas::engine::atlas::load_atlas;
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::image_input::load_network_image;

const DEADLINE: Duration = Duration::from_secs(20);

/// A FIFO, a link to /dev/zero and a folder, each under `name` with the given extension.
fn special_files(dir: &Path, extension: &str) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join(format!("pipe.{extension}"));
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(status.success());
    let zero = dir.join(format!("zero.{extension}"));
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let folder = dir.join(format!("x.{extension}"));
    std::fs::create_dir(&folder).unwrap();
    vec![(fifo, "named pipe"), (zero, "device"), (folder, "folder")]
}

/// Runs `load` on a thread and returns its error message, failing if it takes longer than the
/// deadline or succeeds.
fn refused_in_time<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    path: &Path,
    load: impl FnOnce(PathBuf) -> Result<T, E> + Send + 'static,
) -> String {
    let (sender, receiver) = mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = sender.send(load(owned).err().map(|e| e.to_string()));
    });
    match receiver.recv_timeout(DEADLINE) {
        Ok(Some(message)) => message,
        Ok(None) => panic!("{} was accepted", path.display()),
        Err(_) => panic!("loading {} did not return within {DEADLINE:?}", path.display()),
    }
}

fn assert_names_it(message: &str, path: &Path, kind: &str) {
    assert!(message.contains(&path.display().to_string()), "the message names the file: {message}");
    assert!(message.contains(kind), "the message says it is a {kind}: {message}");
}

#[test]
fn pictures_checkpoints_atlases_and_descriptions_refuse_special_files_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (extension, loader) in [("jpg", 0), ("safetensors", 1), ("atlas", 2), ("toml", 3)] {
        let sub = dir.path().join(extension);
        std::fs::create_dir(&sub).unwrap();
        for (path, kind) in special_files(&sub, extension) {
            let message = match loader {
                0 => refused_in_time(&path, |p| load_network_image(&p)),
                1 => refused_in_time(&path, |p| load_checkpoint(&p, tch::Device::Cpu).map(|_| ())),
                2 => refused_in_time(&path, |p| load_atlas(&p).map(|_| ())),
                _ => refused_in_time(&path, |p| DescriptionSet::load(&p)),
            };
            assert_names_it(&message, &path, kind);
        }
    }
}

#[test]
fn a_sidecar_that_is_a_pipe_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::copy(activation_atlas::resources::shipped_model().expect("the shipped model"), &weights).unwrap();
    let sidecar = dir.path().join("model.json");
    assert!(Command::new("mkfifo").arg(&sidecar).status().unwrap().success());
    let message = refused_in_time(&weights, |p| load_checkpoint(&p, tch::Device::Cpu).map(|_| ()));
    assert_names_it(&message, &sidecar, "named pipe");
}

#[test]
fn the_command_line_names_each_special_file_and_classifies_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let files = special_files(dir.path(), "jpg");
    let photo = common::flowers17_photo("sunflower");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_activation-atlas"))
        .arg("classify")
        .args(files.iter().map(|(p, _)| p.as_os_str()))
        .arg(&photo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("classify did not return within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "bad files make the command fail");
    for (path, kind) in &files {
        let line = stderr.lines().find(|l| l.contains(&path.display().to_string())).unwrap_or_else(|| panic!("{stderr}"));
        assert!(line.contains(kind), "{line}");
    }
    assert!(stdout.contains("sunflower"), "the good photo is still classified: {stdout}");
}

#[test]
fn a_data_set_reports_special_files_as_skipped_and_loads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    common::write_shape_dataset(dir.path(), 2, 4);
    let class = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let files = special_files(&class, "png");
    let root = dir.path().to_path_buf();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let loaded = activation_atlas::engine::data::load_dataset(&root, None, &|_, _| {}, &std::sync::atomic::AtomicBool::new(false));
        let _ = sender.send(loaded.map_err(|e| e.to_string()));
    });
    let dataset = receiver.recv_timeout(DEADLINE).expect("the data set loads in time").expect("the data set loads");
    assert_eq!(dataset.len(), 8, "every real picture is used");
    assert_eq!(dataset.skipped.len(), 3, "{:?}", dataset.skipped);
    for (path, kind) in &files {
        let skip = dataset.skipped.iter().find(|s| &s.path == path).unwrap_or_else(|| panic!("{} is reported", path.display()));
        assert!(skip.reason.contains(kind), "{}", skip.reason);
    }
}
