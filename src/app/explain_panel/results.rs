//! What 解释 has computed and shows: a result per method (pictures, heat maps with their
//! faithfulness), the sanity check, feature visualisation's objective curve.

use eframe::egui;
use egui_plot::{Line, Plot, PlotPoints};

use super::{ExplainPanel, Method};
use crate::app::i18n::{self, Lang, T};
use crate::engine::attribution::AttributionMethod;
use crate::engine::explain::LayerSummary;
use crate::engine::faithfulness::{FaithfulnessReport, SanityReport};
use crate::engine::model::Layer;
use crate::worker::{ExplainRequest, JobId, Picture};

/// A result's caption as data, worded when drawn: switching the language rewords it.
#[derive(Clone, Debug, PartialEq)]
pub enum Caption {
    None,
    FeatureMaps {
        layer: Layer,
        channels: usize,
    },
    PaperMap {
        channel: usize,
    },
    Filters {
        layer: Layer,
    },
    /// A heat map: its method, layer (CAMs), class, and the class's probability (occlusion).
    Map {
        method: AttributionMethod,
        layer: Option<Layer>,
        class: usize,
        base_probability: Option<f32>,
    },
}

impl Caption {
    /// The caption in `lang`, with classes named as `class_names` name them.
    pub fn text(&self, lang: Lang, class_names: &[String]) -> String {
        let name = |class: usize| class_names.get(class).cloned().unwrap_or_else(|| class.to_string());
        match self {
            Caption::None => String::new(),
            Caption::FeatureMaps { layer, channels } => i18n::feature_maps_caption(lang, layer.name(), *channels),
            Caption::PaperMap { channel } => i18n::paper_map_caption(lang, *channel),
            Caption::Filters { layer } => layer.name().to_string(),
            Caption::Map { method, layer: Some(layer), class, .. } => format!("{} · {layer} · {}", method.display_name(), name(*class)),
            Caption::Map { class, base_probability: Some(p), .. } => i18n::occlusion_caption(lang, &name(*class), *p),
            Caption::Map { method, class, .. } => format!("{} · {}", method.display_name(), name(*class)),
        }
    }
}

/// What is on screen for a method.
pub enum Shown {
    Summary(Vec<LayerSummary>),
    Picture {
        texture: egui::TextureHandle,
        picture: Picture,
        caption: Caption,
    },
    Heat {
        photo: egui::TextureHandle,
        heat: egui::TextureHandle,
        photo_picture: Picture,
        heat_picture: Picture,
        caption: Caption,
        all_zero: bool,
        method: AttributionMethod,
        class: usize,
        faithfulness: Option<Box<FaithfulnessReport>>,
    },
}

/// A sanity check's result, for the map it checked.
pub struct SanityShown {
    pub method: AttributionMethod,
    pub class: usize,
    pub report: SanityReport,
}

/// What was computed: a result per method, the sanity check of the map on screen, and the job
/// running now.
#[derive(Default)]
pub struct ExplainResults {
    /// The job computing `method`, while it runs.
    pub running: Option<(JobId, Method)>,
    /// The request of the running (or last) job.
    pub(super) last_request: Option<ExplainRequest>,
    /// A request that failed: quick views do not retry it by themselves every frame.
    pub(super) failed_request: Option<ExplainRequest>,
    pub objective_values: Vec<[f64; 2]>,
    pub shown: Vec<(Method, Shown)>,
    pub sanity: Option<SanityShown>,
}

impl ExplainPanel {
    /// Feature visualisation: the picture beside the objective's climb.
    fn objective_ui(&self, ui: &mut egui::Ui, lang: Lang) {
        let panel = self;
        ui.horizontal(|ui| {
            if let Some(Shown::Picture { texture, .. }) = panel.result_for(Method::Visualize) {
                ui.add(egui::Image::new((texture.id(), egui::vec2(320.0, 320.0))).alt_text(T::ExplainVisualize.get(lang)));
            }
            ui.vertical(|ui| {
                ui.label(T::Objective.get(lang));
                Plot::new("objective").width(360.0).height(300.0).show(ui, |plot| {
                    plot.line(Line::new(T::Objective.get(lang), PlotPoints::from(panel.results.objective_values.clone())));
                });
            });
        });
    }

    pub(super) fn result_ui(&self, ui: &mut egui::Ui, lang: Lang, class_names: &[String]) {
        let panel = self;
        if panel.settings.method == Method::Visualize && !panel.results.objective_values.is_empty() {
            self.objective_ui(ui, lang);
            return;
        }
        let Some(shown) = panel.result_for(panel.settings.method) else { return };
        match shown {
            Shown::Summary(rows) => {
                egui::Grid::new("summary").striped(true).num_columns(5).show(ui, |ui| {
                    for header in [T::Layer, T::Class, T::OutputShape, T::Parameters, T::ReceptiveField] {
                        ui.strong(if header == T::Class { "" } else { header.get(lang) });
                    }
                    ui.end_row();
                    for row in rows {
                        ui.label(row.layer.name());
                        ui.label(super::i18n::layer_kind(lang, row.kind));
                        ui.label(format!("{:?}", row.output_shape));
                        ui.label(row.parameters.to_string());
                        ui.label(format!("{0}×{0}", row.receptive_field));
                        ui.end_row();
                    }
                    ui.strong(T::Total.get(lang));
                    ui.label("");
                    ui.label("");
                    ui.strong(rows.iter().map(|r| r.parameters).sum::<i64>().to_string());
                    ui.end_row();
                });
            }
            Shown::Picture { texture, caption, .. } => {
                let caption = caption.text(lang, class_names);
                if panel.settings.method == Method::PaperMap {
                    ui.label(T::PaperMapNote.get(lang));
                }
                if !caption.is_empty() {
                    ui.label(caption);
                }
                let size = texture.size_vec2();
                let fit = (ui.available_width() / size.x).min(1200.0 / size.x.max(size.y)).max(1.0).floor().max(1.0);
                ui.add(egui::Image::new((texture.id(), size * fit)).alt_text(panel.settings.method.label().get(lang)));
            }
            Shown::Heat { .. } => self.heat_ui(ui, lang, class_names, shown),
        }
    }

    /// A class activation or attribution map: over the photo, the photo and the map apart, and how
    /// far to believe it (faithfulness, sanity) beside them where the window is wide enough for
    /// all of it, else under them; the big picture shrinks before anything is cut off.
    fn heat_ui(&self, ui: &mut egui::Ui, lang: Lang, class_names: &[String], shown: &Shown) {
        let Shown::Heat { photo, heat, caption, all_zero, faithfulness, class, .. } = shown else { return };
        let panel = self;
        ui.label(caption.text(lang, class_names));
        let class_name = class_names.get(*class).cloned().unwrap_or_else(|| class.to_string());
        if *all_zero {
            ui.colored_label(ui.visuals().warn_fg_color, T::NoPositiveEvidence.get(lang));
        }
        let full = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        let gap = ui.spacing().item_spacing.x;
        let width = ui.available_width();
        let main = (width - SMALL_PICTURE - FAITHFULNESS_WIDTH - 2.0 * gap).clamp(240.0, 400.0);
        let beside = width - main - SMALL_PICTURE - 2.0 * gap >= FAITHFULNESS_WIDTH;
        let believe_ui = |ui: &mut egui::Ui| {
            ui.set_max_width(FAITHFULNESS_WIDTH);
            if let Some(report) = faithfulness {
                faithfulness_ui(ui, lang, report, &class_name);
            }
            if let Some(sanity) = &panel.results.sanity
                && let Some(Shown::Heat { method, class, .. }) = panel.result_for(panel.settings.method)
                && sanity.method == *method
                && sanity.class == *class
            {
                sanity_ui(ui, lang, &sanity.report);
            }
        };
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(main, main), egui::Sense::hover());
            ui.painter().image(photo.id(), rect, full, egui::Color32::WHITE);
            if !*all_zero {
                let tint = egui::Color32::from_white_alpha((panel.settings.opacity * 255.0) as u8);
                ui.painter().image(heat.id(), rect, full, tint);
            }
            ui.vertical(|ui| {
                let small = egui::Vec2::splat(SMALL_PICTURE);
                let caption = i18n::as_network_sees(lang, panel.settings.layers.input_size);
                ui.add(egui::Image::new((photo.id(), small)).alt_text(&caption));
                ui.small(caption);
                // The map alone, on black.
                let (rect, _) = ui.allocate_exact_size(small, egui::Sense::hover());
                ui.painter().rect_filled(rect, 0.0, egui::Color32::BLACK);
                if !*all_zero {
                    ui.painter().image(heat.id(), rect, full, egui::Color32::WHITE);
                }
                ui.small(T::MapAlone.get(lang));
            });
            if beside {
                ui.vertical(believe_ui);
            }
        });
        if !beside {
            ui.add_space(8.0);
            ui.vertical(believe_ui);
        }
    }
}

/// Side of the photo and the map shown apart, beside a map.
const SMALL_PICTURE: f32 = 190.0;
/// Width of the faithfulness part: two curves and the table.
const FAITHFULNESS_WIDTH: f32 = 480.0;

/// Deletion and insertion curves of the map beside a random and a Sobel map, a table of the
/// numbers, and one plain sentence.
fn faithfulness_ui(ui: &mut egui::Ui, lang: Lang, report: &FaithfulnessReport, class: &str) {
    ui.strong(T::FaithfulnessHeading.get(lang));
    ui.label(i18n::deletion_sentence(
        lang,
        class,
        report.probability,
        report.map.probability_after_deleting(0.1),
        report.random.probability_after_deleting(0.1),
    ));
    // One colour per map in both plots and the table, so no legend covers the curves.
    let maps = [
        (T::FaithfulnessMap, &report.map, egui::Color32::from_rgb(255, 110, 60)),
        (T::FaithfulnessRandom, &report.random, egui::Color32::from_rgb(120, 160, 255)),
        (T::FaithfulnessSobel, &report.sobel, egui::Color32::from_rgb(140, 210, 110)),
    ];
    let curve = |values: &[f32]| -> PlotPoints<'static> {
        let steps = (values.len() - 1).max(1) as f64;
        values.iter().enumerate().map(|(k, p)| [k as f64 / steps, f64::from(*p)]).collect()
    };
    type Pick = fn(&crate::engine::faithfulness::Faithfulness) -> &[f32];
    let plots: [(T, &str, Pick); 2] =
        [(T::DeletionCurve, "deletion-curves", |f| &f.deletion), (T::InsertionCurve, "insertion-curves", |f| &f.insertion)];
    ui.horizontal(|ui| {
        for (title, id, pick) in plots {
            ui.vertical(|ui| {
                ui.label(title.get(lang));
                Plot::new(id)
                    .width(((FAITHFULNESS_WIDTH - 20.0) / 2.0).min((ui.available_width() - 10.0).max(120.0)))
                    .height(150.0)
                    .include_x(0.0)
                    .include_x(1.0)
                    .include_y(0.0)
                    .include_y(1.05)
                    .x_axis_label(T::FractionOfPixels.get(lang))
                    .y_axis_label(T::ClassProbability.get(lang))
                    .allow_scroll(false)
                    .allow_drag(false)
                    .show(ui, |plot| {
                        for (name, faithfulness, colour) in maps {
                            plot.line(Line::new(name.get(lang), curve(pick(faithfulness))).color(colour).width(2.0));
                        }
                    });
            });
        }
    });
    egui::Grid::new("faithfulness-table").striped(true).num_columns(5).show(ui, |ui| {
        for header in [T::FaithfulnessMapColumn, T::DeletionAuc, T::InsertionAuc, T::AverageDrop, T::ConfidenceIncreased] {
            ui.strong(header.get(lang));
        }
        ui.end_row();
        for (name, faithfulness, colour) in maps {
            ui.colored_label(colour, name.get(lang));
            ui.label(format!("{:.3}", faithfulness.deletion_auc));
            ui.label(format!("{:.3}", faithfulness.insertion_auc));
            ui.label(format!("{:.1}%", faithfulness.average_drop * 100.0));
            ui.label(if faithfulness.increased { T::Yes.get(lang) } else { T::No.get(lang) });
            ui.end_row();
        }
    });
}

fn sanity_ui(ui: &mut egui::Ui, lang: Lang, report: &SanityReport) {
    ui.separator();
    ui.label(egui::RichText::new(T::SanityHeading.get(lang)).strong());
    egui::Grid::new("sanity-table").striped(true).num_columns(3).show(ui, |ui| {
        for header in [T::SanityRandomisedDownTo.get(lang), "Spearman ρ", "SSIM"] {
            ui.strong(header);
        }
        ui.end_row();
        for stage in &report.stages {
            ui.label(stage.randomised_down_to.name());
            ui.label(format!("{:.3}", stage.spearman));
            ui.label(format!("{:.3}", stage.ssim));
            ui.end_row();
        }
    });
    if report.insensitive {
        ui.colored_label(ui.visuals().warn_fg_color, T::SanityInsensitive.get(lang));
    } else {
        ui.label(T::SanitySensitive.get(lang));
    }
}
