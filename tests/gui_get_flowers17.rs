//! 下载论文的数据集… in the 训练 panel: with no data set chosen, one click gets flowers17 (here
//! ACTIVATION_ATLAS_FLOWERS17_URL names a file that is not the archive, so it fails with a message
//! that points to 从已下载的文件…); that button takes a generated archive of the official layout,
//! sorts it into class folders under the user's data folder, and makes it the data set. Its own
//! test binary, because it sets environment variables.

mod common;

use activation_atlas::app::dialogs::{DialogKind, DialogRequest, picker_from};
use egui_kittest::kittest::Queryable;

#[test]
fn the_papers_data_set_in_one_click_or_from_a_downloaded_file() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("17flowers.tgz");
    std::fs::write(&archive, common::flowers17_archive(1360)).unwrap();
    // The "download" first finds something that is not the archive.
    let broken = work.path().join("mirror-answer.tgz");
    std::fs::write(&broken, b"<html>not found</html>").unwrap();
    // SAFETY: this binary's only test sets these before any other thread starts.
    unsafe {
        std::env::set_var("ACTIVATION_ATLAS_FLOWERS17_URL", &broken);
        // The generated archive stands in for the published one (whose SHA-256 is pinned).
        std::env::set_var(
            activation_atlas::engine::dataset_get::SHA256_VARIABLE,
            activation_atlas::engine::fsutil::sha256_hex(&std::fs::read(&archive).unwrap()),
        );
        std::env::set_var("XDG_DATA_HOME", work.path().join("data"));
        std::env::set_var("ACTIVATION_ATLAS_CACHE", work.path().join("cache"));
    }
    let chosen = archive.clone();
    let picker = picker_from(move |request: DialogRequest| (request.kind == DialogKind::OpenFlowersArchive).then(|| chosen.clone()));
    let mut harness = common::app_with_model(common::app_options(picker), [1280.0, 900.0]);
    harness.get_by_label("训练").click();
    harness.run_steps(2);

    harness.get_by_label("下载论文的数据集…").click();
    common::run_until(&mut harness, "the failure is shown", 60, |app| app.messages.error.is_some());
    let message = harness.state().messages.error.clone().unwrap();
    assert!(message.contains("无法获取论文的数据集") && message.contains("mirror-answer.tgz"), "{message}");
    harness.get_by_label_contains("从已下载的文件…”选择它");
    assert!(harness.state().train().dataset().data_dir.is_none(), "no data set from a failed download");
    common::dismiss_messages(&mut harness);

    harness.get_by_label("从已下载的文件…").click();
    common::run_until(&mut harness, "the data set is read", 120, |app| app.train().dataset().overview.is_some());
    harness.get_by_label_contains("17 个类别，1360 张图片");
    let expected = work.path().join("data/activation-atlas/datasets/flowers17");
    assert_eq!(harness.state().train().dataset().data_dir.as_deref(), Some(expected.as_path()));
    assert!(expected.join("pansy/image_1360.jpg").is_file());
    assert!(harness.state().messages.error.is_none(), "{:?}", harness.state().messages.error);
}
