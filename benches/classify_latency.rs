//! Classification latency as the window sees it: from submitting the classify job to receiving
//! its result through the real job system, with the shipped model on CPU; plus the time to open
//! (decode and preview) a photo. Photos: the first 5 of each flowers17 class.
//!
//! With `--while-training`, the same is measured while a training run on all of flowers17 goes on
//! in the same process (its own thread, as in the window), started before the first click and
//! cancelled after the last.
//!
//! cargo bench --bench classify_latency [-- --while-training]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use activation_atlas::engine::train::TrainConfig;
use activation_atlas::resources::{flowers17_dir, shipped_model};
use activation_atlas::worker::{
    ClassifyEvent, ClassifyJob, Event, Job, JobId, Jobs, ModelEvent, ModelJob, TrainJob, TrainRun, TrainingEvent,
};

/// Waits for an event of job `id` that `accept` takes; other jobs' events are dropped.
fn wait_for(jobs: &mut Jobs, id: JobId, accept: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match jobs.try_recv() {
            Some(envelope) if envelope.job == id => {
                if accept(&envelope.event) {
                    return;
                }
                if let Event::Failed(error) = &envelope.event {
                    panic!("{error:?}");
                }
            }
            Some(_) => {}
            None => {
                assert!(Instant::now() < deadline, "no answer from the job system");
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn photos() -> Vec<PathBuf> {
    let mut classes: Vec<_> = std::fs::read_dir(flowers17_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    classes.sort();
    let mut photos = Vec::new();
    for class in classes {
        let mut files: Vec<_> = std::fs::read_dir(class).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        photos.extend(files.into_iter().take(5));
    }
    photos
}

/// Starts a long run on flowers17 and returns once its first optimiser step has been taken.
fn start_training(jobs: &mut Jobs, run_dir: PathBuf) -> JobId {
    let config = TrainConfig { epochs: 1000, data_dir: Some(flowers17_dir()), ..TrainConfig::default() };
    let run = TrainRun { data_dir: flowers17_dir(), config, run_dir, resume: None, panic_after_steps: None };
    let id = jobs.submit(Job::Train(TrainJob::Run(Box::new(run)))).expect("no other run");
    wait_for(jobs, id, |e| matches!(e, Event::Train(TrainingEvent::Progress(activation_atlas::engine::train::TrainEvent::Step { .. }))));
    id
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let while_training = std::env::args().any(|a| a == "--while-training");
    let mut jobs = Jobs::spawn(|| {});
    let id = jobs.submit(Job::Model(ModelJob::Load { path: shipped_model().expect("shipped model") })).unwrap();
    wait_for(&mut jobs, id, |e| matches!(e, Event::Model(ModelEvent::Loaded(_))));
    let scratch = tempfile::tempdir().unwrap();
    let training = while_training.then(|| start_training(&mut jobs, scratch.path().join("run")));
    let (mut open_ms, mut classify_ms) = (Vec::new(), Vec::new());
    for (i, path) in photos().iter().enumerate() {
        let started = Instant::now();
        let id = jobs.submit(Job::Classify(ClassifyJob::Open { path: path.clone() })).unwrap();
        wait_for(&mut jobs, id, |e| matches!(e, Event::Classify(ClassifyEvent::Opened { .. })));
        let opened = started.elapsed();
        let started = Instant::now();
        let id = jobs.submit(Job::Classify(ClassifyJob::Classify { path: path.clone() })).unwrap();
        wait_for(&mut jobs, id, |e| matches!(e, Event::Classify(ClassifyEvent::Classified { .. })));
        if i > 0 {
            // the first run warms libtorch up
            open_ms.push(opened.as_secs_f64() * 1e3);
            classify_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    if let Some(id) = training {
        // Still running: the run was not over before the last click.
        assert!(jobs.running().iter().any(|j| j.id == id), "the training run ended before the measurement did");
        jobs.cancel(id);
    }
    let suffix = if while_training { "-while-training" } else { "" };
    for (name, values) in [("open", &mut open_ms), ("classify", &mut classify_ms)] {
        values.sort_by(f64::total_cmp);
        println!(
            "RESULT {name}{suffix} p50 {:.1} ms p95 {:.1} ms max {:.1} ms n {}",
            percentile(values, 0.5),
            percentile(values, 0.95),
            values[values.len() - 1],
            values.len()
        );
    }
}
