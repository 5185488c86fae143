//! Killing the process during a save never leaves a broken file. This test binary is its own
//! child: run with `--child-save checkpoint|atlas FILE` it saves that file over and over; run
//! normally it starts such a child, kills it (SIGKILL) at random moments, and checks that the file
//! still loads each time. It also counts how often the kill landed inside a save (a temporary file
//! was left behind), so the run shows that the interesting case was hit, and checks that the next
//! save removes such leftovers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use activation_atlas::engine::atlas::{load_atlas, save_atlas};
use activation_atlas::engine::checkpoint::{load_checkpoint, save_checkpoint};
use tch::Device;

fn shipped_atlas() -> PathBuf {
    activation_atlas::resources::find_resource(Path::new("assets/flowers17.atlas")).expect("the atlas is shipped")
}

/// The child: saves `file` in a loop until killed, changing the contents each time.
fn child_save(kind: &str, file: &Path) -> ! {
    match kind {
        "checkpoint" => {
            let model = activation_atlas::resources::shipped_model().expect("the model is shipped");
            let mut checkpoint = load_checkpoint(&model, Device::Cpu).expect("the shipped model loads");
            for epoch in 1.. {
                checkpoint.meta.epoch = epoch;
                save_checkpoint(&checkpoint.net, &checkpoint.meta, file).expect("save");
            }
        }
        "atlas" => {
            let mut atlas = load_atlas(&shipped_atlas()).expect("the shipped atlas loads");
            for round in 0u64.. {
                atlas.meta.created_at = format!("round {round}");
                save_atlas(&atlas, file).expect("save");
            }
        }
        other => panic!("unknown kind {other}"),
    }
    unreachable!()
}

fn spawn_child(kind: &str, file: &Path) -> Child {
    Command::new(std::env::current_exe().expect("own path")).args(["--child-save", kind]).arg(file).spawn().expect("the child starts")
}

fn loads(kind: &str, file: &Path) -> Result<(), String> {
    match kind {
        "checkpoint" => load_checkpoint(file, Device::Cpu).map(|_| ()).map_err(|e| e.to_string()),
        _ => load_atlas(file).map(|_| ()).map_err(|e| e.to_string()),
    }
}

fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-")).count()
}

/// A small xorshift for kill delays (no dependency, reproducible per run).
fn delays(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed | 1;
    move |max_ms| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % max_ms
    }
}

/// Kills at least `rounds` children of `kind`, more (up to 4x) until one kill lands inside a save;
/// returns (kills inside a save, kills).
fn kill_while_saving(kind: &str, extension: &str, rounds: usize) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("saved.{extension}"));
    let mut next_delay = delays(0x5eed + rounds as u64);
    let mut inside_save = 0;
    let mut round = 0;
    while round < rounds || (inside_save == 0 && round < rounds * 4) {
        round += 1;
        let mut child = spawn_child(kind, &file);
        // Wait for a first complete file (in round 0), then let it run a random while.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !file.exists() {
            assert!(Instant::now() < deadline, "the child never saved");
            assert!(child.try_wait().unwrap().is_none(), "the child exited early");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(200 + next_delay(1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        let left = leftovers(dir.path());
        if left > 0 {
            inside_save += 1;
        }
        if let Err(reason) = loads(kind, &file) {
            panic!("{kind}: after kill {round}, the file does not load: {reason}");
        }
    }
    // The next save clears what killed saves left behind.
    let mut child = spawn_child(kind, &file);
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    while std::fs::metadata(&file).unwrap().modified().unwrap() == before {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(leftovers(dir.path()) <= 2, "stale temporary files are removed by the next save");
    (inside_save, round)
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
    for (kind, extension, rounds) in [("checkpoint", "safetensors", 25), ("atlas", "atlas", 25)] {
        let started = Instant::now();
        let (inside, rounds) = kill_while_saving(kind, extension, rounds);
        println!(
            "{kind}: killed {rounds} times ({inside} inside a save, leaving a temporary file); the file loaded every time ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        assert!(inside > 0, "{kind}: no kill landed inside a save; the test did not test anything");
    }
    println!("test result: ok. crash_safety");
}
