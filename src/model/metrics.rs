//! Binary classification metrics over calibrated probabilities: accuracy, macro-F1, ROC-AUC,
//! Brier score, log loss and the confusion matrix at a 0.5 threshold.

use serde::{Deserialize, Serialize};

use super::data::Label;

/// Counts at threshold 0.5; positive is the positive class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Confusion {
    pub true_pos: usize,
    pub false_pos: usize,
    pub true_neg: usize,
    pub false_neg: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub roc_auc: f64,
    pub brier: f64,
    pub log_loss: f64,
    pub confusion: Confusion,
}

fn f1(tp: usize, fp: usize, fn_: usize) -> f64 {
    let denom = 2 * tp + fp + fn_;
    if denom == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denom as f64
    }
}

/// ROC-AUC by the rank statistic, ties counted half. 0.5 when one class is absent.
pub fn roc_auc(labels: &[Label], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let n_pos = labels.iter().filter(|l| **l == Label::Positive).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return 0.5;
    }
    // Sum of (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank
            * order[i..j]
                .iter()
                .filter(|&&k| labels[k] == Label::Positive)
                .count() as f64;
        i = j;
    }
    (rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos as f64 * n_neg as f64)
}

impl Metrics {
    /// Metrics of probabilities `p` (of positive) against `labels`.
    pub fn compute(labels: &[Label], p: &[f64]) -> Metrics {
        assert_eq!(labels.len(), p.len(), "one probability per label");
        let mut c = Confusion::default();
        let (mut brier, mut log_loss) = (0.0, 0.0);
        for (&l, &p) in labels.iter().zip(p) {
            let y = if l == Label::Positive { 1.0 } else { 0.0 };
            match (l == Label::Positive, p >= 0.5) {
                (true, true) => c.true_pos += 1,
                (true, false) => c.false_neg += 1,
                (false, true) => c.false_pos += 1,
                (false, false) => c.true_neg += 1,
            }
            brier += (p - y) * (p - y);
            let pc = p.clamp(1e-12, 1.0 - 1e-12);
            log_loss -= y * pc.ln() + (1.0 - y) * (1.0 - pc).ln();
        }
        let n = labels.len();
        let nf = n.max(1) as f64;
        Metrics {
            n,
            accuracy: (c.true_pos + c.true_neg) as f64 / nf,
            macro_f1: (f1(c.true_pos, c.false_pos, c.false_neg)
                + f1(c.true_neg, c.false_neg, c.false_pos))
                / 2.0,
            roc_auc: roc_auc(labels, p),
            brier: brier / nf,
            log_loss: log_loss / nf,
            confusion: c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::{Negative as N, Positive as P};

    #[test]
    fn perfect_and_inverted_rankings() {
        let labels = [N, N, P, P];
        assert_eq!(roc_auc(&labels, &[0.1, 0.2, 0.8, 0.9]), 1.0);
        assert_eq!(roc_auc(&labels, &[0.9, 0.8, 0.2, 0.1]), 0.0);
        assert_eq!(roc_auc(&labels, &[0.5; 4]), 0.5);
        assert_eq!(roc_auc(&labels, &[0.1, 0.6, 0.4, 0.9]), 0.75);
    }

    #[test]
    fn confusion_accuracy_f1_brier() {
        let m = Metrics::compute(&[P, P, N, N], &[0.9, 0.4, 0.2, 0.6]);
        assert_eq!(
            m.confusion,
            Confusion {
                true_pos: 1,
                false_pos: 1,
                true_neg: 1,
                false_neg: 1
            }
        );
        assert_eq!(m.accuracy, 0.5);
        assert!((m.macro_f1 - 0.5).abs() < 1e-12);
        assert!((m.brier - (0.01 + 0.36 + 0.04 + 0.36) / 4.0).abs() < 1e-12);
    }
}
