//! 数据分布 with the shipped atlas: one legend beside the plots (a class can be hidden, classes
//! searched), hovering a point shows that photo's thumbnail, a click opens the photo in 分类, and
//! the photo open in 分类 is found in the views.

mod common;

use activation_atlas::app::atlas_panel::AtlasView;
use activation_atlas::app::atlas_panel::distribution::drawn_points;
use activation_atlas::app::dialogs::picker_from;
use activation_atlas::app::{AtlasApp, Tab};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn distribution_app() -> Harness<'static, AtlasApp> {
    distribution_app_at([1400.0, 1000.0])
}

fn distribution_app_at(size: [f32; 2]) -> Harness<'static, AtlasApp> {
    let mut harness = common::app_with_model(common::app_options(picker_from(|_| None)), size);
    common::run_until(&mut harness, "the shipped atlas loads", 60, |app| app.atlas().atlas().is_some());
    harness.get_by_label("地图集").click();
    harness.run_steps(2);
    harness.get_by_label("数据分布").click();
    harness.run_steps(3);
    assert_eq!(harness.state().atlas().view(), AtlasView::Distribution);
    harness
}

/// Moves the pointer over the UMAP 2-D plot, row by row, until a point is hovered.
fn hover_a_point(harness: &mut Harness<'static, AtlasApp>) -> (usize, egui::Pos2) {
    let title = harness.get_by_label("UMAP 2-D").rect();
    for row in 0..40 {
        for column in 0..40 {
            let at = title.left_bottom() + egui::vec2(20.0 + column as f32 * 9.0, 20.0 + row as f32 * 7.0);
            harness.event(egui::Event::PointerMoved(at));
            harness.run_steps(1);
            if let Some(image) = harness.state().atlas().distribution().hovered {
                return (image, at);
            }
        }
    }
    panic!("no point under the pointer anywhere on the plot");
}

#[test]
fn hovering_a_point_shows_its_thumbnail_and_a_click_opens_the_photo() {
    let mut harness = distribution_app();
    // One legend, in the side panel, with every class and its photo count.
    harness.get_by_label("雏菊 Daisy (70)");
    let (image, at) = hover_a_point(&mut harness);
    harness.run_steps(2);
    harness.get_by_label("点击在“分类”中打开");
    assert!(harness.state().atlas().distribution().has_thumbnail(image), "the tooltip shows the photo's thumbnail");
    let atlas = harness.state().atlas().atlas().cloned().unwrap();
    let file = atlas.meta.image_paths[image].file_name().unwrap().to_string_lossy().into_owned();
    harness.get_by_label(&file);

    // The shipped atlas names its photos inside flowers17: with that folder chosen, a click opens it.
    harness.state_mut().atlas_mut().builder_mut().folder = Some(common::flowers17());
    for pressed in [true, false] {
        harness.event(egui::Event::PointerButton { pos: at, button: egui::PointerButton::Primary, pressed, modifiers: Default::default() });
    }
    let expected = common::flowers17().join(&atlas.meta.image_paths[image]);
    common::run_until(&mut harness, "the photo opens in 分类", 60, |app| {
        app.classify().image_path() == Some(&expected) && app.classify().opening().is_none()
    });
    assert_eq!(harness.state().tab, Tab::Classify);
    // Back on 数据分布, the photo open in 分类 is the one ringed.
    harness.get_by_label("地图集").click();
    harness.run_steps(3);
    assert_eq!(harness.state().atlas().distribution().open_photo_index(), Some(image));
}

#[test]
fn hidden_and_searched_classes_leave_the_plots() {
    let mut harness = distribution_app();
    // Only daisies, by search: every point the pointer finds is a daisy.
    let daisy = harness.state().atlas().atlas().unwrap().meta.class_names.iter().position(|c| c == "daisy").unwrap();
    harness.get_by_label("搜索类别").focus();
    harness.run_steps(1);
    harness.get_by_label("搜索类别").type_text("daisy");
    harness.run_steps(2);
    let (image, _) = hover_a_point(&mut harness);
    let labels = harness.state().atlas().atlas().unwrap().distribution.as_ref().unwrap().labels.clone();
    assert_eq!(labels[image] as usize, daisy);
    // Hidden by its box, even when searched for.
    harness.get_by_label("雏菊 Daisy (70)").click();
    harness.run_steps(2);
    assert!(harness.state().atlas().distribution().hidden[daisy]);
    harness.event(egui::Event::PointerGone);
    harness.run_steps(2);
    let title = harness.get_by_label("UMAP 2-D").rect();
    for row in 0..20 {
        for column in 0..20 {
            harness
                .event(egui::Event::PointerMoved(title.left_bottom() + egui::vec2(20.0 + column as f32 * 18.0, 20.0 + row as f32 * 14.0)));
            harness.run_steps(1);
            assert_eq!(harness.state().atlas().distribution().hovered, None, "nothing is shown to hover");
        }
    }
}

#[test]
fn the_views_are_framed_by_most_points_with_far_ones_on_the_edge_and_say_what_made_them() {
    let harness = distribution_app_at([1000.0, 700.0]);
    // What made each view, in words with the numbers beside them.
    let said = |harness: &Harness<'static, AtlasApp>, part: &str| {
        harness.query_all_by(|node| node.value().is_some_and(|v| v.contains(part))).count()
    };
    // (Each caption is found on its label and on the view around it.)
    assert!(said(&harness, "最近的 5 张（n_neighbors 5）") >= 2, "both UMAP views say their neighbours");
    assert!(said(&harness, "（困惑度 30），迭代 300 次") >= 2, "both t-SNE views say their perplexity and iterations");

    // The far photos do not set the frame: a few are drawn on its edge, marked, and the rest
    // spread over the plot instead of being squeezed into its middle.
    let app = harness.state();
    let atlas = app.atlas().atlas().cloned().unwrap();
    let framed = drawn_points(atlas.distribution.as_ref().unwrap(), "umap2", app.atlas().paper().yaw);
    let far = framed.outside.iter().filter(|&&o| o).count();
    assert!(far > 0 && far * 8 < framed.points.len(), "{far} of {} photos drawn on the edge", framed.points.len());
    let screen: Vec<egui::Pos2> =
        framed.points.iter().map(|&p| app.atlas().distribution().screen_position("umap2", p).expect("the view was drawn")).collect();
    let (left, right) = screen.iter().fold((f32::MAX, f32::MIN), |(l, r), p| (l.min(p.x), r.max(p.x)));
    let (top, bottom) = screen.iter().fold((f32::MAX, f32::MIN), |(t, b), p| (t.min(p.y), b.max(p.y)));
    for (p, _) in screen.iter().zip(&framed.outside).filter(|(_, o)| **o) {
        let on_edge = [p.x - left, right - p.x, p.y - top, bottom - p.y].iter().any(|d| d.abs() < 0.5);
        assert!(on_edge, "a far photo at {p:?} is drawn on the frame's edge ({left}..{right}, {top}..{bottom})");
    }
    let inside: Vec<&egui::Pos2> = screen.iter().zip(&framed.outside).filter(|(_, o)| !**o).map(|(p, _)| p).collect();
    let middle = |values: &mut Vec<f32>| {
        values.sort_by(f32::total_cmp);
        values[values.len() * 9 / 10] - values[values.len() / 10]
    };
    let width = middle(&mut inside.iter().map(|p| p.x).collect());
    let height = middle(&mut inside.iter().map(|p| p.y).collect());
    assert!(width > 0.4 * (right - left) && height > 0.4 * (bottom - top), "the middle 80% of the photos span {width} x {height} px");
    harness.get_by_label("◇ 空心菱形：离其余照片很远的照片，画在图的边上（视野按大多数点取定，几张远点不再把其余挤成一团）。");
}
