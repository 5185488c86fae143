//! 训练's recipe form: the values it edits ([`TrainForm`]), where a run starts from, and its rows.

use std::path::Path;

use eframe::egui;

use super::i18n::{Lang, T};
use crate::engine::train::{LrSchedule, TrainConfig};
use crate::worker::ModelInfo;

/// The form's values; turned into a [`TrainConfig`] on start.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainForm {
    /// The recipe as the form edits it; its defaults are `TrainConfig::default()`, the paper's.
    pub recipe: TrainConfig,
    /// The schedule chosen, with the warm-up the cosine schedule takes (kept while another
    /// schedule is chosen, so switching back keeps what was typed).
    pub schedule: ScheduleChoice,
    pub warmup_epochs: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleChoice {
    Constant,
    Cosine,
    Step,
}

impl Default for TrainForm {
    /// The paper's recipe.
    fn default() -> Self {
        let recipe = TrainConfig::default();
        let (schedule, warmup_epochs) = match recipe.lr_schedule {
            LrSchedule::Constant => (ScheduleChoice::Constant, 0),
            LrSchedule::Cosine { warmup_epochs } => (ScheduleChoice::Cosine, warmup_epochs),
            LrSchedule::Step { .. } => (ScheduleChoice::Step, 0),
        };
        TrainForm { recipe, schedule, warmup_epochs }
    }
}

impl TrainForm {
    pub fn to_config(&self, data_dir: &Path) -> TrainConfig {
        let epochs = self.recipe.epochs;
        TrainConfig {
            lr_schedule: match self.schedule {
                ScheduleChoice::Constant => LrSchedule::Constant,
                ScheduleChoice::Cosine => LrSchedule::Cosine { warmup_epochs: self.warmup_epochs },
                ScheduleChoice::Step => LrSchedule::Step { every_epochs: (epochs / 3).max(1), gamma: 0.1 },
            },
            data_dir: Some(data_dir.to_path_buf()),
            ..self.recipe.clone()
        }
    }
}

fn schedule_combo(ui: &mut egui::Ui, lang: Lang, schedule: &mut ScheduleChoice) -> egui::Response {
    let name = |choice| match choice {
        ScheduleChoice::Constant => T::ScheduleConstant.get(lang),
        ScheduleChoice::Cosine => T::ScheduleCosine.get(lang),
        ScheduleChoice::Step => T::ScheduleStep.get(lang),
    };
    egui::ComboBox::from_id_salt("schedule")
        .selected_text(name(*schedule))
        .show_ui(ui, |ui| {
            for choice in [ScheduleChoice::Constant, ScheduleChoice::Cosine, ScheduleChoice::Step] {
                ui.selectable_value(schedule, choice, name(choice));
            }
        })
        .response
}

/// Which pretrained network a transfer start uses: the shipped one, or the open network when it
/// is an imported one (any architecture but the paper's).
pub(super) fn backbone_ui(ui: &mut egui::Ui, lang: Lang, backbone: &mut String, open_network: Option<&ModelInfo>) {
    let shipped = crate::engine::transfer::BACKBONES[0].0;
    let imported = open_network.filter(|info| info.architecture != crate::engine::network::Architecture::PaperCnn);
    ui.horizontal_wrapped(|ui| {
        ui.label(T::PretrainedFrom.get(lang));
        ui.radio_value(backbone, shipped.to_string(), T::BackboneShipped.get(lang));
        if let Some(info) = imported {
            let label = format!("{}{}（{}）", T::BackboneOpen.get(lang), info.name, info.architecture.display_name());
            ui.radio_value(backbone, info.path.display().to_string(), label);
        }
        // A file chosen while another network was open stays chosen, and shown.
        if backbone.as_str() != shipped && imported.is_none_or(|info| info.path.as_os_str() != backbone.as_str()) {
            let name = Path::new(backbone.as_str()).file_name().map_or_else(|| backbone.clone(), |n| n.to_string_lossy().into_owned());
            let chosen = backbone.clone();
            ui.radio_value(backbone, chosen, name);
        }
    });
    if imported.is_none() {
        ui.small(T::HintBackboneImport.get(lang));
    }
}

/// What a run starts from, as the form offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StartChoice {
    Scratch,
    Linear,
    Finetune,
}

impl StartChoice {
    pub(super) fn of(recipe: &TrainConfig) -> StartChoice {
        match recipe.pretrained.as_ref().map(|start| start.mode) {
            None => StartChoice::Scratch,
            Some(crate::engine::recipe::TransferMode::Linear) => StartChoice::Linear,
            Some(crate::engine::recipe::TransferMode::Finetune { .. }) => StartChoice::Finetune,
        }
    }
}

/// Epochs, batch, learning rate and its schedule, weight decay: every start has them.
pub(super) fn optimiser_rows(ui: &mut egui::Ui, lang: Lang, form: &mut TrainForm) {
    form_row(ui, lang, T::Epochs, T::HintEpochs, |ui| ui.add(egui::DragValue::new(&mut form.recipe.epochs).range(1..=1000)));
    form_row(ui, lang, T::BatchSize, T::HintBatch, |ui| ui.add(egui::DragValue::new(&mut form.recipe.batch_size).range(1..=512)));
    form_row(ui, lang, T::LearningRate, T::HintLr, |ui| {
        ui.add(egui::DragValue::new(&mut form.recipe.learning_rate).range(1e-6..=1.0).speed(1e-4).max_decimals(6))
    });
    form_row(ui, lang, T::Schedule, T::HintSchedule, |ui| schedule_combo(ui, lang, &mut form.schedule));
    form_row(ui, lang, T::WarmupEpochs, T::HintWarmup, |ui| ui.add(egui::DragValue::new(&mut form.warmup_epochs).range(0..=100)));
    form_row(ui, lang, T::WeightDecay, T::HintWeightDecay, |ui| {
        ui.add(egui::DragValue::new(&mut form.recipe.weight_decay).range(0.0..=1.0).speed(0.005).max_decimals(4))
    });
}

/// The random changes to each training photo, and label smoothing.
pub(super) fn augmentation_rows(ui: &mut egui::Ui, lang: Lang, recipe: &mut TrainConfig) {
    form_row(ui, lang, T::Flip, T::HintFlip, |ui| ui.checkbox(&mut recipe.augmentation.horizontal_flip, ""));
    form_row(ui, lang, T::CropArea, T::HintCrop, |ui| ui.add(egui::Slider::new(&mut recipe.augmentation.crop_min_area, 0.2..=1.0)));
    form_row(ui, lang, T::ColourJitter, T::HintJitter, |ui| ui.add(egui::Slider::new(&mut recipe.augmentation.colour_jitter, 0.0..=0.5)));
    form_row(ui, lang, T::RandomErasing, T::HintRandomErasing, |ui| {
        ui.add(egui::Slider::new(&mut recipe.augmentation.random_erasing, 0.0..=1.0))
    });
    form_row(ui, lang, T::LabelSmoothing, T::HintLabelSmoothing, |ui| ui.add(egui::Slider::new(&mut recipe.label_smoothing, 0.0..=0.3)));
}

/// One labelled form row: name, widget, hint.
pub(super) fn form_row(ui: &mut egui::Ui, lang: Lang, name: T, hint: T, add: impl FnOnce(&mut egui::Ui) -> egui::Response) {
    let label = ui.label(name.get(lang));
    add(ui).labelled_by(label.id).on_hover_text(hint.get(lang));
    // At the size of the text around it: a hint is for reading, not a footnote.
    ui.add(egui::Label::new(egui::RichText::new(hint.get(lang)).weak()).wrap());
    ui.end_row();
}
