//! Bounded heavy hitters: which terms of negative texts are frequent in a window, in a fixed
//! number of counters, and which of them are new against a baseline window.
//!
//! The sketch is Misra–Gries with `k` counters, the mergeable form of space-saving (Agarwal et
//! al., "Mergeable Summaries", PODS 2012). For a stream of total weight `N`, every count it
//! keeps is a lower bound of the term's true count, and no term is undercounted by more than
//! [`HeavyHitters::slack`] `= (N − Σ kept counts) / (k + 1) ≤ N / (k + 1)`. A term absent from the
//! sketch occurred at most `slack` times. Two sketches merge into one with the same guarantee
//! for the union of their streams, whatever the merge order: per-bucket sketches add up into a
//! window's, and replicas' into a global one.
//!
//! Memory is `k` entries (term, count) per sketch, whatever the stream.

use std::collections::HashMap;
use std::hash::Hash;

/// A Misra–Gries summary of a weighted stream of terms.
#[derive(Debug, Clone, PartialEq)]
pub struct HeavyHitters<T: Eq + Hash> {
    capacity: usize,
    counts: HashMap<T, u64>,
    /// Total weight seen (the `N` of the bounds).
    total: u64,
}

impl<T: Eq + Hash + Clone> HeavyHitters<T> {
    /// An empty sketch with `capacity` counters (at least 1).
    pub fn new(capacity: usize) -> HeavyHitters<T> {
        let capacity = capacity.max(1);
        HeavyHitters {
            capacity,
            counts: HashMap::with_capacity(capacity + 1),
            total: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Total weight inserted, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts `term` `weight` more times.
    pub fn insert(&mut self, term: T, weight: u64) {
        if weight == 0 {
            return;
        }
        self.total += weight;
        *self.counts.entry(term).or_insert(0) += weight;
        if self.counts.len() > self.capacity {
            self.shrink();
        }
    }

    /// Adds `other`'s summary: afterwards `self` summarises both streams, with the same bounds.
    /// Both have the same capacity (the bound is per capacity; sketches of one configuration
    /// always do).
    pub fn merge(&mut self, other: &HeavyHitters<T>) {
        assert_eq!(
            self.capacity, other.capacity,
            "merging sketches of different capacity"
        );
        self.total += other.total;
        for (t, &c) in &other.counts {
            *self.counts.entry(t.clone()).or_insert(0) += c;
        }
        if self.counts.len() > self.capacity {
            self.shrink();
        }
    }

    /// The kept lower bound of `term`'s count (0 if it is not kept).
    pub fn count(&self, term: &T) -> u64 {
        self.counts.get(term).copied().unwrap_or(0)
    }

    /// How much any count may be below the truth: `(N − Σ kept) / (k + 1)`, rounded down
    /// (the true bound is an integer: each decrement round removes `k + 1` at once).
    pub fn slack(&self) -> u64 {
        let kept: u64 = self.counts.values().sum();
        (self.total - kept) / (self.capacity as u64 + 1)
    }

    /// The kept terms with their lower-bound counts, largest first (ties in no particular order).
    pub fn top(&self) -> Vec<(&T, u64)> {
        let mut v: Vec<(&T, u64)> = self.counts.iter().map(|(t, &c)| (t, c)).collect();
        v.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
        v
    }

    /// Subtracts the (k+1)-th largest count from every counter and drops those at or below 0,
    /// leaving at most `k`. Each unit subtracted stands for `k + 1` units of the stream.
    fn shrink(&mut self) {
        let mut values: Vec<u64> = self.counts.values().copied().collect();
        let k = self.capacity;
        let (_, &mut cut, _) = values.select_nth_unstable_by(k, |a, b| b.cmp(a));
        self.counts.retain(|_, c| {
            *c = c.saturating_sub(cut);
            *c > 0
        });
    }
}

/// A term that is frequent now and was rare in the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Emerging<T> {
    pub term: T,
    /// Lower bound of its count in the current window.
    pub current: u64,
    /// Upper bound of its count in the baseline window.
    pub baseline: u64,
    /// `(current / N_current) / ((baseline + 1) / (N_baseline + 1))`: how many times more
    /// frequent it is now, with one pseudo-count so a term never seen before has a finite lift.
    pub lift: f64,
}

/// Terms of `current` with at least `min_count` occurrences, ranked by lift against `baseline`,
/// at most `limit`. Conservative on both sides: the current count is the sketch's lower bound,
/// the baseline count its upper bound (`count + slack`), so a lift is never overstated by the
/// sketch's error.
pub fn emerging<T: Eq + Hash + Clone + Ord>(
    current: &HeavyHitters<T>,
    baseline: &HeavyHitters<T>,
    min_count: u64,
    limit: usize,
) -> Vec<Emerging<T>> {
    let n_now = current.total().max(1) as f64;
    let n_base = baseline.total() as f64 + 1.0;
    let slack = baseline.slack();
    let mut out: Vec<Emerging<T>> = current
        .top()
        .into_iter()
        .filter(|&(_, c)| c >= min_count.max(1))
        .map(|(t, c)| {
            let b = baseline.count(t) + slack;
            Emerging {
                term: t.clone(),
                current: c,
                baseline: b,
                lift: (c as f64 / n_now) / ((b as f64 + 1.0) / n_base),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.current.cmp(&a.current))
            .then(a.term.cmp(&b.term))
    });
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn exact(stream: &[(u16, u64)]) -> BTreeMap<u16, u64> {
        let mut m = BTreeMap::new();
        for &(t, w) in stream {
            *m.entry(t).or_insert(0) += w;
        }
        m
    }

    /// The Misra–Gries guarantee against exact counts: every kept count is a lower bound within
    /// `slack`, an absent term occurred at most `slack` times, and `slack ≤ N / (k + 1)`.
    fn check_bounds(s: &HeavyHitters<u16>, truth: &BTreeMap<u16, u64>) {
        let n: u64 = truth.values().sum();
        assert_eq!(s.total(), n);
        assert!(s.counts.len() <= s.capacity());
        let slack = s.slack();
        assert!(
            slack <= n / (s.capacity() as u64 + 1),
            "slack {slack}, N {n}"
        );
        for (t, &c) in truth {
            let est = s.count(t);
            assert!(est <= c, "term {t}: kept {est} > true {c}");
            assert!(
                c - est <= slack,
                "term {t}: true {c}, kept {est}, slack {slack}"
            );
        }
    }

    /// A skewed stream: term `i` drawn with probability ∝ 1 / (i + 1)^1.2 (Zipf-like, as words
    /// are), weights 1–3.
    fn skewed(max_len: usize) -> impl Strategy<Value = Vec<(u16, u64)>> {
        prop::collection::vec((0.0f64..1.0, 1u64..=3), 0..max_len).prop_map(|draws| {
            let weights: Vec<f64> = (0..500).map(|i| 1.0 / ((i + 1) as f64).powf(1.2)).collect();
            let total: f64 = weights.iter().sum();
            draws
                .into_iter()
                .map(|(u, w)| {
                    let mut acc = 0.0;
                    let mut term = weights.len() - 1;
                    for (i, p) in weights.iter().enumerate() {
                        acc += p / total;
                        if u < acc {
                            term = i;
                            break;
                        }
                    }
                    (term as u16, w)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn counts_stay_within_the_bound_on_skewed_streams(
            stream in skewed(3_000),
            k in 1usize..64,
        ) {
            let mut s = HeavyHitters::new(k);
            for &(t, w) in &stream {
                s.insert(t, w);
            }
            check_bounds(&s, &exact(&stream));
        }

        #[test]
        fn merged_sketches_keep_the_bound_of_the_whole_stream(
            stream in skewed(3_000),
            k in 1usize..64,
            cuts in prop::collection::vec(0.0f64..1.0, 1..6),
        ) {
            // The stream cut into parts (buckets, replicas), each summarised alone, merged in
            // a chain.
            let mut at: Vec<usize> = cuts.iter().map(|c| (c * stream.len() as f64) as usize).collect();
            at.push(0);
            at.push(stream.len());
            at.sort_unstable();
            let mut merged = HeavyHitters::new(k);
            for w in at.windows(2) {
                let mut part = HeavyHitters::new(k);
                for &(t, wt) in &stream[w[0]..w[1]] {
                    part.insert(t, wt);
                }
                merged.merge(&part);
            }
            check_bounds(&merged, &exact(&stream));
        }
    }

    #[test]
    fn a_term_above_n_over_k_plus_one_is_always_kept() {
        // 10 counters, 1,000 units of noise over 900 distinct terms and one term 125 times:
        // 125 > 1,125 / 11.
        let mut s = HeavyHitters::new(10);
        for i in 0..1_000u32 {
            s.insert(1 + i % 900, 1);
            if i % 8 == 0 {
                s.insert(0, 1);
            }
        }
        assert!(s.count(&0) > 0);
        assert!(s.count(&0) + s.slack() >= 125);
    }

    #[test]
    fn emerging_ranks_a_new_term_first_and_respects_the_minimum_count() {
        let mut base = HeavyHitters::new(16);
        let mut now = HeavyHitters::new(16);
        for _ in 0..50 {
            base.insert("慢", 2);
            base.insert("贵", 1);
            now.insert("慢", 2);
        }
        for _ in 0..20 {
            now.insert("洒了", 1);
        }
        now.insert("漏发", 2);
        let top = emerging(&now, &base, 3, 10);
        assert_eq!(top.len(), 2, "漏发 has 2 < 3 occurrences: {top:?}");
        assert_eq!(top[0].term, "洒了");
        assert_eq!(top[0].current, 20);
        assert_eq!(top[0].baseline, 0);
        // N = 122 now, 150 in the baseline: (20 / 122) / ((0 + 1) / (150 + 1)).
        assert!((top[0].lift - 20.0 / 122.0 * 151.0).abs() < 1e-9);
        assert_eq!(top[1].term, "慢");
        assert!((top[1].lift - (100.0 / 122.0) / (101.0 / 151.0)).abs() < 1e-9);
    }
}
