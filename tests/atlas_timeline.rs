//! The atlas timeline of a training run: one frame per checkpoint over the same points, each
//! started from and aligned to the one before; its file; the animation; the CLI.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use activation_atlas::engine::atlas::animation::{AnimationFormat, AnimationOptions, animation_frames, encode_animation};
use activation_atlas::engine::atlas::patches::receptive_patch;
use activation_atlas::engine::atlas::timeline::{
    TIMELINE_PATCH_PX, TimelineBuilder, TimelineFrame, TimelineParams, build_timeline, frame_cells, load_timeline, mean_displacement,
    procrustes_onto, run_checkpoints, save_timeline,
};
use activation_atlas::engine::checkpoint::load_checkpoint;
use activation_atlas::engine::data::{Photos, load_dataset, open_dataset};
use activation_atlas::engine::train::{TrainConfig, train};
use tch::Device;

/// A real, short training run on generated shapes: three epoch checkpoints.
fn synthetic_run(data: &Path, run_dir: &Path) {
    common::write_shape_dataset(data, 3, 24);
    let dataset = load_dataset(data, None, &|_, _| {}, &AtomicBool::new(false)).unwrap();
    let config = TrainConfig { epochs: 3, batch_size: 16, seed: 3, checkpoint_every: 1, ..TrainConfig::default() };
    train(&dataset, &config, run_dir, None, Device::Cpu, &AtomicBool::new(false), &mut |_| {}).unwrap();
}

fn params() -> TimelineParams {
    let mut params = TimelineParams { samples_per_image: 4, ..TimelineParams::default() };
    params.umap.epochs = 120;
    params
}

#[test]
fn procrustes_undoes_a_rotation_reflection_scale_and_shift() {
    let target: Vec<f32> = (0..50).flat_map(|i| [(i as f32 * 0.7).sin() * 3.0, (i as f32 * 1.3).cos() * 2.0 + i as f32 * 0.05]).collect();
    let (c, s) = (0.6f32.cos(), 0.6f32.sin());
    // Reflected in y, rotated, scaled by 2.5 and moved.
    let moved: Vec<f32> =
        target.chunks_exact(2).flat_map(|p| [2.5 * (c * p[0] + s * p[1]) + 7.0, 2.5 * (s * p[0] - c * p[1]) - 4.0]).collect();
    assert!(mean_displacement(&moved, &target) > 1.0);
    let fitted = procrustes_onto(&moved, &target);
    assert!(mean_displacement(&fitted, &target) < 1e-3, "{}", mean_displacement(&fitted, &target));
}

#[test]
fn a_run_of_three_checkpoints_gives_three_aligned_frames_of_the_same_points() {
    let (data, run_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    synthetic_run(data.path(), run_dir.path());
    let checkpoints = run_checkpoints(run_dir.path());
    assert_eq!(checkpoints.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2, 3], "one checkpoint per epoch, best left out");
    let photos = open_dataset(data.path(), None, &|_, _| {}, &AtomicBool::new(false)).unwrap();
    let mut frames_seen = Vec::new();
    let timeline = build_timeline(
        run_dir.path(),
        &photos,
        params(),
        1,
        &mut |event| {
            if let activation_atlas::engine::atlas::timeline::TimelineEvent::Frame { epoch, .. } = event {
                frames_seen.push(epoch);
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(frames_seen, vec![1, 2, 3]);
    assert_eq!(timeline.frames.len(), 3);
    assert_eq!(timeline.len(), 72 * 4, "every photo, four positions each");
    for frame in &timeline.frames {
        assert_eq!(frame.layout.len(), timeline.len() * 2, "the same points in every frame");
    }

    // The same points laid out under each checkpoint on its own: no shared start, no fit.
    let unaligned: Vec<Vec<f32>> = checkpoints
        .iter()
        .map(|(epoch, path, _)| {
            let checkpoint = load_checkpoint(path, Device::Cpu).unwrap();
            let mut alone = TimelineBuilder::new(&photos, params(), &checkpoint.net).unwrap();
            let frame = TimelineFrame { epoch: *epoch, checkpoint: String::new(), validation_accuracy: None, layout: Vec::new() };
            alone.add_frame(&checkpoint.net, frame, &photos, &mut |_| {}, &AtomicBool::new(false)).unwrap();
            alone.timeline().display_layout(0)
        })
        .collect();
    for frame in 1..3 {
        let aligned_move = timeline.movement(frame);
        let unaligned_move = mean_displacement(&unaligned[frame - 1], &unaligned[frame]);
        eprintln!("frame {frame}: aligned {aligned_move:.4}, independent {unaligned_move:.4}");
        assert!(
            aligned_move < unaligned_move,
            "frame {frame}: aligned points moved {aligned_move:.3}, independent layouts {unaligned_move:.3}"
        );
    }

    // The file keeps every frame; the animation has a picture per checkpoint and the ones between.
    let file = run_dir.path().join("run.timeline");
    save_timeline(&timeline, &file).unwrap();
    let loaded = load_timeline(&file).unwrap();
    assert_eq!(loaded, timeline);
    crafted_copies_are_refused_with_a_reason_or_load(&std::fs::read(&file).unwrap());

    // Each point keeps the patch of its photo that it sees, so a frame can be drawn as an atlas.
    let px = TIMELINE_PATCH_PX;
    let point = 4 * 5 + 2; // photo 5, its third position
    let photo = photos.read(5..6).unwrap()[0].clone();
    let expected = image::imageops::resize(
        &receptive_patch(&photo, &activation_atlas::engine::atlas::LayerGeometry::paper(timeline.layer), timeline.position[point]),
        px,
        px,
        image::imageops::FilterType::Triangle,
    );
    assert_eq!(timeline.patch(point), Some(expected.as_raw().as_slice()));
    let layout = timeline.display_layout(2);
    let cells = frame_cells(&layout, 10, 1);
    assert_eq!(cells.iter().map(|c| c.count).sum::<usize>(), timeline.len(), "every point in one cell");
    for cell in &cells {
        let p = &layout[2 * cell.point..2 * cell.point + 2];
        let inside = |v: f32, at: usize| v >= at as f32 / 10.0 - 1e-6 && v <= (at + 1) as f32 / 10.0 + 1e-6;
        assert!(inside(p[0], cell.column) && inside(p[1], cell.row), "a cell's patch is one of its own points");
    }
    let picture = timeline.frame_atlas_picture(2.0, timeline.bounds(), 10, 1).unwrap();
    assert_eq!(picture.dimensions(), (10 * px, 10 * px));
    let first = cells[0];
    let at = |x: u32, y: u32| picture.get_pixel(first.column as u32 * px + x, first.row as u32 * px + y).0;
    assert_eq!(at(3, 7), timeline.patch(first.point).unwrap()[((7 * px + 3) * 3) as usize..][..3]);
    let options = AnimationOptions { size_px: 96, tween: 2, ..Default::default() };
    let pictures = animation_frames(&loaded, &options, None);
    assert_eq!(pictures.len(), 2 * 3 + 1);
    assert_ne!(pictures[0].0, pictures[6].0, "the first and last checkpoints differ");
    let gif = encode_animation(&pictures, AnimationFormat::Gif).unwrap();
    let decoded = image::AnimationDecoder::into_frames(image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif)).unwrap())
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), 7);
    let apng = encode_animation(&pictures, AnimationFormat::Apng).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(apng)).read_info().unwrap();
    assert_eq!(reader.info().animation_control.map(|a| a.num_frames), Some(7));

    // Drawn as an atlas, the animation's last picture is the last frame's atlas, enlarged.
    let options = AnimationOptions { size_px: 10 * px, tween: 0, atlas_grid: Some(10), ..Default::default() };
    let pictures = animation_frames(&loaded, &options, None);
    assert_eq!(pictures.len(), 3);
    assert_eq!(pictures[2].0, loaded.frame_atlas_picture(2.0, loaded.bounds(), 10, 3).unwrap());
}

/// A real timeline file's bytes, damaged: cut at 64 places, 300 single bits flipped (seeded), and
/// its header edited to each defect the reader checks. Each copy loads or is refused with a
/// reason, never a panic; the crafted defects are refused for the reason they carry.
fn crafted_copies_are_refused_with_a_reason_or_load(bytes: &[u8]) {
    use activation_atlas::engine::atlas::timeline::parse_timeline;
    let path = Path::new("crafted.timeline");
    let survives = |what: &str, copy: &[u8]| {
        let outcome = std::panic::catch_unwind(|| parse_timeline(copy, path).map(|t| t.frames.len()));
        assert!(outcome.is_ok(), "{what}: the reader panicked");
    };
    for cut in (0..64).map(|k| bytes.len() * k / 64) {
        survives(&format!("cut at {cut}"), &bytes[..cut]);
        assert!(parse_timeline(&bytes[..cut], path).is_err(), "a file cut at {cut} of {} loaded", bytes.len());
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..300 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let at = (state >> 33) as usize % bytes.len();
        let mut copy = bytes.to_vec();
        copy[at] ^= 1 << ((state >> 29) & 7);
        survives(&format!("bit flipped at {at}"), &copy);
    }
    // The safetensors header: its length, then JSON whose metadata holds the timeline's header.
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let outer: serde_json::Value = serde_json::from_slice(&bytes[8..8 + length]).unwrap();
    let key = "activation_atlas_timeline";
    let inner: serde_json::Value = serde_json::from_str(outer["__metadata__"][key].as_str().unwrap()).unwrap();
    let with_header = |edit: &dyn Fn(&mut serde_json::Value)| {
        let (mut outer, mut inner) = (outer.clone(), inner.clone());
        edit(&mut inner);
        outer["__metadata__"][key] = serde_json::Value::String(inner.to_string());
        let header = outer.to_string().into_bytes();
        let mut copy = (header.len() as u64).to_le_bytes().to_vec();
        copy.extend_from_slice(&header);
        copy.extend_from_slice(&bytes[8 + length..]);
        copy
    };
    // The paper's layers store no geometry (it follows from the layer): write one whose grid is
    // a single cell, which every point lies outside of but the first.
    let one_cell_grid = |h: &mut serde_json::Value| {
        let layer: activation_atlas::engine::model::Layer = serde_json::from_value(h["layer"].clone()).unwrap();
        let mut geometry = serde_json::to_value(activation_atlas::engine::atlas::LayerGeometry::paper(layer)).unwrap();
        geometry["grid"] = serde_json::json!(1);
        h["geometry"] = geometry;
    };
    let unchanged = with_header(&|_| {});
    assert!(parse_timeline(&unchanged, path).is_ok(), "the header rewritten as it was loads");
    type HeaderEdit<'a> = &'a dyn Fn(&mut serde_json::Value);
    let defects: [(&str, HeaderEdit, &str); 4] = [
        ("one class name", &|h| h["class_names"] = serde_json::json!(["only"]), "outside the class list"),
        ("no frames", &|h| h["frames"] = serde_json::json!([]), "no frames"),
        ("a newer version", &|h| h["version"] = serde_json::json!(2), "newer"),
        ("a grid of one cell", &one_cell_grid, "outside the layer's grid"),
    ];
    for (what, edit, reason) in defects {
        let copy = with_header(edit);
        survives(what, &copy);
        let message = parse_timeline(&copy, path).expect_err(what).to_string();
        assert!(message.contains(reason) && message.contains("crafted.timeline"), "{what}: {message}");
    }
}

#[test]
fn the_cli_builds_a_timeline_and_exports_it() {
    let (data, run_dir, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    synthetic_run(data.path(), run_dir.path());
    let timeline = out.path().join("run.timeline");
    let output = common::run_cli(&[
        "--json".as_ref(),
        "atlas".as_ref(),
        "timeline".as_ref(),
        "--run".as_ref(),
        run_dir.path().as_os_str(),
        "--data".as_ref(),
        data.path().as_os_str(),
        "--out".as_ref(),
        timeline.as_os_str(),
        "--samples".as_ref(),
        "2".as_ref(),
        "--epochs".as_ref(),
        "60".as_ref(),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(envelope["result"]["frames"].as_array().map(Vec::len), Some(3), "{envelope}");
    assert_eq!(envelope["result"]["points"], 72 * 2);

    let gif = out.path().join("run.gif");
    let output = common::run_cli(&[
        "atlas".as_ref(),
        "timeline-export".as_ref(),
        timeline.as_os_str(),
        "--out".as_ref(),
        gif.as_os_str(),
        "--size".as_ref(),
        "64".as_ref(),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    let frames = image::AnimationDecoder::into_frames(
        image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&gif).unwrap())).unwrap(),
    )
    .collect_frames()
    .unwrap();
    assert_eq!(frames.len(), 2 * 5 + 1, "three checkpoints, four pictures between each two");
    let atlas_gif = out.path().join("atlas.gif");
    let output = common::run_cli(&[
        "atlas".as_ref(),
        "timeline-export".as_ref(),
        timeline.as_os_str(),
        "--out".as_ref(),
        atlas_gif.as_os_str(),
        "--atlas-grid".as_ref(),
        "12".as_ref(),
        "--tween".as_ref(),
        "0".as_ref(),
    ]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(std::fs::read(&atlas_gif).unwrap() != std::fs::read(&gif).unwrap());

    // A name the exporter cannot write is refused before any work, with the reason.
    let output = common::run_cli(&[
        "atlas".as_ref(),
        "timeline-export".as_ref(),
        timeline.as_os_str(),
        "--out".as_ref(),
        out.path().join("run.mp4").as_os_str(),
    ]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains(".gif or .png"), "{}", common::text(&output.stderr));
    // A file that is not a timeline is named with the reason.
    let output = common::run_cli(&[
        "atlas".as_ref(),
        "timeline-export".as_ref(),
        gif.as_os_str(),
        "--out".as_ref(),
        out.path().join("x.gif").as_os_str(),
    ]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("run.gif"), "{}", common::text(&output.stderr));
}
