//! Selecting photos with the shipped atlas: a lasso drawn over 数据分布's UMAP view selects the
//! points inside it (and not those in its notch), the list is exported as CSV, the files copied
//! into class folders; a box drawn on the map selects the photos of the vectors inside it, the
//! photos with the most of them first.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use activation_atlas::app::atlas_panel::distribution::drawn_points;
use activation_atlas::app::atlas_panel::{AtlasView, SelectTool};
use activation_atlas::app::dialogs::{DialogKind, picker_from};
use activation_atlas::app::{AtlasApp, Tab};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Pixels from an outline within which a point may fall either way (the pointer is sampled).
const EDGE_SLACK: f32 = 4.0;

fn atlas_app(answers: Vec<(DialogKind, PathBuf)>) -> Harness<'static, AtlasApp> {
    let picker = picker_from(move |request| answers.iter().find(|(k, _)| *k == request.kind).map(|(_, p)| p.clone()));
    let mut harness = common::app_with_model(common::app_options(picker), [1400.0, 1000.0]);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness
}

/// Presses at the first point, drags through the others (in small steps), releases at the last.
fn drag_through(harness: &mut Harness<'static, AtlasApp>, path: &[egui::Pos2]) {
    let button =
        |pos, pressed| egui::Event::PointerButton { pos, button: egui::PointerButton::Primary, pressed, modifiers: Default::default() };
    harness.event(egui::Event::PointerMoved(path[0]));
    harness.run_steps(1);
    harness.event(button(path[0], true));
    harness.run_steps(1);
    for pair in path.windows(2) {
        // Steps of 25 points: a drag is recognised only after the first, so an outline that
        // started there instead of where the button went down would miss its first corner.
        let steps = (pair[0].distance(pair[1]) / 25.0).ceil().max(1.0) as usize;
        for step in 1..=steps {
            harness.event(egui::Event::PointerMoved(pair[0].lerp(pair[1], step as f32 / steps as f32)));
            harness.run_steps(1);
        }
    }
    harness.event(button(*path.last().unwrap(), false));
    harness.run_steps(2);
}

fn inside(polygon: &[egui::Pos2], p: egui::Pos2) -> bool {
    let mut inside = false;
    for (i, a) in polygon.iter().enumerate() {
        let b = polygon[(i + 1) % polygon.len()];
        if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y) {
            inside = !inside;
        }
    }
    inside
}

fn distance_to_outline(polygon: &[egui::Pos2], p: egui::Pos2) -> f32 {
    (0..polygon.len())
        .map(|i| {
            let (a, b) = (polygon[i], polygon[(i + 1) % polygon.len()]);
            let t = ((p - a).dot(b - a) / (b - a).length_sq()).clamp(0.0, 1.0);
            p.distance(a + (b - a) * t)
        })
        .fold(f32::INFINITY, f32::min)
}

#[test]
fn a_lasso_selects_the_points_inside_it_and_they_are_exported_and_copied() {
    let dir = tempfile::tempdir().unwrap();
    let (list, copies) = (dir.path().join("chosen.csv"), dir.path().join("copies"));
    let mut harness = atlas_app(vec![(DialogKind::ExportSelection, list.clone()), (DialogKind::PickCopyFolder, copies.clone())]);
    harness.get_by_label("数据分布").click();
    harness.run_steps(3);
    assert_eq!(harness.state().atlas().view(), AtlasView::Distribution);
    harness.get_by_label("套索").click();
    harness.run_steps(2);
    assert_eq!(harness.state().atlas().selection().tool, SelectTool::Lasso);

    // A chevron over the UMAP 2-D plot: its notch (between the two lower arms) is outside.
    let origin = harness.get_by_label("UMAP 2-D").rect().left_bottom();
    let lasso: Vec<egui::Pos2> = [(30.0, 30.0), (420.0, 30.0), (420.0, 380.0), (225.0, 150.0), (30.0, 380.0)]
        .iter()
        .map(|&(x, y)| origin + egui::vec2(x, y))
        .collect();
    let mut closed = lasso.clone();
    closed.push(lasso[0]);
    drag_through(&mut harness, &closed);

    let app = harness.state();
    let atlas = app.atlas().atlas().cloned().unwrap();
    let points = drawn_points(atlas.distribution.as_ref().unwrap(), "umap2", app.atlas().paper().yaw).points;
    let screen: Vec<egui::Pos2> =
        points.iter().map(|&p| app.atlas().distribution().screen_position("umap2", p).expect("the view was drawn")).collect();
    let selected: BTreeSet<usize> = app.atlas().selection().images.iter().copied().collect();
    let (mut clearly_in, mut in_notch) = (0, 0);
    let notch = [lasso[2], lasso[3], lasso[4]];
    for (image, &p) in screen.iter().enumerate() {
        if distance_to_outline(&lasso, p) <= EDGE_SLACK {
            continue;
        }
        let expected = inside(&lasso, p);
        assert_eq!(selected.contains(&image), expected, "image {image} at {p:?}");
        clearly_in += usize::from(expected);
        in_notch += usize::from(inside(&notch, p));
    }
    assert!(clearly_in >= 20, "the lasso covers many photos ({clearly_in})");
    assert!(in_notch >= 5, "photos in the notch were left out ({in_notch}), so this was no box");
    assert!(selected.len() < screen.len());
    let selected_count = selected.len();
    harness.get_by_label(&format!("已选 {selected_count} 张照片"));

    // The list, as CSV: a header and one row per selected photo, by its index.
    harness.get_by_label("导出列表（CSV/JSON）…").click();
    common::run_until(&mut harness, "the list is written", 60, |_| list.is_file());
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(text.starts_with("index,class,path,file,umap_x,umap_y\n"));
    let listed: BTreeSet<usize> = text.lines().skip(1).map(|line| line.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(listed, selected);

    // The files, copied into class folders (the shipped atlas names them inside flowers17).
    harness.state_mut().atlas_mut().builder_mut().folder = Some(common::flowers17());
    harness.get_by_label("复制照片到文件夹…").click();
    common::run_until(&mut harness, "the copies are made", 120, |app| {
        app.atlas().selection().copying.is_none() && app.messages.notice.as_deref().is_some_and(|n| n.contains("已复制"))
    });
    let copied: usize = std::fs::read_dir(&copies).unwrap().map(|class| std::fs::read_dir(class.unwrap().path()).unwrap().count()).sum();
    assert_eq!(copied, selected_count);
    for image in selected.iter().take(5) {
        let relative = &atlas.meta.image_paths[*image];
        let copy = copies.join(relative);
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(common::flowers17().join(relative)).unwrap());
    }

    // A photo of the grid opens in 分类 and 解释.
    let first = *selected.iter().next().unwrap();
    let name = atlas.meta.image_paths[first].file_name().unwrap().to_string_lossy().into_owned();
    harness.get_by_label("数据分布").click();
    harness.run_steps(2);
    harness.get_by_label(&name).click();
    let expected = common::flowers17().join(&atlas.meta.image_paths[first]);
    common::run_until(&mut harness, "the photo opens", 60, |app| app.classify().image_path() == Some(&expected));
    assert_eq!(harness.state().tab, Tab::Explain);
}

#[test]
fn a_box_on_the_map_selects_the_photos_of_the_vectors_inside_it() {
    let mut harness = atlas_app(Vec::new());
    harness.get_by_label("框选").click();
    harness.run_steps(2);
    // The box is chosen in the layout's own coordinates: from the 30th to the 60th percentile of
    // the vectors' x and y, its corners put on screen where the map drew those points.
    let atlas = harness.state().atlas().atlas().cloned().unwrap();
    let quantile = |axis: usize, q: f64| {
        let mut values: Vec<f32> = atlas.layout.chunks_exact(2).map(|p| p[axis]).collect();
        values.sort_by(f32::total_cmp);
        values[((values.len() - 1) as f64 * q) as usize]
    };
    let (low, high) = ([quantile(0, 0.3), quantile(1, 0.3)], [quantile(0, 0.6), quantile(1, 0.6)]);
    let map = harness.state().atlas().map();
    let (a, b) = (map.screen_position(low).expect("the map was drawn"), map.screen_position(high).unwrap());
    drag_through(&mut harness, &[a, egui::pos2(b.x, a.y), b]);
    let app = harness.state();
    assert_eq!(app.atlas().selection().last_outline.as_ref().map(|(view, _)| *view), Some("map"));
    // Each vector by its own position; those within a hair of the box's edges (screen rounding)
    // may go either way and are left out of both sides.
    let slack = 1e-4;
    let inside_by = |p: &[f32], margin: f32| {
        (low[0] + margin..=high[0] - margin).contains(&p[0]) && (low[1] + margin..=high[1] - margin).contains(&p[1])
    };
    let inside: Vec<usize> = atlas.layout.chunks_exact(2).enumerate().filter(|(_, p)| inside_by(p, 0.0)).map(|(v, _)| v).collect();
    let clearly_in: Vec<usize> = atlas.layout.chunks_exact(2).enumerate().filter(|(_, p)| inside_by(p, slack)).map(|(v, _)| v).collect();
    let near_edge: BTreeSet<usize> =
        atlas.layout.chunks_exact(2).enumerate().filter(|(_, p)| inside_by(p, -slack) && !inside_by(p, slack)).map(|(v, _)| v).collect();
    let marked: BTreeSet<usize> = app.atlas().selection().vectors.iter().copied().collect();
    assert!(clearly_in.len() >= 100, "the box holds many vectors ({})", clearly_in.len());
    for v in 0..atlas.layout.len() / 2 {
        if !near_edge.contains(&v) {
            assert_eq!(marked.contains(&v), clearly_in.contains(&v), "vector {v} at {:?}", &atlas.layout[2 * v..2 * v + 2]);
        }
    }
    let inside: Vec<usize> = if near_edge.is_empty() { inside } else { app.atlas().selection().vectors.clone() };
    let expected: BTreeSet<usize> = inside.iter().map(|&v| atlas.collected.image[v] as usize).collect();
    let selected: BTreeSet<usize> = app.atlas().selection().images.iter().copied().collect();
    assert!(!expected.is_empty() && expected.len() < atlas.meta.image_paths.len());
    assert_eq!(selected, expected);
    // The map marks the vectors inside, not the photos' others; the grid puts first the photos
    // with the most vectors inside.
    assert_eq!(app.atlas().selection().vectors, inside);
    let count = |image: usize| inside.iter().filter(|&&v| atlas.collected.image[v] as usize == image).count();
    let counts: Vec<usize> = app.atlas().selection().images.iter().map(|&i| count(i)).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most vectors inside first: {counts:?}");
}
