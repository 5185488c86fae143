//! What a cross-validation measured, as a final model's sidecar records it: the folds' mean and
//! spread, and several seeds' cross-validations pooled into one estimate. Kept apart from the
//! cross-validation runner so a checkpoint can record it without depending on training.

use serde::{Deserialize, Serialize};

/// The mean and spread of the folds' accuracies, as recorded in a model trained with the recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossValidationSummary {
    /// Folds of each cross-validation.
    pub folds: u32,
    /// Cross-validations pooled here, each with its own seed (other folds, other starts):
    /// `fold_accuracies` holds `repeats x folds` figures. See [`pooled`].
    #[serde(default = "one_repeat", skip_serializing_if = "is_one_repeat")]
    pub repeats: u32,
    pub images: usize,
    pub mean_accuracy: f64,
    /// Sample standard deviation over the folds.
    pub sd_accuracy: f64,
    pub fold_accuracies: Vec<f64>,
    /// The same with 12 views of each photo averaged (see `FoldResult::views_accuracy` in the cross-validation report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<Box<ViewsSummary>>,
}

impl CrossValidationSummary {
    /// How many folds, for a label: "5", or "2 x 5" (with `times` between) when repeats are pooled.
    pub fn folds_label(&self, times: &str) -> String {
        if self.repeats > 1 { format!("{} {times} {}", self.repeats, self.folds) } else { self.folds.to_string() }
    }
}

/// Mean, sample standard deviation and folds of the 12-view accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewsSummary {
    pub mean_accuracy: f64,
    pub sd_accuracy: f64,
    pub fold_accuracies: Vec<f64>,
}

/// Mean and sample standard deviation (n - 1).
pub fn mean_and_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, variance.sqrt())
}

fn one_repeat() -> u32 {
    1
}

fn is_one_repeat(repeats: &u32) -> bool {
    *repeats == 1
}

/// One summary of several cross-validations of a recipe, each with another seed: every fold of
/// every one counts once. A figure from one seed's folds can be lucky (or chosen on them); the
/// pooled mean is steadier. The 12-view figures are pooled only when every report has them.
pub fn pooled(summaries: &[CrossValidationSummary]) -> Result<CrossValidationSummary, String> {
    let Some(first) = summaries.first() else {
        return Err("no cross-validation to pool".to_string());
    };
    if let Some(other) = summaries.iter().find(|s| s.folds != first.folds || s.images != first.images) {
        return Err(format!(
            "the cross-validations differ in folds or photos ({} folds of {} photos, and {} of {})",
            first.folds, first.images, other.folds, other.images
        ));
    }
    let fold_accuracies: Vec<f64> = summaries.iter().flat_map(|s| s.fold_accuracies.iter().copied()).collect();
    let (mean_accuracy, sd_accuracy) = mean_and_sd(&fold_accuracies);
    let views = summaries.iter().map(|s| s.views.as_ref().map(|v| v.fold_accuracies.clone())).collect::<Option<Vec<Vec<f64>>>>().map(
        |per_report| {
            let fold_accuracies: Vec<f64> = per_report.into_iter().flatten().collect();
            let (mean_accuracy, sd_accuracy) = mean_and_sd(&fold_accuracies);
            Box::new(ViewsSummary { mean_accuracy, sd_accuracy, fold_accuracies })
        },
    );
    Ok(CrossValidationSummary {
        folds: first.folds,
        repeats: summaries.iter().map(|s| s.repeats).sum(),
        images: first.images,
        mean_accuracy,
        sd_accuracy,
        fold_accuracies,
        views,
    })
}
