//! The satisfaction indices. Every index is the mean of a per-response value, so that a window
//! keeps only `(sum, count)` per index and replicas add up exactly:
//! `sum(manyi_index_sum) / sum(manyi_index_count)` is the global index.
//!
//! | index             | per-response value                                        | responses counted          |
//! |-------------------|-----------------------------------------------------------|----------------------------|
//! | `csat`            | 100 if CSAT is 4–5, else 0                                | events with a CSAT score   |
//! | `nps`             | +100 promoter (9–10), 0 passive (7–8), −100 detractor (0–6) | events with an NPS score |
//! | `ces`             | the CES score, 1–7 (lower is easier)                      | events with a CES score    |
//! | `csi`             | weighted mean of the configured CSI dimensions × 10       | events with a configured CSI dimension |
//! | `sentiment`       | 100 × P(positive)                                         | events with text           |
//! | `negative_share`  | 100 if the text is labelled negative, else 0              | events with text           |
//! | `complaint_share` | 100 if kind is complaint, else 0                          | feedback events (review, complaint, survey) |
//! | `composite`       | weighted mean of the normalised components present        | all events                 |
//! | `disagreement`    | 100 if text and score contradict, else 0                  | events with text and CSAT or NPS |
//!
//! The composite maps each component to 0–100 with "higher is better": nps → (nps + 100) / 2,
//! ces → (7 − ces) / 6 × 100, negative_share → 100 − value, complaint_share → 100 − value; the
//! others are already 0–100. The configured weights of the components an event carries are
//! renormalised to sum to 1, so a survey-only event and a text-only event both count fully.

use crate::decode::{Feedback, Kind};

/// One index. The discriminant is the slot in a window's accumulator array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Index {
    Csat = 0,
    Nps,
    Ces,
    Csi,
    Sentiment,
    NegativeShare,
    ComplaintShare,
    Composite,
    Disagreement,
}

/// Number of [`Index`] variants.
pub const N_INDICES: usize = 9;

impl Index {
    pub const ALL: [Index; N_INDICES] = [
        Index::Csat,
        Index::Nps,
        Index::Ces,
        Index::Csi,
        Index::Sentiment,
        Index::NegativeShare,
        Index::ComplaintShare,
        Index::Composite,
        Index::Disagreement,
    ];

    /// The `index` label value.
    pub fn name(self) -> &'static str {
        match self {
            Index::Csat => "csat",
            Index::Nps => "nps",
            Index::Ces => "ces",
            Index::Csi => "csi",
            Index::Sentiment => "sentiment",
            Index::NegativeShare => "negative_share",
            Index::ComplaintShare => "complaint_share",
            Index::Composite => "composite",
            Index::Disagreement => "disagreement",
        }
    }

    pub fn from_name(name: &str) -> Option<Index> {
        Index::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Returns true if and only if the index can be a component of the composite.
    pub fn in_composite(self) -> bool {
        !matches!(self, Index::Composite | Index::Disagreement)
    }

    /// Returns true if and only if every per-response value is 0 or 100, so the index is a share
    /// with Wilson bounds.
    pub fn is_share(self) -> bool {
        matches!(
            self,
            Index::Csat | Index::NegativeShare | Index::ComplaintShare | Index::Disagreement
        )
    }

    /// Maps a per-response value of this index to 0–100, higher is better, for the composite.
    fn normalised(self, v: f64) -> f64 {
        match self {
            Index::Nps => (v + 100.0) / 2.0,
            Index::Ces => (7.0 - v) / 6.0 * 100.0,
            Index::NegativeShare | Index::ComplaintShare => 100.0 - v,
            _ => v,
        }
    }
}

/// Weights of the composite's components, indexed by [`Index`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CompositeWeights([f64; N_INDICES]);

impl CompositeWeights {
    pub fn set(&mut self, index: Index, w: f64) {
        self.0[index as usize] = w;
    }
    pub fn get(&self, index: Index) -> f64 {
        self.0[index as usize]
    }
    pub fn total(&self) -> f64 {
        self.0.iter().sum()
    }
}

/// The sentiment label of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    Negative = 0,
    Neutral,
    Positive,
}

impl Label {
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }
}

/// Thresholds that turn P(positive) into a label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Below this: negative.
    pub negative_below: f64,
    /// Above this: positive.
    pub positive_above: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            negative_below: 0.4,
            positive_above: 0.6,
        }
    }
}

impl Thresholds {
    pub fn label(&self, p_positive: f64) -> Label {
        if p_positive < self.negative_below {
            Label::Negative
        } else if p_positive > self.positive_above {
            Label::Positive
        } else {
            Label::Neutral
        }
    }
}

/// NPS answer category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpsCategory {
    Detractor = 0,
    Passive,
    Promoter,
}

impl NpsCategory {
    pub const ALL: [NpsCategory; 3] = [
        NpsCategory::Detractor,
        NpsCategory::Passive,
        NpsCategory::Promoter,
    ];

    pub fn of(score: u8) -> NpsCategory {
        match score {
            9..=10 => NpsCategory::Promoter,
            7..=8 => NpsCategory::Passive,
            _ => NpsCategory::Detractor,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NpsCategory::Detractor => "detractor",
            NpsCategory::Passive => "passive",
            NpsCategory::Promoter => "promoter",
        }
    }
}

/// Settings the per-response values depend on.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    pub csi_weights: Vec<(String, f64)>,
    pub composite: CompositeWeights,
    pub thresholds: Thresholds,
    /// The configured measures (`[[measures]]`).
    pub measures: std::sync::Arc<crate::score::measures::Measures>,
}

impl Default for IndexSettings {
    fn default() -> Self {
        let mut composite = CompositeWeights::default();
        for (i, w) in [
            (Index::Sentiment, 0.4),
            (Index::Csat, 0.2),
            (Index::Nps, 0.2),
            (Index::Csi, 0.1),
            (Index::Ces, 0.1),
        ] {
            composite.set(i, w);
        }
        IndexSettings {
            csi_weights: ["quality", "service", "price", "after_sales"]
                .iter()
                .map(|k| (k.to_string(), 0.25))
                .collect(),
            composite,
            thresholds: Thresholds::default(),
            measures: Default::default(),
        }
    }
}

/// The per-response values of one event: `values[i]` is `Some` when the event counts towards index `i`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResponseValues {
    pub values: [Option<f64>; N_INDICES],
    pub label: Option<Label>,
    pub nps_category: Option<NpsCategory>,
    /// The composite's `(Σ weight × normalised value, Σ weight)` over the built-in components,
    /// to which the measures' parts are added.
    pub composite_parts: (f64, f64),
}

impl ResponseValues {
    pub fn get(&self, index: Index) -> Option<f64> {
        self.values[index as usize]
    }

    /// Adds a measures' part `(Σ weight × normalised value, Σ weight)` to the composite. The
    /// composite is left bit for bit as it was when the part is empty.
    pub fn add_to_composite(&mut self, (num, den): (f64, f64)) {
        if den > 0.0 {
            let (n, d) = (self.composite_parts.0 + num, self.composite_parts.1 + den);
            self.composite_parts = (n, d);
            self.values[Index::Composite as usize] = Some(n / d);
        }
    }
}

/// Computes the per-response values of an event whose text (if any) scored `p_positive`.
pub fn response_values(
    fb: &Feedback,
    p_positive: Option<f64>,
    settings: &IndexSettings,
) -> ResponseValues {
    let mut v = [None; N_INDICES];
    let s = &fb.scores;
    v[Index::Csat as usize] = s.csat.map(|c| if c >= 4 { 100.0 } else { 0.0 });
    let nps_category = s.nps.map(NpsCategory::of);
    v[Index::Nps as usize] = nps_category.map(|c| match c {
        NpsCategory::Promoter => 100.0,
        NpsCategory::Passive => 0.0,
        NpsCategory::Detractor => -100.0,
    });
    v[Index::Ces as usize] = s.ces.map(f64::from);
    v[Index::Csi as usize] = csi_value(&s.csi, &settings.csi_weights);
    let label = p_positive.map(|p| settings.thresholds.label(p));
    v[Index::Sentiment as usize] = p_positive.map(|p| 100.0 * p);
    v[Index::NegativeShare as usize] =
        label.map(|l| if l == Label::Negative { 100.0 } else { 0.0 });
    // Among feedback only: tickets, orders and the like are not responses.
    v[Index::ComplaintShare as usize] =
        fb.kind
            .is_feedback()
            .then_some(if fb.kind == Kind::Complaint {
                100.0
            } else {
                0.0
            });

    let (mut num, mut den) = (0.0, 0.0);
    for index in Index::ALL.into_iter().filter(|i| i.in_composite()) {
        let w = settings.composite.get(index);
        if let (Some(x), true) = (v[index as usize], w > 0.0) {
            num += w * index.normalised(x);
            den += w;
        }
    }
    v[Index::Composite as usize] = (den > 0.0).then(|| num / den);
    v[Index::Disagreement as usize] = disagreement(label, s.csat, nps_category);
    ResponseValues {
        values: v,
        label,
        nps_category,
        composite_parts: (num, den),
    }
}

/// Weighted mean of the configured dimensions the event carries, scaled from 0–10 to 0–100.
fn csi_value(csi: &[(String, f64)], weights: &[(String, f64)]) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for (dim, w) in weights {
        if let Some((_, x)) = csi.iter().find(|(k, _)| k == dim) {
            num += w * x;
            den += w;
        }
    }
    (den > 0.0).then(|| num / den * 10.0)
}

/// Text and score contradict when a satisfied score (CSAT 4–5, NPS promoter) comes with
/// negative text, or a dissatisfied score (CSAT 1–2, NPS detractor) with positive text. Neutral
/// text and middling scores never contradict. Only events with text and CSAT or NPS count.
fn disagreement(label: Option<Label>, csat: Option<u8>, nps: Option<NpsCategory>) -> Option<f64> {
    let label = label?;
    if csat.is_none() && nps.is_none() {
        return None;
    }
    let satisfied = csat.is_some_and(|c| c >= 4) || nps == Some(NpsCategory::Promoter);
    let dissatisfied = csat.is_some_and(|c| c <= 2) || nps == Some(NpsCategory::Detractor);
    let contradicts =
        (satisfied && label == Label::Negative) || (dissatisfied && label == Label::Positive);
    Some(if contradicts { 100.0 } else { 0.0 })
}

/// Wilson score interval for `successes` out of `n` at normal quantile `z`, in percent.
pub fn wilson_bounds(successes: f64, n: f64, z: f64) -> Option<(f64, f64)> {
    if n <= 0.0 {
        return None;
    }
    let p = (successes / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / denom;
    Some((
        100.0 * (centre - half).max(0.0),
        100.0 * (centre + half).min(1.0),
    ))
}

/// Two-sided normal quantile for a confidence level (0.95 → 1.96), by inverting the error function
/// numerically; exact to 1e-9, which is far below what a share can show.
pub fn z_for_confidence(confidence: f64) -> f64 {
    let target = 0.5 + confidence / 2.0;
    let (mut lo, mut hi) = (0.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// Abramowitz–Stegun 7.1.26 is too coarse for quantiles; this series/continued fraction pair is
/// accurate to ~1e-15 on the range used here.
fn erf(x: f64) -> f64 {
    if x < 0.0 {
        return -erf(-x);
    }
    if x < 3.0 {
        // Maclaurin series.
        let mut sum = x;
        let mut term = x;
        let x2 = x * x;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Continued fraction for erfc.
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (x + f);
        }
        1.0 - (-x * x).exp() / (std::f64::consts::PI.sqrt() * (x + f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Scores;

    fn fb(kind: Kind, scores: Scores) -> Feedback {
        Feedback {
            id: "x".into(),
            event_time_ms: 0,
            kind,
            text: None,
            scores,
            dims: vec![],
            fields: vec![],
        }
    }

    #[test]
    fn survey_values_follow_the_definitions() {
        let s = IndexSettings::default();
        let v = response_values(
            &fb(
                Kind::Survey,
                Scores {
                    csat: Some(4),
                    nps: Some(9),
                    ces: Some(2),
                    csi: vec![],
                },
            ),
            None,
            &s,
        );
        assert_eq!(v.get(Index::Csat), Some(100.0));
        assert_eq!(v.get(Index::Nps), Some(100.0));
        assert_eq!(v.get(Index::Ces), Some(2.0));
        assert_eq!(v.get(Index::Csi), None);
        assert_eq!(v.get(Index::Sentiment), None);
        assert_eq!(v.get(Index::ComplaintShare), Some(0.0));
        // composite: csat .2×100 + nps .2×100 + ces .1×(5/6×100) over weight .5
        let want = (0.2 * 100.0 + 0.2 * 100.0 + 0.1 * (5.0 / 6.0 * 100.0)) / 0.5;
        assert!((v.get(Index::Composite).unwrap() - want).abs() < 1e-9);
        assert_eq!(v.get(Index::Disagreement), None);
    }

    #[test]
    fn nps_categories() {
        let s = IndexSettings::default();
        let nps = |n| {
            response_values(
                &fb(
                    Kind::Survey,
                    Scores {
                        nps: Some(n),
                        ..Default::default()
                    },
                ),
                None,
                &s,
            )
            .get(Index::Nps)
        };
        assert_eq!(nps(10), Some(100.0));
        assert_eq!(nps(8), Some(0.0));
        assert_eq!(nps(7), Some(0.0));
        assert_eq!(nps(6), Some(-100.0));
        assert_eq!(nps(0), Some(-100.0));
    }

    #[test]
    fn csi_is_weighted_mean_of_present_configured_dims() {
        let s = IndexSettings {
            csi_weights: vec![
                ("quality".into(), 3.0),
                ("service".into(), 1.0),
                ("price".into(), 1.0),
            ],
            ..Default::default()
        };
        let scores = Scores {
            csi: vec![
                ("quality".into(), 8.0),
                ("service".into(), 4.0),
                ("unknown".into(), 0.0),
            ],
            ..Default::default()
        };
        let v = response_values(&fb(Kind::Survey, scores), None, &s);
        assert_eq!(v.get(Index::Csi), Some((3.0 * 8.0 + 4.0) / 4.0 * 10.0));
    }

    #[test]
    fn text_values_and_disagreement() {
        let s = IndexSettings::default();
        let mut e = fb(
            Kind::Complaint,
            Scores {
                csat: Some(5),
                ..Default::default()
            },
        );
        e.text = Some("太差了".into());
        let v = response_values(&e, Some(0.1), &s);
        assert_eq!(v.label, Some(Label::Negative));
        assert!((v.get(Index::Sentiment).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(v.get(Index::NegativeShare), Some(100.0));
        assert_eq!(v.get(Index::ComplaintShare), Some(100.0));
        assert_eq!(v.get(Index::Disagreement), Some(100.0));
        let v = response_values(&e, Some(0.5), &s);
        assert_eq!(v.label, Some(Label::Neutral));
        assert_eq!(v.get(Index::Disagreement), Some(0.0));
    }

    #[test]
    fn wilson_matches_reference_values() {
        // Reference: 8 of 10 at 95 %: [0.4902, 0.9433] (Wilson 1927; e.g. statsmodels proportion_confint method="wilson").
        let z = z_for_confidence(0.95);
        assert!((z - 1.959_963_985).abs() < 1e-6, "{z}");
        let (lo, hi) = wilson_bounds(8.0, 10.0, z).unwrap();
        assert!(
            (lo - 49.016_1).abs() < 1e-3 && (hi - 94.331_5).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson_bounds(0.0, 3.0, z).unwrap();
        assert!(lo.abs() < 1e-9 && (hi - 56.149_8).abs() < 1e-3, "{lo} {hi}");
        assert_eq!(wilson_bounds(0.0, 0.0, z), None);
    }
}
