//! Dimension labels of a series, with the cardinality guard.
//!
//! Dimension values come from producers and cannot be trusted. Each configured label keeps at most
//! `dimensions.max_values` distinct values (first come, first kept) and, when an allow-list is
//! configured, only listed values. Anything else is exported as `other` and counted in
//! `manyi_series_dropped_total{dimension}`, so a producer sending a million product ids costs
//! one series, not a million. A missing value is exported as `unknown`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::config::DimensionsConfig;
use crate::aggregate::windows::SeriesKey;
use crate::decode::Feedback;

/// Label value for values beyond the budget or outside the allow-list.
pub const OTHER: &str = "other";
/// Label value when an event lacks the dimension.
pub const UNKNOWN: &str = "unknown";
/// Longer values are treated as over budget: label values are for humans, not payloads.
pub const MAX_VALUE_BYTES: usize = 128;
/// Most dimension labels a series may have (checked by config validation).
pub const MAX_LABELS: usize = 8;

/// Maps an event's `dims` to a [`SeriesKey`], shared by all workers.
#[derive(Debug)]
pub struct DimensionGuard {
    labels: Vec<String>,
    max_values: usize,
    allow: Vec<Option<HashSet<String>>>,
    /// Admitted values per label.
    admitted: Vec<RwLock<HashSet<Box<str>>>>,
    /// Keys already built, so the hot path does not allocate for known series.
    /// Keys by the hash of their values (collisions share a list).
    keys: RwLock<HashMap<u64, Vec<SeriesKey>>>,
    hasher: std::collections::hash_map::RandomState,
}

/// The outcome of mapping one event.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub key: SeriesKey,
    /// Index of each label whose value went to `other` (at most one entry per label).
    pub dropped: Vec<usize>,
}

impl DimensionGuard {
    pub fn new(cfg: &DimensionsConfig) -> DimensionGuard {
        DimensionGuard {
            labels: cfg.labels.clone(),
            max_values: cfg.max_values,
            allow: cfg
                .labels
                .iter()
                .map(|l| cfg.allow.get(l).map(|v| v.iter().cloned().collect()))
                .collect(),
            admitted: cfg
                .labels
                .iter()
                .map(|_| RwLock::new(HashSet::new()))
                .collect(),
            keys: RwLock::new(HashMap::new()),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The series key of `fb`.
    pub fn map(&self, fb: &Feedback) -> Mapped {
        // Values on the stack: a known series costs no allocation.
        let mut values = [""; MAX_LABELS];
        let n = self.labels.len().min(MAX_LABELS);
        let mut dropped = Vec::new();
        for (i, label) in self.labels.iter().take(n).enumerate() {
            values[i] = match fb.dim(label) {
                None | Some("") => UNKNOWN,
                Some(v) if self.admit(i, v) => v,
                Some(_) => {
                    dropped.push(i);
                    OTHER
                }
            };
        }
        let values = &values[..n];
        let hash = {
            use std::hash::BuildHasher;
            self.hasher.hash_one(values)
        };
        let same = |k: &SeriesKey| {
            k.len() == values.len() && k.iter().zip(values).all(|(a, b)| &**a == *b)
        };
        if let Some(k) = self
            .keys
            .read()
            .expect("dimension key lock")
            .get(&hash)
            .and_then(|l| l.iter().find(|k| same(k)))
        {
            return Mapped {
                key: k.clone(),
                dropped,
            };
        }
        let mut keys = self.keys.write().expect("dimension key lock");
        let list = keys.entry(hash).or_default();
        let key = match list.iter().find(|k| same(k)) {
            Some(k) => k.clone(),
            None => {
                let k: SeriesKey = values
                    .iter()
                    .map(|v| Box::<str>::from(*v))
                    .collect::<Vec<_>>()
                    .into();
                list.push(k.clone());
                k
            }
        };
        Mapped { key, dropped }
    }

    fn admit(&self, i: usize, value: &str) -> bool {
        if value.len() > MAX_VALUE_BYTES || value == OTHER || value == UNKNOWN {
            return value == OTHER || value == UNKNOWN;
        }
        if let Some(allow) = &self.allow[i] {
            return allow.contains(value);
        }
        if self.admitted[i]
            .read()
            .expect("dimension lock")
            .contains(value)
        {
            return true;
        }
        let mut admitted = self.admitted[i].write().expect("dimension lock");
        if admitted.contains(value) {
            return true;
        }
        if admitted.len() >= self.max_values {
            return false;
        }
        admitted.insert(value.into());
        true
    }
}

/// One worker's memo of [`DimensionGuard::map`]: the raw dimension values of an event → its
/// mapping. A known combination then costs no lock and no shared reference count, which the two
/// workers would otherwise bounce between their cores on every message. Valid because the
/// guard's decisions never change: an admitted value stays admitted, and a budget once full
/// stays full. Holds at most [`KeyCache::CAPACITY`] combinations; events beyond go to the guard.
#[derive(Default)]
pub struct KeyCache {
    by_hash: HashMap<u64, Vec<(RawValues, Mapped)>, rustc_hash::FxBuildHasher>,
    len: usize,
    /// The last fallback result, for combinations the cache had no room for.
    overflow: Option<Mapped>,
}

/// An event's dimension values in label order, "" for a missing one.
type RawValues = Box<[Box<str>]>;

impl KeyCache {
    pub const CAPACITY: usize = 4096;

    /// The mapping of `fb`, as `guard.map(fb)` gives it.
    pub fn map(&mut self, guard: &DimensionGuard, fb: &Feedback) -> &Mapped {
        // A missing value and an empty one map alike (to `unknown`): both are "" here.
        let mut raw = [""; MAX_LABELS];
        let n = guard.labels.len().min(MAX_LABELS);
        for (i, label) in guard.labels.iter().take(n).enumerate() {
            raw[i] = fb.dim(label).unwrap_or("");
        }
        let raw = &raw[..n];
        let hash = {
            use std::hash::BuildHasher;
            rustc_hash::FxBuildHasher.hash_one(raw)
        };
        let same =
            |k: &[Box<str>]| k.len() == raw.len() && k.iter().zip(raw).all(|(a, b)| &**a == *b);
        let found = self
            .by_hash
            .get(&hash)
            .and_then(|l| l.iter().position(|(k, _)| same(k)));
        if let Some(i) = found {
            return &self.by_hash[&hash][i].1;
        }
        let mapped = guard.map(fb);
        if self.len >= Self::CAPACITY {
            return self.overflow.insert(mapped);
        }
        let key: RawValues = raw.iter().map(|v| Box::from(*v)).collect();
        let list = self.by_hash.entry(hash).or_default();
        list.push((key, mapped));
        self.len += 1;
        &list.last().expect("just pushed").1
    }
}

/// Builds the guard once for the pipeline.
pub fn guard(cfg: &DimensionsConfig) -> Arc<DimensionGuard> {
    Arc::new(DimensionGuard::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Kind, Scores};
    use std::collections::BTreeMap;

    fn fb(dims: &[(&str, &str)]) -> Feedback {
        Feedback {
            id: "x".into(),
            event_time_ms: 0,
            kind: Kind::Review,
            text: None,
            scores: Scores::default(),
            dims: dims
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields: vec![],
        }
    }

    fn cfg(max_values: usize, allow: &[(&str, &[&str])]) -> DimensionsConfig {
        DimensionsConfig {
            labels: vec!["channel".into(), "product".into()],
            max_values,
            allow: allow
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn parts(m: &Mapped) -> Vec<&str> {
        m.key.iter().map(|s| &**s).collect()
    }

    /// The per-worker memo answers exactly what the guard answers: admitted values, the excess
    /// over the budget (with its dropped label), missing and empty values, and events beyond
    /// the memo's capacity.
    #[test]
    fn key_cache_maps_like_the_guard() {
        let g = DimensionGuard::new(&cfg(3, &[("channel", &["app", "web"])]));
        let reference = DimensionGuard::new(&cfg(3, &[("channel", &["app", "web"])]));
        let mut cache = KeyCache::default();
        let mut events = Vec::new();
        for i in 0..(KeyCache::CAPACITY + 50) {
            let product = format!("p{}", i % 7);
            let channel = ["app", "web", "store", ""][i % 4];
            events.push(fb(&[("channel", channel), ("product", &product)]));
            events.push(fb(&[("product", &format!("q{i}"))]));
            events.push(fb(&[]));
        }
        for e in &events {
            let got = cache.map(&g, e).clone();
            let want = reference.map(e);
            assert_eq!(parts(&got), parts(&want), "{:?}", e.dims);
            assert_eq!(got.dropped, want.dropped, "{:?}", e.dims);
        }
        assert_eq!(cache.len, KeyCache::CAPACITY);
    }

    #[test]
    fn budget_sends_the_excess_to_other_and_reports_it() {
        let g = DimensionGuard::new(&cfg(2, &[]));
        assert_eq!(
            parts(&g.map(&fb(&[("channel", "app"), ("product", "p1")]))),
            ["app", "p1"]
        );
        assert_eq!(
            parts(&g.map(&fb(&[("channel", "app"), ("product", "p2")]))),
            ["app", "p2"]
        );
        let m = g.map(&fb(&[("channel", "app"), ("product", "p3")]));
        assert_eq!(parts(&m), ["app", "other"]);
        assert_eq!(m.dropped, [1]);
        // Admitted values stay admitted.
        assert_eq!(
            parts(&g.map(&fb(&[("channel", "app"), ("product", "p1")]))),
            ["app", "p1"]
        );
    }

    #[test]
    fn allow_list_and_missing_values() {
        let g = DimensionGuard::new(&cfg(100, &[("channel", &["app", "web"])]));
        assert_eq!(
            parts(&g.map(&fb(&[("channel", "fax")]))),
            ["other", "unknown"]
        );
        assert_eq!(
            parts(&g.map(&fb(&[("channel", "web")]))),
            ["web", "unknown"]
        );
    }

    #[test]
    fn a_million_distinct_values_keep_a_bounded_key_table() {
        let g = DimensionGuard::new(&cfg(10, &[]));
        for i in 0..100_000 {
            g.map(&fb(&[("channel", "app"), ("product", &format!("sku-{i}"))]));
        }
        assert_eq!(
            g.keys.read().unwrap().values().map(Vec::len).sum::<usize>(),
            11
        );
    }

    #[test]
    fn over_long_values_are_other() {
        let g = DimensionGuard::new(&cfg(10, &[]));
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(
            parts(&g.map(&fb(&[("channel", &long)]))),
            ["other", "unknown"]
        );
    }
}
