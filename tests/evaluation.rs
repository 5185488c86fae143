//! Evaluation metrics against a confusion matrix computed by hand.

use activation_atlas::engine::eval::{confusion_matrix, report_from_confusion};

#[test]
fn metrics_match_a_hand_computed_confusion_matrix() {
    // True:      a a a a b b b c c c
    // Predicted: a a b c b b a c c b
    let labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    let predictions = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
    let confusion = confusion_matrix(&labels, &predictions, 3);
    assert_eq!(confusion, vec![vec![2, 1, 1], vec![1, 2, 0], vec![0, 1, 2]]);
    let names = ["a", "b", "c"].map(String::from);
    let report = report_from_confusion(confusion, &names, 0.5);
    assert_eq!(report.images, 10);
    assert!((report.accuracy - 0.6).abs() < 1e-12);
    // a: precision 2/3, recall 2/4; b: 2/4, 2/3; c: 2/3, 2/3.
    let expected = [(2.0 / 3.0, 0.5), (0.5, 2.0 / 3.0), (2.0 / 3.0, 2.0 / 3.0)];
    for (class, (precision, recall)) in report.per_class.iter().zip(expected) {
        let f1 = 2.0 * precision * recall / (precision + recall);
        assert!((class.precision - precision).abs() < 1e-12, "{}", class.name);
        assert!((class.recall - recall).abs() < 1e-12, "{}", class.name);
        assert!((class.f1 - f1).abs() < 1e-12, "{}", class.name);
    }
    assert_eq!(report.per_class.iter().map(|c| c.support).collect::<Vec<_>>(), [4, 3, 3]);
}

#[test]
fn a_class_never_predicted_has_zero_precision_not_nan() {
    let report = report_from_confusion(confusion_matrix(&[0, 1], &[0, 0], 2), &["x".into(), "y".into()], 0.0);
    assert_eq!(report.per_class[1].precision, 0.0);
    assert_eq!(report.per_class[1].recall, 0.0);
    assert_eq!(report.per_class[1].f1, 0.0);
    assert!((report.per_class[0].precision - 0.5).abs() < 1e-12);
}
