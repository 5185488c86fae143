//! Killing the process during a save never leaves a broken file. This test binary is its own
//! child: run with `--child-save checkpoint|atlas|settings|descriptions|timeline FILE` it saves that file over and over, saying
//! on standard output when each save begins ("saving N") and ends ("saved N"); run normally it
//! starts such children and kills each (SIGKILL) at a random moment *inside* a save, timed from
//! the child's announcement. A kill counts as inside a save only when the child's own last word
//! was "saving". After every kill the file must load; the temporary files killed saves left are
//! recorded, and the next save must remove exactly those. Every wait has a deadline.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

mod common;

use activation_atlas::engine::atlas::timeline::{TimelineParams, build_timeline, load_timeline, save_timeline};
use activation_atlas::engine::atlas::{load_atlas, save_atlas};
use activation_atlas::engine::checkpoint::{load_checkpoint, save_checkpoint};
use tch::Device;

/// Kills per file type; at least [`MIN_INSIDE`] of them must land inside a save.
const ROUNDS: usize = 20;
const MIN_INSIDE: usize = 10;
/// The timeline the "timeline" children save again and again (made once by the parent from a
/// short real run), passed to them in this variable.
const TIMELINE_SOURCE: &str = "ACTIVATION_ATLAS_TEST_TIMELINE_SOURCE";

/// The longest any single wait may take.
const WAIT: Duration = Duration::from_secs(120);

fn shipped_atlas() -> PathBuf {
    activation_atlas::resources::find_resource(Path::new("assets/flowers17.atlas")).expect("the atlas is shipped")
}

/// The child: saves `file` in a loop until killed, changing the contents each time, and says
/// when each save begins and ends.
fn child_save(kind: &str, file: &Path) -> ! {
    let mut out = std::io::stdout().lock();
    let mut announce = |line: String| {
        writeln!(out, "{line}").expect("the parent reads");
        out.flush().expect("the parent reads");
    };
    match kind {
        "checkpoint" => {
            let model = activation_atlas::resources::shipped_model().expect("the model is shipped");
            let mut checkpoint = load_checkpoint(&model, Device::Cpu).expect("the shipped model loads");
            for round in 1.. {
                checkpoint.meta.epoch = round;
                announce(format!("saving {round}"));
                save_checkpoint(&checkpoint.net, &checkpoint.meta, file).expect("save");
                announce(format!("saved {round}"));
            }
        }
        "atlas" => {
            let mut atlas = load_atlas(&shipped_atlas()).expect("the shipped atlas loads");
            for round in 1u64.. {
                atlas.meta.created_at = format!("round {round}");
                announce(format!("saving {round}"));
                save_atlas(&atlas, file).expect("save");
                announce(format!("saved {round}"));
            }
        }
        "settings" => {
            let mut store = activation_atlas::app::settings_file::SettingsFile::at(file.to_path_buf());
            let mut settings = activation_atlas::app::Settings::default();
            for round in 1u64.. {
                // Paths long enough that a torn write would cut one.
                settings.last_model = Some(PathBuf::from(format!("/models/{}/round-{round}.safetensors", "x".repeat(2000))));
                announce(format!("saving {round}"));
                assert!(store.save(&settings, activation_atlas::app::i18n::Lang::En).is_none(), "save");
                announce(format!("saved {round}"));
            }
        }
        "descriptions" => {
            let shipped = activation_atlas::resources::find_resource(Path::new("descriptions/flowers17.toml")).expect("shipped");
            let mut set = activation_atlas::descriptions::DescriptionSet::load(&shipped).expect("the shipped descriptions load");
            for round in 1u64.. {
                set.file.name = format!("round {round}");
                announce(format!("saving {round}"));
                set.save(file).expect("save");
                announce(format!("saved {round}"));
            }
        }
        "timeline" => {
            let source = std::env::var_os(TIMELINE_SOURCE).expect("the parent names the timeline");
            let mut timeline = load_timeline(Path::new(&source)).expect("the source timeline loads");
            for round in 1u64.. {
                timeline.data_name = format!("round {round}");
                announce(format!("saving {round}"));
                save_timeline(&timeline, file).expect("save");
                announce(format!("saved {round}"));
            }
        }
        other => panic!("unknown kind {other}"),
    }
    unreachable!()
}

/// A running child and the lines it has said.
struct Child {
    process: std::process::Child,
    lines: Receiver<String>,
    /// The last line read so far.
    last: Option<String>,
}

impl Child {
    fn spawn(kind: &str, file: &Path) -> Child {
        let mut process = Command::new(std::env::current_exe().expect("own path"))
            .args(["--child-save", kind])
            .arg(file)
            .envs(timeline_source().map(|source| (TIMELINE_SOURCE, source)))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the child starts");
        let stdout = process.stdout.take().expect("piped");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Child { process, lines, last: None }
    }

    /// Waits until the child says `wanted`.
    fn wait_for(&mut self, wanted: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let found = line == wanted;
                    self.last = Some(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("the child did not say '{wanted}' within {WAIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the child exited before saying '{wanted}'"),
            }
        }
    }

    /// Kills the child and returns the last thing it said.
    fn kill(mut self) -> Option<String> {
        self.process.kill().expect("kill");
        self.process.wait().expect("reaped");
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => self.last = Some(line),
                Err(RecvTimeoutError::Disconnected) => return self.last,
                Err(RecvTimeoutError::Timeout) => panic!("the killed child's output did not end"),
            }
        }
    }

    fn pid(&self) -> u32 {
        self.process.id()
    }
}

fn loads(kind: &str, file: &Path) -> Result<(), String> {
    match kind {
        "checkpoint" => load_checkpoint(file, Device::Cpu).map(|_| ()).map_err(|e| e.to_string()),
        "settings" => {
            // A file that cannot be read would be set aside with a message: that is a failure here.
            let (settings, message) = activation_atlas::app::settings_file::SettingsFile::at(file.to_path_buf())
                .load(None, activation_atlas::app::i18n::Lang::En);
            match message {
                Some(message) => Err(message),
                None if settings.last_model.is_some() => Ok(()),
                None => Err("the settings read back empty".to_string()),
            }
        }
        "descriptions" => activation_atlas::descriptions::DescriptionSet::load(file).map(|_| ()).map_err(|e| e.to_string()),
        "timeline" => load_timeline(file).map(|_| ()).map_err(|e| e.to_string()),
        _ => load_atlas(file).map(|_| ()).map_err(|e| e.to_string()),
    }
}

/// The temporary files of interrupted saves in `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".tmp-")))
        .collect();
    found.sort();
    found
}

/// A small xorshift for kill delays (no dependency, reproducible per run).
fn delays(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed | 1;
    move |max| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % max.max(1)
    }
}

/// Kills [`ROUNDS`] children of `kind` during their second save; returns how many kills the
/// children themselves reported as inside a save.
fn kill_while_saving(kind: &str, extension: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("saved.{extension}"));
    // First complete saves; and how long a save takes as seen from here (the shortest of saves
    // 2 to 4: the first one may be slow while caches warm up).
    let mut child = Child::spawn(kind, &file);
    let mut save_micros = u64::MAX;
    for round in 2..=4 {
        child.wait_for(&format!("saving {round}"));
        let started = Instant::now();
        child.wait_for(&format!("saved {round}"));
        save_micros = save_micros.min(started.elapsed().as_micros() as u64);
    }
    child.kill();
    let mut next_delay = delays(0x5eed);
    let (mut inside, mut stale) = (0, Vec::new());
    for round in 1..=ROUNDS {
        let mut child = Child::spawn(kind, &file);
        child.wait_for("saving 2");
        // Somewhere in the first 80% of a save.
        std::thread::sleep(Duration::from_micros(next_delay(save_micros * 4 / 5)));
        // Inside a save when the child's last word began one (save 2, or a later one if save 2
        // was quick).
        let last_word = child.kill();
        if last_word.as_deref().is_some_and(|word| word.starts_with("saving ")) {
            inside += 1;
        }
        stale.extend(temporaries(dir.path()));
        if let Err(reason) = loads(kind, &file) {
            panic!("{kind}: after kill {round}, the file does not load: {reason}");
        }
    }
    stale.sort();
    stale.dedup();
    // The next save removes exactly what the killed saves left.
    let mut child = Child::spawn(kind, &file);
    child.wait_for("saved 1");
    let last_pid = child.pid();
    child.kill();
    for path in &stale {
        assert!(!path.exists(), "{kind}: {} was left by a killed save and not removed by the next", path.display());
    }
    for path in temporaries(dir.path()) {
        // Only the last child may have begun another save before it was killed.
        assert!(path.to_string_lossy().contains(&format!(".tmp-{last_pid}-")), "{kind}: unexpected {}", path.display());
    }
    println!(
        "{kind}: a save takes about {} ms; killed {ROUNDS} times ({inside} inside a save by the child's own report, {} temporary files left and then removed); the file loaded every time",
        save_micros / 1000,
        stale.len()
    );
    inside
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child-save") {
        child_save(&args[at + 1], Path::new(&args[at + 2]));
    }
    if args.iter().any(|a| a == "--list") {
        // `cargo test -- --list` support: one test.
        println!("kill_during_saves: test");
        return;
    }
    let made = Instant::now();
    let _source_dir = make_timeline_source();
    println!("timeline: made from a 3-epoch run in {:.0} s", made.elapsed().as_secs_f64());
    for (kind, extension) in
        [("checkpoint", "safetensors"), ("atlas", "atlas"), ("settings", "ron"), ("descriptions", "toml"), ("timeline", "timeline")]
    {
        let started = Instant::now();
        let inside = kill_while_saving(kind, extension);
        println!("{kind}: {:.0} s", started.elapsed().as_secs_f64());
        assert!(inside >= MIN_INSIDE, "{kind}: only {inside} of {ROUNDS} kills landed inside a save");
    }
    println!("test result: ok. crash_safety");
}

static TIMELINE_SOURCE_PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn timeline_source() -> Option<&'static PathBuf> {
    TIMELINE_SOURCE_PATH.get()
}

/// A real timeline: three epochs of the paper's network on generated shapes, a frame each.
fn make_timeline_source() -> tempfile::TempDir {
    use activation_atlas::engine::data::{load_dataset, open_dataset};
    use activation_atlas::engine::train::{TrainConfig, train};
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let (data, run) = (dir.path().join("shapes"), dir.path().join("run"));
    common::write_shape_dataset(&data, 3, 16);
    let never = AtomicBool::new(false);
    let dataset = load_dataset(&data, None, &|_, _| {}, &never).unwrap();
    let config = TrainConfig { epochs: 3, batch_size: 16, seed: 3, checkpoint_every: 1, ..TrainConfig::default() };
    train(&dataset, &config, &run, None, Device::Cpu, &never, &mut |_| {}).unwrap();
    let photos = open_dataset(&data, None, &|_, _| {}, &never).unwrap();
    let mut params = TimelineParams { samples_per_image: 4, ..TimelineParams::default() };
    params.umap.epochs = 60;
    let timeline = build_timeline(&run, &photos, params, 1, &mut |_| {}, &never).unwrap();
    let source = dir.path().join("source.timeline");
    save_timeline(&timeline, &source).unwrap();
    TIMELINE_SOURCE_PATH.set(source).expect("made once");
    dir
}
