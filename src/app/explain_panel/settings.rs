//! The method settings of 解释: which method, class and layer, and each method's parameters,
//! with the row of controls that sets them.

use eframe::egui;

use super::{Method, layer_combo};
use crate::app::i18n::{Lang, T};
use crate::engine::attribution::{AttributionMethod, IgBaseline};
use crate::engine::explain::MapNormalisation;
use crate::engine::model::Layer;

/// The settings of the methods: which one, for which class, at which layer, and each method's
/// own parameters.
pub struct MethodSettings {
    pub method: Method,
    /// None: the predicted class.
    pub class: Option<usize>,
    pub feature_layer: Layer,
    pub normalisation: MapNormalisation,
    pub filter_layer: Layer,
    pub gradcam_layer: Layer,
    /// The method of the 梯度归因 tab (saliency, SmoothGrad, Integrated Gradients, Guided Backprop).
    pub gradient_method: AttributionMethod,
    /// The method of the CAM tab.
    pub cam_method: AttributionMethod,
    pub samples: usize,
    pub ig_steps: usize,
    pub ig_baseline: IgBaseline,
    pub patch: usize,
    pub stride: usize,
    pub opacity: f32,
    /// The layers of the model in use the pickers offer.
    pub layers: LayerLists,
}

/// A network's layers as the pickers list them.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerLists {
    pub all: Vec<Layer>,
    /// Those with a spatial grid: feature maps as pictures, class activation maps.
    pub spatial: Vec<Layer>,
    /// Side of the network's input, as its pictures are captioned.
    pub input_size: i64,
    /// Channels (or units) of each of `all`, for feature visualisation's channel.
    pub channels: Vec<i64>,
}

impl LayerLists {
    /// The layers whose channels feature visualisation can excite: all but the logits.
    pub fn visualisable(&self) -> &[Layer] {
        &self.all[..self.all.len().saturating_sub(1)]
    }

    pub fn channels_of(&self, layer: Layer) -> usize {
        self.all.iter().position(|&l| l == layer).and_then(|i| self.channels.get(i)).map_or(1, |&c| c.max(1) as usize)
    }
}

impl Default for LayerLists {
    fn default() -> Self {
        // The paper's network before a model is known (its class count does not change these).
        let spec = crate::engine::model::paper_spec(17);
        LayerLists {
            all: Layer::ALL.to_vec(),
            spatial: Layer::CONV.to_vec(),
            input_size: spec.input_size,
            channels: spec.layers.iter().map(|layer| layer.channels()).collect(),
        }
    }
}

impl Default for MethodSettings {
    fn default() -> Self {
        MethodSettings {
            method: Method::GradCam,
            class: None,
            feature_layer: Layer::CONV2,
            normalisation: MapNormalisation::PerChannel,
            filter_layer: Layer::CONV1,
            gradcam_layer: Layer::CONV4,
            gradient_method: AttributionMethod::Saliency,
            cam_method: AttributionMethod::GradCam,
            samples: 16,
            ig_steps: 64,
            ig_baseline: IgBaseline::Black,
            patch: 20,
            stride: 5,
            opacity: 0.6,
            layers: LayerLists::default(),
        }
    }
}

impl MethodSettings {
    /// A new model's layers; a chosen layer it lacks becomes the usual choice for it: the middle
    /// of its grid layers for feature maps, the last for class activation maps.
    pub(super) fn use_layers(&mut self, layers: LayerLists) {
        if layers == self.layers {
            return;
        }
        let paper = layers == LayerLists::default();
        if !layers.all.contains(&self.feature_layer) {
            self.feature_layer =
                if paper { Layer::CONV2 } else { layers.spatial.get(layers.spatial.len() / 2).copied().unwrap_or(Layer::CONV2) };
        }
        // The first grid layer sees the picture: its kernels show in colour.
        if !layers.spatial.contains(&self.filter_layer) {
            self.filter_layer = layers.spatial.first().copied().unwrap_or(Layer::CONV1);
        }
        if !layers.spatial.contains(&self.gradcam_layer) {
            self.gradcam_layer = layers.spatial.last().copied().unwrap_or(Layer::CONV4);
        }
        self.layers = layers;
    }

    pub(super) fn feature_map_options_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        layer_combo(ui, "feature-layer", T::Layer.get(lang), &mut self.feature_layer, &self.layers.all);
        let name = |n| match n {
            MapNormalisation::PerChannel => T::PerChannel.get(lang),
            MapNormalisation::PerLayer => T::PerLayer.get(lang),
            MapNormalisation::Global => T::Global.get(lang),
        };
        let label = ui.label(T::Normalisation.get(lang));
        egui::ComboBox::from_id_salt("normalisation")
            .selected_text(name(self.normalisation))
            .show_ui(ui, |ui| {
                for choice in [MapNormalisation::PerChannel, MapNormalisation::PerLayer, MapNormalisation::Global] {
                    ui.selectable_value(&mut self.normalisation, choice, name(choice));
                }
            })
            .response
            .labelled_by(label.id);
    }

    pub(super) fn heat_options_ui(&mut self, ui: &mut egui::Ui, lang: Lang, class_names: &[String]) {
        let label = ui.label(T::Class.get(lang));
        let selected =
            self.class.and_then(|c| class_names.get(c).cloned()).unwrap_or_else(|| T::PredictedClassOption.get(lang).to_string());
        egui::ComboBox::from_id_salt("explain-class")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.class, None, T::PredictedClassOption.get(lang));
                for (index, name) in class_names.iter().enumerate() {
                    ui.selectable_value(&mut self.class, Some(index), name);
                }
            })
            .response
            .labelled_by(label.id);
        let method_combo = |ui: &mut egui::Ui, id: &str, value: &mut AttributionMethod, methods: &[AttributionMethod]| {
            let label = ui.label(T::AttributionMethodLabel.get(lang));
            egui::ComboBox::from_id_salt(id)
                .selected_text(value.display_name())
                .show_ui(ui, |ui| {
                    for &method in methods {
                        ui.selectable_value(value, method, method.display_name());
                    }
                })
                .response
                .labelled_by(label.id);
        };
        match self.method {
            Method::GradCam => {
                method_combo(ui, "cam-method", &mut self.cam_method, &AttributionMethod::CAM);
                layer_combo(ui, "gradcam-layer", T::Layer.get(lang), &mut self.gradcam_layer, &self.layers.spatial);
            }
            Method::Saliency => {
                method_combo(ui, "gradient-method", &mut self.gradient_method, &AttributionMethod::GRADIENT);
                match self.gradient_method {
                    AttributionMethod::SmoothGrad => {
                        let label = ui.label(T::Samples.get(lang));
                        ui.add(egui::DragValue::new(&mut self.samples).range(2..=64)).labelled_by(label.id);
                    }
                    AttributionMethod::IntegratedGradients => {
                        let label = ui.label(T::IgSteps.get(lang));
                        ui.add(egui::DragValue::new(&mut self.ig_steps).range(4..=512)).labelled_by(label.id);
                        let name = |baseline| match baseline {
                            IgBaseline::Black => T::BaselineBlack.get(lang),
                            IgBaseline::Blurred => T::BaselineBlurred.get(lang),
                            IgBaseline::Noise => T::BaselineNoise.get(lang),
                        };
                        let label = ui.label(T::IgBaselineLabel.get(lang));
                        egui::ComboBox::from_id_salt("ig-baseline")
                            .selected_text(name(self.ig_baseline))
                            .show_ui(ui, |ui| {
                                for baseline in IgBaseline::ALL {
                                    ui.selectable_value(&mut self.ig_baseline, baseline, name(baseline));
                                }
                            })
                            .response
                            .labelled_by(label.id);
                    }
                    _ => {}
                }
            }
            _ => {
                let label = ui.label(T::PatchSize.get(lang));
                ui.add(egui::DragValue::new(&mut self.patch).range(4..=60)).labelled_by(label.id);
                let label = ui.label(T::Stride.get(lang));
                ui.add(egui::DragValue::new(&mut self.stride).range(1..=30)).labelled_by(label.id);
            }
        }
        let label = ui.label(T::Opacity.get(lang));
        ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0)).labelled_by(label.id);
    }
}
