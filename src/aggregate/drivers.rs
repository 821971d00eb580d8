//! Why an index moved between a baseline window and the current one: a mix/rate decomposition
//! of the change over segments of the responses (for manyi: the aspects a response talks about).
//!
//! An index is a mean, `I = Σ_s p_s · m_s`, with `p_s` the share of the responses in segment `s`
//! and `m_s` their mean value. The change `ΔI = I₁ − I₀` splits exactly into one term per segment,
//! `explained_s = mix_s + rate_s`, with the midpoint (symmetric) weights so neither window is
//! favoured:
//!
//! - `rate_s = (m₁ − m₀) · (p₀ + p₁) / 2`: the segment's own responses got better or worse;
//! - `mix_s  = (p₁ − p₀) · ((m₀ + m₁) / 2 − (I₀ + I₁) / 2)`: the segment grew or shrank, which
//!   moves the index by how far the segment sits from the overall level (`Σ_s (p₁ − p₀) = 0`, so
//!   subtracting the overall level changes no total and makes each term readable on its own).
//!
//! `Σ_s explained_s = ΔI` exactly. A segment present in one window only has no mean in the other;
//! its mean there is taken equal to the one it has, so its whole effect is mix.
//!
//! Segments must partition the responses (shares adding up to 1). A response naming several
//! aspects counts `1/k` in each of its `k` aspects (and a response naming none in a segment of its
//! own), so weights are fractional. Inputs are sums and weights, never ratios: parts from several
//! replicas or buckets add up first, and the decomposition of the sum is exact.

/// Sums of one segment in one window: the weight of its responses and the sum of their values
/// (each response's value times its weight).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Part {
    pub weight: f64,
    pub sum: f64,
}

impl Part {
    pub fn add(&mut self, other: Part) {
        self.weight += other.weight;
        self.sum += other.sum;
    }

    fn mean(self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }
}

/// One segment's part in the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver<S> {
    pub segment: S,
    pub baseline: Part,
    pub current: Part,
    /// Share of the responses, baseline and current (0–1).
    pub share: (f64, f64),
    /// Mean value, baseline and current (None where the segment has no responses).
    pub mean: (Option<f64>, Option<f64>),
    pub mix: f64,
    pub rate: f64,
    /// `mix + rate`: the part of the index change this segment explains.
    pub explained: f64,
}

/// The whole decomposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposition<S> {
    /// The index in the baseline and current windows (None for an empty window).
    pub index: (Option<f64>, Option<f64>),
    /// `I₁ − I₀` (0 when either window is empty: nothing to explain).
    pub change: f64,
    /// Segments ranked by how much of the change they explain, in its direction first.
    pub drivers: Vec<Driver<S>>,
}

/// Decomposes the change of the index over `segments`: `(segment, baseline, current)`.
pub fn decompose<S: Clone>(segments: &[(S, Part, Part)]) -> Decomposition<S> {
    let total = |pick: fn(&(S, Part, Part)) -> Part| {
        let mut t = Part::default();
        for s in segments {
            t.add(pick(s));
        }
        t
    };
    let (t0, t1) = (total(|s| s.1), total(|s| s.2));
    let (i0, i1) = (t0.mean(), t1.mean());
    let (Some(level0), Some(level1)) = (i0, i1) else {
        return Decomposition {
            index: (i0, i1),
            change: 0.0,
            drivers: Vec::new(),
        };
    };
    let level = (level0 + level1) / 2.0;
    let change = level1 - level0;
    let mut drivers: Vec<Driver<S>> = segments
        .iter()
        .filter(|(_, b, c)| b.weight > 0.0 || c.weight > 0.0)
        .map(|(segment, b, c)| {
            let (p0, p1) = (b.weight / t0.weight, c.weight / t1.weight);
            let (m0, m1) = (b.mean(), c.mean());
            let (a0, a1) = (m0.or(m1).unwrap_or(0.0), m1.or(m0).unwrap_or(0.0));
            let rate = (a1 - a0) * (p0 + p1) / 2.0;
            let mix = (p1 - p0) * ((a0 + a1) / 2.0 - level);
            Driver {
                segment: segment.clone(),
                baseline: *b,
                current: *c,
                share: (p0, p1),
                mean: (m0, m1),
                mix,
                rate,
                explained: mix + rate,
            }
        })
        .collect();
    // In the direction of the change first (the biggest contributors to a drop are the most
    // negative), then those that worked against it.
    let sign = if change < 0.0 { -1.0 } else { 1.0 };
    drivers.sort_by(|a, b| (sign * b.explained).total_cmp(&(sign * a.explained)));
    Decomposition {
        index: (i0, i1),
        change,
        drivers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(weight: f64, mean: f64) -> Part {
        Part {
            weight,
            sum: weight * mean,
        }
    }

    #[test]
    fn hand_computed_drop_split_into_mix_and_rate() {
        // CSAT share (0/100 per response). Baseline: delivery 40 responses at 80, food 60 at 90
        // → I₀ = (3200 + 5400) / 100 = 86. Current: delivery 60 at 50, food 40 at 90
        // → I₁ = (3000 + 3600) / 100 = 66. ΔI = −20.
        let d = decompose(&[
            ("delivery", part(40.0, 80.0), part(60.0, 50.0)),
            ("food", part(60.0, 90.0), part(40.0, 90.0)),
        ]);
        assert_eq!(d.index, (Some(86.0), Some(66.0)));
        assert_eq!(d.change, -20.0);
        let delivery = &d.drivers[0];
        assert_eq!(delivery.segment, "delivery");
        // level = 76. delivery: rate = (50 − 80)·(0.4 + 0.6)/2 = −15;
        // mix = (0.6 − 0.4)·(65 − 76) = −2.2. food: rate 0; mix = (0.4 − 0.6)·(90 − 76) = −2.8.
        assert!((delivery.rate + 15.0).abs() < 1e-12);
        assert!((delivery.mix + 2.2).abs() < 1e-12);
        let food = &d.drivers[1];
        assert_eq!(food.rate, 0.0);
        assert!((food.mix + 2.8).abs() < 1e-12);
        assert_eq!(delivery.share, (0.4, 0.6));
        assert_eq!(food.mean, (Some(90.0), Some(90.0)));
        let explained: f64 = d.drivers.iter().map(|x| x.explained).sum();
        assert!((explained - d.change).abs() < 1e-12);
    }

    #[test]
    fn a_new_segment_is_all_mix_and_the_terms_still_add_up() {
        // Baseline: only "price" (10 at 60). Current: price 10 at 60 and a new "packaging"
        // segment, 10 at 0. I₀ = 60, I₁ = 30, level 45.
        let d = decompose(&[
            ("price", part(10.0, 60.0), part(10.0, 60.0)),
            ("packaging", Part::default(), part(10.0, 0.0)),
        ]);
        assert_eq!(d.change, -30.0);
        let packaging = &d.drivers[0];
        assert_eq!(packaging.segment, "packaging");
        assert_eq!(packaging.rate, 0.0);
        // (0.5 − 0)·(0 − 45) = −22.5; price: (0.5 − 1)·(60 − 45) = −7.5.
        assert_eq!(packaging.mix, -22.5);
        assert_eq!(d.drivers[1].mix, -7.5);
        assert_eq!(packaging.mean, (None, Some(0.0)));
    }

    #[test]
    fn parts_of_replicas_added_first_decompose_as_the_whole() {
        // Two replicas' (weight, sum) per segment, baseline then current. Added first, they give
        // exactly the decomposition of the whole stream.
        let p = |weight: f64, sum: f64| Part { weight, sum };
        let r1 = [
            ("x", p(3.0, 200.0), p(1.0, 0.0)),
            ("y", p(1.0, 100.0), p(5.0, 500.0)),
        ];
        let r2 = [
            ("x", p(1.0, 0.0), p(2.0, 200.0)),
            ("y", p(5.0, 500.0), p(2.0, 0.0)),
        ];
        let whole = [
            ("x", p(4.0, 200.0), p(3.0, 200.0)),
            ("y", p(6.0, 600.0), p(7.0, 500.0)),
        ];
        let mut added = r1;
        for (s, r) in added.iter_mut().zip(r2) {
            s.1.add(r.1);
            s.2.add(r.2);
        }
        let d = decompose(&added);
        assert_eq!(d, decompose(&whole));
        // I₀ = 800 / 10 = 80, I₁ = 700 / 10 = 70.
        assert_eq!(d.index, (Some(80.0), Some(70.0)));
    }

    #[test]
    fn an_empty_window_explains_nothing() {
        let d = decompose(&[("x", Part::default(), part(3.0, 100.0))]);
        assert_eq!(d.index, (None, Some(100.0)));
        assert_eq!(d.change, 0.0);
        assert!(d.drivers.is_empty());
    }
}
