//! Feature visualisation's settings in 解释 and the row of controls that sets them.

use eframe::egui;

use super::VisTarget;
use super::settings::LayerLists;
use super::{class_combo, layer_combo};
use crate::app::i18n::{Lang, T};
use crate::engine::explain::VisConfig;
use crate::engine::model::Layer;

/// Feature visualisation's settings: what to excite (a channel, a class, one class against
/// another) and how long and how to optimise.
pub struct VisSettings {
    pub target: VisTarget,
    pub layer: Layer,
    pub channel: usize,
    pub class: usize,
    pub second_class: usize,
    pub config: VisConfig,
}

impl Default for VisSettings {
    fn default() -> Self {
        VisSettings { target: VisTarget::Class, layer: Layer::CONV2, channel: 0, class: 0, second_class: 1, config: VisConfig::default() }
    }
}

impl VisSettings {
    pub(super) fn options_ui(&mut self, ui: &mut egui::Ui, lang: Lang, class_names: &[String], layers: &LayerLists) {
        let name = |t| match t {
            VisTarget::Channel => T::TargetChannel.get(lang),
            VisTarget::Class => T::TargetClass.get(lang),
            VisTarget::TwoClasses => T::TargetTwoClasses.get(lang),
        };
        let label = ui.label(T::Target.get(lang));
        egui::ComboBox::from_id_salt("vis-target")
            .selected_text(name(self.target))
            .show_ui(ui, |ui| {
                for target in [VisTarget::Channel, VisTarget::Class, VisTarget::TwoClasses] {
                    ui.selectable_value(&mut self.target, target, name(target));
                }
            })
            .response
            .labelled_by(label.id);
        match self.target {
            VisTarget::Channel => {
                layer_combo(ui, "vis-layer", T::Layer.get(lang), &mut self.layer, layers.visualisable());
                let channels = layers.channels_of(self.layer);
                self.channel = self.channel.min(channels.saturating_sub(1));
                let label = ui.label(T::Channel.get(lang));
                ui.add(egui::DragValue::new(&mut self.channel).range(0..=channels.saturating_sub(1))).labelled_by(label.id);
            }
            VisTarget::Class => class_combo(ui, "vis-class", T::Class.get(lang), &mut self.class, class_names),
            VisTarget::TwoClasses => {
                class_combo(ui, "vis-class", T::Class.get(lang), &mut self.class, class_names);
                class_combo(ui, "vis-class-2", T::SecondClass.get(lang), &mut self.second_class, class_names);
            }
        }
        let label = ui.label(T::Steps.get(lang));
        ui.add(egui::DragValue::new(&mut self.config.steps).range(8..=4096)).labelled_by(label.id);
        let label = ui.label(T::LearningRate.get(lang));
        ui.add(egui::DragValue::new(&mut self.config.learning_rate).range(0.001..=1.0).speed(0.005)).labelled_by(label.id);
        let label = ui.label(T::Seed.get(lang));
        ui.add(egui::DragValue::new(&mut self.config.seed)).labelled_by(label.id);
    }
}
