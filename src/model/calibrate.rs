//! Platt scaling: P(positive) = σ(a·z + b) for a raw logit z, with a and b fitted on held-out
//! data, so that a probability of 0.8 is right about 80 % of the time.

use serde::{Deserialize, Serialize};

use super::Label;

/// σ(z) = 1 / (1 + e^(−z)).
fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Calibration parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

impl Platt {
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0 };

    pub fn apply(&self, margin: f64) -> f64 {
        logistic(self.a * margin + self.b)
    }

    /// Fits a and b by Newton's method on the log loss, with Platt's smoothed targets
    /// ((n₊+1)/(n₊+2), 1/(n₋+2)) to avoid overconfidence on small sets. `prior` says which
    /// class shares the probabilities assume.
    pub fn fit(margins: &[f64], labels: &[Label], prior: Prior) -> Platt {
        let n_pos = labels.iter().filter(|l| **l == Label::Positive).count() as f64;
        let n_neg = labels.len() as f64 - n_pos;
        if n_pos == 0.0 || n_neg == 0.0 {
            return Platt::IDENTITY;
        }
        let (w_pos, w_neg) = match prior {
            Prior::Observed => (1.0, 1.0),
            Prior::Neutral => {
                let n = n_pos + n_neg;
                (n / (2.0 * n_pos), n / (2.0 * n_neg))
            }
        };
        let hi = (n_pos + 1.0) / (n_pos + 2.0);
        let lo = 1.0 / (n_neg + 2.0);
        let (mut a, mut b) = (1.0f64, 0.0f64);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&z, &l) in margins.iter().zip(labels) {
                let (t, class_weight) = if l == Label::Positive {
                    (hi, w_pos)
                } else {
                    (lo, w_neg)
                };
                let p = logistic(a * z + b);
                let d = class_weight * (p - t);
                let w = class_weight * p * (1.0 - p);
                ga += d * z;
                gb += d;
                haa += w * z * z;
                hab += w * z;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-12 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() < 1e-9 && db.abs() < 1e-9 {
                break;
            }
        }
        if a.is_finite() && b.is_finite() {
            Platt { a, b }
        } else {
            Platt::IDENTITY
        }
    }
}

/// Which class shares calibrated probabilities assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Those of the calibration set.
    Observed,
    /// As many positive as negative texts, whatever the calibration set holds: each class
    /// weighs half of the loss. For logistic scores this moves b by ln(n₋/n₊) and leaves a.
    Neutral,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_scaling() {
        // Labels drawn deterministically so that P(pos | z) = σ(2z − 0.5).
        let mut margins = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let z = (i as f64 / 200.0) * 6.0 - 3.0;
            let p = logistic(2.0 * z - 0.5);
            for k in 0..100 {
                margins.push(z);
                let pos = (k as f64 + 0.5) / 100.0 < p;
                labels.push(if pos {
                    Label::Positive
                } else {
                    Label::Negative
                });
            }
        }
        let platt = Platt::fit(&margins, &labels, Prior::Observed);
        assert!((platt.a - 2.0).abs() < 0.15, "{platt:?}");
        assert!((platt.b + 0.5).abs() < 0.1, "{platt:?}");
    }

    #[test]
    fn prior_neutral_fit_moves_the_intercept_by_the_log_class_ratio() {
        // P(pos | z) = σ(2z − 0.5) over z in [−2, 4): about five positives to three negatives.
        let (mut margins, mut labels) = (Vec::new(), Vec::new());
        for i in 0..300 {
            let z = (i as f64 / 300.0) * 6.0 - 2.0;
            let p = logistic(2.0 * z - 0.5);
            for k in 0..100 {
                margins.push(z);
                labels.push(if (k as f64 + 0.5) / 100.0 < p {
                    Label::Positive
                } else {
                    Label::Negative
                });
            }
        }
        let n_pos = labels.iter().filter(|l| **l == Label::Positive).count() as f64;
        let n_neg = labels.len() as f64 - n_pos;
        assert!(n_pos > 1.5 * n_neg, "{n_pos} {n_neg}");
        let observed = Platt::fit(&margins, &labels, Prior::Observed);
        let neutral = Platt::fit(&margins, &labels, Prior::Neutral);
        assert!(
            (neutral.a - observed.a).abs() < 0.05,
            "{observed:?} {neutral:?}"
        );
        let shift = neutral.b - observed.b;
        assert!(
            (shift - (n_neg / n_pos).ln()).abs() < 0.1,
            "{shift} {observed:?} {neutral:?}"
        );
        // Balanced on its own: the neutral fit scores half the weighted mass positive.
        let (mut pos_mass, mut neg_mass) = (0.0, 0.0);
        for (&z, &l) in margins.iter().zip(&labels) {
            let p = neutral.apply(z);
            if l == Label::Positive {
                pos_mass += (1.0 - p) / n_pos;
            } else {
                neg_mass += p / n_neg;
            }
        }
        assert!((pos_mass - neg_mass).abs() < 0.05, "{pos_mass} {neg_mass}");
    }

    #[test]
    fn one_class_falls_back_to_identity() {
        assert_eq!(
            Platt::fit(&[1.0, 2.0], &[Label::Positive; 2], Prior::Neutral),
            Platt::IDENTITY
        );
    }
}
