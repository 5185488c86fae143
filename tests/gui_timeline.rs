//! 地图集 → 时间线 in a kittest harness: a timeline made while a run trains is complete when the
//! run ends (a frame per checkpoint); the slider scrubs through the epochs; the animation is
//! exported through the save dialog.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use activation_atlas::app::atlas_panel::{AtlasView, TimelineLook};
use activation_atlas::app::dialogs::{DialogKind, DialogRequest, Picker, picker_from};
use activation_atlas::app::{AppOptions, AtlasApp};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

struct Fixture {
    harness: Harness<'static, AtlasApp>,
    runs: tempfile::TempDir,
    _data: tempfile::TempDir,
    /// What the save dialog answers.
    save_to: Arc<Mutex<Option<PathBuf>>>,
}

/// The app with a generated 3-class data set chosen in 训练.
fn fixture() -> Fixture {
    let data = tempfile::tempdir().unwrap();
    common::write_shape_dataset(data.path(), 3, 16);
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let save_to = Arc::new(Mutex::new(None));
    let answer = save_to.clone();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        DialogKind::ExportTimeline => answer.lock().unwrap().clone(),
        _ => None,
    });
    let options = AppOptions { run_root: Some(runs.path().join("runs")), ..common::app_options(picker) };
    let harness = common::app_on_training_folder(options, [1280.0, 900.0]);
    Fixture { harness, runs, _data: data, save_to }
}

#[test]
fn a_timeline_made_while_the_run_trains_is_complete_when_it_ends_and_scrubs_and_exports() {
    let Fixture { mut harness, runs, _data, save_to } = fixture();
    harness.get_by_label("轮数").set_value_accesskit(6.0);
    harness.get_by_label("批大小").set_value_accesskit(8.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "training starts", 60, |app| app.train().run().running.is_some());

    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("时间线").click();
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().view(), AtlasView::Timeline);
    harness.get_by_label("训练运行的时间线").click();
    harness.run_steps(2);
    let building = harness.state().atlas().timeline().building.as_ref().expect("a timeline job runs");
    assert!(building.follows_run, "started while the run trains, it follows the run");
    assert!(harness.state().train().run().running.is_some(), "the run is still training");

    common::run_until(&mut harness, "the run and its timeline end", 300, |app| {
        app.train().run().running.is_none() && app.atlas().timeline().building.is_none()
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    let run_dir = harness.state().train().run().run_dir.clone().unwrap();
    let epochs: Vec<u32> = activation_atlas::engine::atlas::timeline::run_checkpoints(&run_dir).iter().map(|c| c.0).collect();
    assert!(epochs.len() >= 2, "{epochs:?}");
    let timeline = harness.state().atlas().timeline().timeline.clone().expect("a timeline is shown");
    assert_eq!(timeline.frames.iter().map(|f| f.epoch).collect::<Vec<_>>(), epochs, "a frame for every checkpoint of the run");
    assert!(timeline.frames.iter().all(|f| f.layout.len() == timeline.len() * 2));
    // The file was written beside the runs, and reads back the same.
    let path = harness.state().atlas().timeline().path.clone().unwrap();
    assert!(path.starts_with(runs.path()), "{path:?}");
    assert_eq!(activation_atlas::engine::atlas::timeline::load_timeline(&path).unwrap(), *timeline);

    // It shows the newest frame; the slider goes back to the first.
    let last = epochs.len() - 1;
    assert_eq!(harness.state().atlas().timeline().at, last as f32);
    harness.get_by_label(&format!("轮次 {}", epochs[last]));
    harness.get_by_label("轮次").set_value_accesskit(0.0);
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().timeline().at, 0.0);
    harness.get_by_label(&format!("轮次 {}", epochs[0]));
    // Each frame is listed in the side panel; clicking one goes there.
    harness.get_by_label_contains(&format!("轮次 {} ·", epochs[last])).click();
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().timeline().at, last as f32);

    // A frame is drawn as an atlas of the photos' real patches; 点 switches to points.
    assert_eq!(harness.state().atlas().timeline().look, TimelineLook::Atlas);
    assert!(timeline.has_patches() && timeline.patch(timeline.len() - 1).is_some(), "every point keeps its patch");
    harness.get_by_label("20×20");
    harness.get_by_label("点（按类别着色）").click();
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().timeline().look, TimelineLook::Points);
    assert!(harness.query_by_label("20×20").is_none(), "the grid sizes belong to the atlas look");

    let gif = runs.path().join("timeline.gif");
    *save_to.lock().unwrap() = Some(gif.clone());
    harness.get_by_label("导出动画 (GIF/APNG)…").click();
    common::run_until(&mut harness, "the animation is written", 120, |app| app.messages.notice.is_some() || app.messages.error.is_some());
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&gif).unwrap())).unwrap();
    let pictures = image::AnimationDecoder::into_frames(decoder).collect_frames().unwrap();
    assert_eq!(pictures.len(), (epochs.len() - 1) * 5 + 1, "a picture per checkpoint and four between each two");
}

#[test]
fn a_fine_tuning_has_its_timeline_at_the_first_block_it_trains() {
    let data = common::flowers17_subset(&["daisy", "sunflower", "tulip"], 6, false);
    let runs = tempfile::tempdir().unwrap();
    let folder = data.path().to_path_buf();
    let picker: Picker = picker_from(move |request: DialogRequest| match request.kind {
        DialogKind::PickDataFolder => Some(folder.clone()),
        _ => None,
    });
    let options = AppOptions { run_root: Some(runs.path().join("runs")), ..common::app_options(picker) };
    let mut harness = common::app_on_training_folder(options, [1280.0, 1000.0]);
    harness.get_by_label("预训练的网络（微调最后几层）").click();
    harness.run_steps(2);
    harness.get_by_label("轮数").set_value_accesskit(2.0);
    harness.get_by_label("微调的层数").set_value_accesskit(2.0);
    harness.get_by_label("每隔几轮保存").set_value_accesskit(1.0);
    harness.run_steps(2);
    harness.get_by_label("开始训练").click();
    common::run_until(&mut harness, "the fine-tuning ends", 300, |app| app.train().run().running.is_none() && !app.worker_busy());
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);

    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("时间线").click();
    harness.run_steps(2);
    harness.get_by_label("训练运行的时间线").click();
    common::run_until(&mut harness, "the timeline is made", 300, |app| {
        app.atlas().timeline().building.is_none() && app.atlas().timeline().timeline.is_some()
    });
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
    let timeline = harness.state().atlas().timeline().timeline.clone().unwrap();
    // The blocks before the trained ones do not change: the timeline shows the first that does.
    assert_eq!((timeline.layer.name(), timeline.geometry.architecture.as_str()), ("block15", "efficientnet-lite0"));
    assert_eq!(timeline.frames.iter().map(|f| f.epoch).collect::<Vec<_>>(), [1, 2]);
}
