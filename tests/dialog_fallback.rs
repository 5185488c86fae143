//! When the app uses the desktop's file dialogs and when its built-in browser: the decision with
//! PATH, the session bus and the portal back ends varied (made up in temporary folders, not read
//! from this machine), and what an empty answer means by how fast it came.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use activation_atlas::app::dialogs::{DialogAnswer, DialogEnvironment, empty_answer};

/// A folder holding an executable named `program`.
fn bin_with(dir: &Path, program: &str) -> OsString {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(program);
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::join_paths([dir]).unwrap()
}

/// A data folder with one portal back end declaring `interfaces`.
fn data_with_portal(dir: &Path, interfaces: &str) -> String {
    let portals = dir.join("xdg-desktop-portal/portals");
    std::fs::create_dir_all(&portals).unwrap();
    std::fs::write(
        portals.join("gtk.portal"),
        format!("[portal]\nDBusName=org.freedesktop.impl.portal.desktop.gtk\nInterfaces={interfaces}\n"),
    )
    .unwrap();
    dir.to_string_lossy().into_owned()
}

#[test]
fn the_desktop_dialogs_are_used_only_where_zenity_or_a_portal_file_chooser_can_answer() {
    let root = tempfile::tempdir().unwrap();
    let with_zenity = bin_with(&root.path().join("bin-zenity"), "zenity");
    let without_zenity = bin_with(&root.path().join("bin-other"), "kdialog");
    let chooser =
        data_with_portal(&root.path().join("share-chooser"), "org.freedesktop.impl.portal.FileChooser;org.freedesktop.impl.portal.Print");
    let no_chooser = data_with_portal(&root.path().join("share-print"), "org.freedesktop.impl.portal.Print");
    let empty_data = root.path().join("share-empty").to_string_lossy().into_owned();
    let runtime_with_bus = root.path().join("run");
    std::fs::create_dir_all(&runtime_with_bus).unwrap();
    std::fs::write(runtime_with_bus.join("bus"), b"").unwrap();
    let bus = Some(OsString::from("unix:path=/run/user/1000/bus"));

    let base = DialogEnvironment { path: Some(without_zenity.clone()), data_dirs: Some(empty_data.clone()), ..Default::default() };
    let cases: Vec<(&str, DialogEnvironment, bool)> = vec![
        ("nothing: no zenity, no bus, no portal", base.clone(), false),
        ("no PATH at all", DialogEnvironment { path: None, ..base.clone() }, false),
        ("zenity on the PATH", DialogEnvironment { path: Some(with_zenity.clone()), ..base.clone() }, true),
        (
            "zenity, but the built-in browser forced",
            DialogEnvironment { path: Some(with_zenity.clone()), forced_builtin: true, ..base.clone() },
            false,
        ),
        (
            "a portal file chooser and a bus address",
            DialogEnvironment { session_bus_address: bus.clone(), data_dirs: Some(chooser.clone()), ..base.clone() },
            true,
        ),
        (
            "a portal file chooser and the runtime folder's bus socket",
            DialogEnvironment { runtime_dir: Some(runtime_with_bus.clone()), data_dirs: Some(chooser.clone()), ..base.clone() },
            true,
        ),
        (
            "a portal file chooser but no session bus",
            DialogEnvironment { runtime_dir: Some(root.path().join("no-run")), data_dirs: Some(chooser.clone()), ..base.clone() },
            false,
        ),
        (
            "a bus but a portal back end without the file chooser",
            DialogEnvironment { session_bus_address: bus.clone(), data_dirs: Some(no_chooser.clone()), ..base.clone() },
            false,
        ),
        (
            "the chooser in the second of two data folders",
            DialogEnvironment { session_bus_address: bus.clone(), data_dirs: Some(format!("{no_chooser}:{chooser}")), ..base.clone() },
            true,
        ),
        (
            "a portal file chooser, a bus, but forced built-in",
            DialogEnvironment { session_bus_address: bus, data_dirs: Some(chooser), forced_builtin: true, ..base },
            false,
        ),
    ];
    for (what, environment, native) in cases {
        assert_eq!(environment.has_native_dialogs(), native, "{what}");
    }
}

#[test]
fn an_empty_answer_faster_than_a_person_could_cancel_opens_the_built_in_browser() {
    // A failing portal or zenity answers "nothing" at once; a person takes longer to cancel.
    assert_eq!(empty_answer(Duration::from_millis(20)), DialogAnswer::Unavailable);
    assert_eq!(empty_answer(Duration::from_millis(250)), DialogAnswer::Unavailable);
    assert_eq!(empty_answer(Duration::from_millis(400)), DialogAnswer::Cancelled);
    assert_eq!(empty_answer(Duration::from_secs(5)), DialogAnswer::Cancelled);
}
