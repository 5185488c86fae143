//! Classification latency as the window sees it: from sending `Job::Classify` to receiving
//! `Event::Classified` through the real worker thread, with the shipped model on CPU; plus the
//! time to open (decode and preview) a photo. Photos: the first 5 of each flowers17 class.
//!
//! cargo bench --bench classify_latency

use std::time::{Duration, Instant};

use activation_atlas::resources::{flowers17_dir, shipped_model};
use activation_atlas::worker::{Event, Job, Worker};

fn wait_for(worker: &Worker, accept: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(event) = worker.try_recv() {
            if accept(&event) {
                return event;
            }
            if let Event::ImageFailed { message, .. } | Event::ModelFailed { message, .. } = &event {
                panic!("{message}");
            }
        } else {
            assert!(Instant::now() < deadline, "worker did not answer");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let worker = Worker::spawn(|| {});
    worker.send(Job::LoadModel { path: shipped_model().expect("shipped model") });
    wait_for(&worker, |e| matches!(e, Event::ModelLoaded(_)));
    let mut photos = Vec::new();
    let mut classes: Vec<_> = std::fs::read_dir(flowers17_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    classes.sort();
    for class in classes {
        let mut files: Vec<_> = std::fs::read_dir(class).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        photos.extend(files.into_iter().take(5));
    }
    let (mut open_ms, mut classify_ms) = (Vec::new(), Vec::new());
    for (i, path) in photos.iter().enumerate() {
        let started = Instant::now();
        worker.send(Job::OpenImage { path: path.clone() });
        wait_for(&worker, |e| matches!(e, Event::ImageOpened { .. }));
        let opened = started.elapsed();
        let started = Instant::now();
        worker.send(Job::Classify { path: path.clone() });
        wait_for(&worker, |e| matches!(e, Event::Classified { .. }));
        if i > 0 {
            // the first run warms libtorch up
            open_ms.push(opened.as_secs_f64() * 1e3);
            classify_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    for (name, values) in [("open (decode + preview)", &mut open_ms), ("classify (click to result)", &mut classify_ms)] {
        values.sort_by(f64::total_cmp);
        println!(
            "{name:<28} n={} p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms",
            values.len(),
            percentile(values, 0.5),
            percentile(values, 0.95),
            values[values.len() - 1]
        );
    }
}
