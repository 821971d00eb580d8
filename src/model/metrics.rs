//! Binary classification metrics over calibrated probabilities: accuracy, macro-F1, ROC-AUC,
//! Brier score, log loss and the confusion matrix at a 0.5 threshold, and bootstrap intervals
//! for accuracy and ROC-AUC.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::Label;

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
    let (order, groups) = ranked(scores);
    weighted_roc_auc(labels, &order, &groups, &vec![1; labels.len()]).unwrap_or(0.5)
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

/// 95 % percentile bootstrap intervals of accuracy and ROC-AUC: how far the two could move on
/// another sample of the same size drawn from the same kind of reviews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// `[low, high]`.
    pub accuracy_ci95: [f64; 2],
    pub roc_auc_ci95: [f64; 2],
    pub bootstrap_resamples: usize,
}

/// Resamples the rows `resamples` times with replacement (seeded by `seed`, so a report can be
/// reproduced) and returns the 2.5th and 97.5th percentiles of accuracy and ROC-AUC. `None`
/// when there are no resamples or fewer than two rows of either label. A resample that happens
/// to hold one label only has no ROC-AUC and counts for accuracy only.
///
/// The rows are sorted by score once; each resample is a vector of row counts, and ROC-AUC is
/// the count-weighted rank statistic over that one order, so a resample costs O(rows).
pub fn bootstrap(labels: &[Label], p: &[f64], resamples: usize, seed: u64) -> Option<Intervals> {
    assert_eq!(labels.len(), p.len(), "one probability per label");
    let n = labels.len();
    let n_pos = labels.iter().filter(|l| **l == Label::Positive).count();
    if resamples == 0 || n_pos < 2 || n - n_pos < 2 {
        return None;
    }
    let (order, groups) = ranked(p);
    let correct: Vec<bool> = labels
        .iter()
        .zip(p)
        .map(|(&l, &p)| (l == Label::Positive) == (p >= 0.5))
        .collect();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut counts = vec![0u32; n];
    let (mut accuracies, mut aucs) = (Vec::with_capacity(resamples), Vec::new());
    for _ in 0..resamples {
        resample(&mut rng, &mut counts);
        let right: u64 = (0..n)
            .filter(|&i| correct[i])
            .map(|i| counts[i] as u64)
            .sum();
        accuracies.push(right as f64 / n as f64);
        if let Some(auc) = weighted_roc_auc(labels, &order, &groups, &counts) {
            aucs.push(auc);
        }
    }
    Some(Intervals {
        accuracy_ci95: percentiles_95(&mut accuracies),
        roc_auc_ci95: percentiles_95(&mut aucs),
        bootstrap_resamples: resamples,
    })
}

/// Two models scored on the same rows: the current one (champion) and a candidate (challenger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub champion: Metrics,
    pub challenger: Metrics,
    /// Challenger's accuracy minus champion's, and its 95 % paired bootstrap interval.
    pub accuracy_gain: f64,
    pub accuracy_gain_ci95: [f64; 2],
    pub roc_auc_gain: f64,
    pub roc_auc_gain_ci95: [f64; 2],
    pub bootstrap_resamples: usize,
}

impl Comparison {
    /// Returns true if and only if the challenger is better beyond chance: the lower end of the
    /// accuracy gain's interval is above 0.
    pub fn challenger_wins(&self) -> bool {
        self.accuracy_gain_ci95[0] > 0.0
    }
}

/// Compares the probabilities `champion` and `challenger` give the same rows. The bootstrap is
/// paired (each resample draws rows, and both models are judged on those same rows), so the
/// interval is that of the gain itself, much narrower than two separate intervals would
/// suggest. `None` when there are no resamples or fewer than two rows of either label.
pub fn compare(
    labels: &[Label],
    champion: &[f64],
    challenger: &[f64],
    resamples: usize,
    seed: u64,
) -> Option<Comparison> {
    assert_eq!(labels.len(), champion.len(), "one probability per label");
    assert_eq!(labels.len(), challenger.len(), "one probability per label");
    let n = labels.len();
    let n_pos = labels.iter().filter(|l| **l == Label::Positive).count();
    if resamples == 0 || n_pos < 2 || n - n_pos < 2 {
        return None;
    }
    let right = |p: &[f64]| -> Vec<bool> {
        labels
            .iter()
            .zip(p)
            .map(|(&l, &p)| (l == Label::Positive) == (p >= 0.5))
            .collect()
    };
    let (right0, right1) = (right(champion), right(challenger));
    let (rank0, rank1) = (ranked(champion), ranked(challenger));
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut counts = vec![0u32; n];
    let (mut acc_gains, mut auc_gains) = (Vec::with_capacity(resamples), Vec::new());
    for _ in 0..resamples {
        resample(&mut rng, &mut counts);
        let gain: i64 = (0..n)
            .map(|i| (i64::from(right1[i]) - i64::from(right0[i])) * i64::from(counts[i]))
            .sum();
        acc_gains.push(gain as f64 / n as f64);
        if let (Some(a0), Some(a1)) = (
            weighted_roc_auc(labels, &rank0.0, &rank0.1, &counts),
            weighted_roc_auc(labels, &rank1.0, &rank1.1, &counts),
        ) {
            auc_gains.push(a1 - a0);
        }
    }
    let (m0, m1) = (
        Metrics::compute(labels, champion),
        Metrics::compute(labels, challenger),
    );
    Some(Comparison {
        accuracy_gain: m1.accuracy - m0.accuracy,
        accuracy_gain_ci95: percentiles_95(&mut acc_gains),
        roc_auc_gain: m1.roc_auc - m0.roc_auc,
        roc_auc_gain_ci95: percentiles_95(&mut auc_gains),
        champion: m0,
        challenger: m1,
        bootstrap_resamples: resamples,
    })
}

/// One bootstrap resample: how many times each of the `counts.len()` rows is drawn.
fn resample(rng: &mut SmallRng, counts: &mut [u32]) {
    let n = counts.len();
    counts.iter_mut().for_each(|c| *c = 0);
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
}

/// The rows in order of score, and the ranges of that order whose scores tie.
fn ranked(p: &[f64]) -> (Vec<usize>, Vec<std::ops::Range<usize>>) {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut groups = Vec::new();
    let mut start = 0;
    for k in 1..=p.len() {
        if k == p.len() || p[order[k]] != p[order[start]] {
            groups.push(start..k);
            start = k;
        }
    }
    (order, groups)
}

/// ROC-AUC with row `i` counted `counts[i]` times: the share of (positive, negative) pairs
/// ranked right, ties counting half. `None` when the counts leave a label out.
fn weighted_roc_auc(
    labels: &[Label],
    order: &[usize],
    groups: &[std::ops::Range<usize>],
    counts: &[u32],
) -> Option<f64> {
    let (mut pairs, mut neg_below, mut pos_total) = (0.0, 0.0, 0.0);
    for g in groups {
        let (mut pos, mut neg) = (0.0, 0.0);
        for &i in &order[g.clone()] {
            match labels[i] {
                Label::Positive => pos += counts[i] as f64,
                Label::Negative => neg += counts[i] as f64,
            }
        }
        pairs += pos * (neg_below + 0.5 * neg);
        neg_below += neg;
        pos_total += pos;
    }
    (pos_total > 0.0 && neg_below > 0.0).then(|| pairs / (pos_total * neg_below))
}

/// The 2.5th and 97.5th percentiles (nearest rank) of `v`; NaN for an empty `v`.
fn percentiles_95(v: &mut [f64]) -> [f64; 2] {
    if v.is_empty() {
        return [f64::NAN; 2];
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    [at(0.025), at(0.975)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::{Negative as N, Positive as P};

    #[test]
    fn a_clearly_better_challenger_wins_and_a_copy_does_not() {
        // 400 rows, half positive. The champion is right on 60 %, the challenger on 90 %
        // (right wherever the champion is, and on three quarters of the rest).
        let labels: Vec<Label> = (0..400).map(|i| if i % 2 == 0 { P } else { N }).collect();
        let p_for = |l: Label, right: bool| match (l == P, right) {
            (true, true) | (false, false) => 0.8,
            _ => 0.2,
        };
        let champion: Vec<f64> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| p_for(l, i % 10 < 6))
            .collect();
        let challenger: Vec<f64> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| p_for(l, i % 10 < 6 || (i / 10) % 4 != 0))
            .collect();
        let c = compare(&labels, &champion, &challenger, 500, 7).unwrap();
        assert_eq!(c.champion.accuracy, 0.6);
        assert_eq!(c.challenger.accuracy, 0.9);
        assert!((c.accuracy_gain - 0.3).abs() < 1e-12);
        assert!(c.accuracy_gain_ci95[0] > 0.2 && c.accuracy_gain_ci95[1] < 0.4);
        assert!(c.challenger_wins());
        // The same model against itself: a gain of exactly 0, never a win.
        let same = compare(&labels, &champion, &champion, 500, 7).unwrap();
        assert_eq!(same.accuracy_gain_ci95, [0.0, 0.0]);
        assert!(!same.challenger_wins());
        // Too few rows of a label: no verdict at all.
        assert!(compare(&[P, P, N], &[0.9; 3], &[0.9; 3], 100, 1).is_none());
    }

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

    #[test]
    fn bootstrap_intervals_hold_the_estimate_narrow_with_more_rows_and_repeat() {
        // 20 rows, 15 ranked right: a wide interval around 0.75 accuracy.
        let labels: Vec<Label> = (0..20).map(|i| if i % 2 == 0 { P } else { N }).collect();
        let p: Vec<f64> = (0..20)
            .map(|i| {
                let right = if i % 2 == 0 { 0.8 } else { 0.2 };
                if i % 4 == 1 || i == 0 {
                    1.0 - right
                } else {
                    right - i as f64 * 0.001
                }
            })
            .collect();
        let m = Metrics::compute(&labels, &p);
        let small = bootstrap(&labels, &p, 2000, 7).unwrap();
        assert_eq!(small, bootstrap(&labels, &p, 2000, 7).unwrap(), "seeded");
        let [lo, hi] = small.accuracy_ci95;
        assert!(lo < m.accuracy && m.accuracy < hi, "{small:?} {m:?}");
        let [alo, ahi] = small.roc_auc_ci95;
        assert!(alo < m.roc_auc && m.roc_auc < ahi, "{small:?} {m:?}");
        // The same rows 25 times over: the same estimates, a much narrower interval.
        let (labels25, p25): (Vec<Label>, Vec<f64>) = (0..25)
            .flat_map(|_| labels.iter().copied().zip(p.iter().copied()))
            .unzip();
        let m25 = Metrics::compute(&labels25, &p25);
        assert!((m25.roc_auc - m.roc_auc).abs() < 1e-12);
        let big = bootstrap(&labels25, &p25, 2000, 7).unwrap();
        let width = |[lo, hi]: [f64; 2]| hi - lo;
        assert!(
            width(big.accuracy_ci95) < width(small.accuracy_ci95) / 3.0,
            "{big:?}"
        );
        assert!(
            width(big.roc_auc_ci95) < width(small.roc_auc_ci95) / 3.0,
            "{big:?}"
        );
        assert!(big.roc_auc_ci95[0] < m.roc_auc && m.roc_auc < big.roc_auc_ci95[1]);
        // Nothing to resample from: no interval.
        assert!(bootstrap(&labels, &p, 0, 7).is_none());
        assert!(bootstrap(&[P, P, N], &[0.9, 0.8, 0.1], 100, 7).is_none());
    }

    /// ROC-AUC by counting every (positive, negative) pair, ties half: the definition.
    fn pairs_auc(labels: &[Label], p: &[f64]) -> Option<f64> {
        let (mut right, mut pairs) = (0.0, 0.0);
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate() {
                if li == P && lj == N {
                    pairs += 1.0;
                    right += match p[i].total_cmp(&p[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        (pairs > 0.0).then(|| right / pairs)
    }

    #[test]
    fn weighted_rank_statistic_is_roc_auc_of_the_rows_repeated_by_their_counts() {
        // Scores with ties, labels mixed; a cheap LCG keeps the test free of the RNG under test.
        let mut x: u64 = 12345;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        for _ in 0..50 {
            let n = 2 + (next() % 30) as usize;
            let labels: Vec<Label> = (0..n)
                .map(|_| if next() % 2 == 0 { P } else { N })
                .collect();
            let p: Vec<f64> = (0..n).map(|_| (next() % 7) as f64 / 6.0).collect();
            let counts: Vec<u32> = (0..n).map(|_| (next() % 3) as u32).collect();
            let (rl, rp): (Vec<Label>, Vec<f64>) = (0..n)
                .flat_map(|i| std::iter::repeat_n((labels[i], p[i]), counts[i] as usize))
                .unzip();
            let auc = roc_auc(&labels, &p);
            assert!((auc - pairs_auc(&labels, &p).unwrap_or(0.5)).abs() < 1e-12);
            let (order, groups) = ranked(&p);
            match (
                weighted_roc_auc(&labels, &order, &groups, &counts),
                pairs_auc(&rl, &rp),
            ) {
                (Some(got), Some(want)) => assert!((got - want).abs() < 1e-12),
                (got, want) => assert_eq!(got, want),
            }
        }
        // Perfect, inverted and tied rankings give 1, 0 and 0.5 on every resample.
        let labels = [N, N, N, P, P, P];
        let b = bootstrap(&labels, &[0.1, 0.2, 0.2, 0.7, 0.7, 0.9], 500, 1).unwrap();
        assert_eq!((b.roc_auc_ci95, b.accuracy_ci95), ([1.0; 2], [1.0; 2]));
        let b = bootstrap(&labels, &[0.9, 0.8, 0.8, 0.3, 0.2, 0.1], 500, 1).unwrap();
        assert_eq!(b.roc_auc_ci95, [0.0; 2]);
        let b = bootstrap(&labels, &[0.5; 6], 500, 1).unwrap();
        assert_eq!(b.roc_auc_ci95, [0.5; 2]);
    }
}
