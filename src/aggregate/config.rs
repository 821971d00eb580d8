//! The `[windows]` and `[dimensions]` sections: the rolling event-time windows, and which event
//! `dims` become Prometheus labels (with the cardinality guard's limits).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::dimensions::MAX_LABELS;
use super::windows::{window_label, WindowSpec};
use crate::invalid::{invalid, Invalid};

/// `[windows]` as written by the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsConfig {
    /// Rolling window lengths; each becomes a `window` label value ("5m", "1h", "24h", "7d").
    #[serde(default = "default_durations")]
    pub durations: Vec<String>,
    /// Buckets per window: a window advances in steps of duration / buckets.
    #[serde(default = "default_buckets")]
    pub buckets: usize,
    /// How far back window state is rebuilt after a restart or rebalance ("6h"). Unset: the
    /// longest window, so every window is exact. Shorter bounds the replay for very long windows;
    /// windows longer than this are then incomplete until they have run that long.
    #[serde(default)]
    pub max_replay: Option<String>,
}

fn default_durations() -> Vec<String> {
    vec!["5m".into(), "1h".into(), "24h".into()]
}
/// 60 buckets: a 5m window moves in 5 s steps, 1h in 1 min, 24h in 24 min.
const fn default_buckets() -> usize {
    60
}

impl Default for WindowsConfig {
    fn default() -> Self {
        WindowsConfig {
            durations: default_durations(),
            buckets: default_buckets(),
            max_replay: None,
        }
    }
}

/// `[windows]` checked.
#[derive(Debug, Clone)]
pub struct Windows {
    /// The windows, in the order written.
    pub specs: Vec<WindowSpec>,
    pub buckets: usize,
    /// How far back window state is rebuilt on assignment, in ms.
    pub replay_ms: i64,
}

impl WindowsConfig {
    pub fn validate(self) -> Result<Windows, Invalid> {
        if self.durations.is_empty() {
            return Err(invalid("windows.durations", "needs at least one window"));
        }
        if !(1..=3600).contains(&self.buckets) {
            return Err(invalid("windows.buckets", "must be between 1 and 3600"));
        }
        let mut specs: Vec<WindowSpec> = Vec::new();
        for (i, d) in self.durations.iter().enumerate() {
            let field = format!("windows.durations[{i}]");
            let parsed =
                humantime::parse_duration(d).map_err(|e| invalid(&field, format!("{d:?}: {e}")))?;
            let length_ms = parsed.as_millis() as i64;
            if length_ms < 1000 {
                return Err(invalid(&field, format!("{d:?} is shorter than one second")));
            }
            if length_ms % self.buckets as i64 != 0 {
                return Err(invalid(
                    &field,
                    format!(
                        "{d:?} does not divide into {} buckets of whole milliseconds",
                        self.buckets
                    ),
                ));
            }
            if specs.iter().any(|w| w.length_ms == length_ms) {
                return Err(invalid(&field, format!("{d:?} duplicates another window")));
            }
            specs.push(WindowSpec {
                label: window_label(length_ms),
                length_ms,
            });
        }
        let longest = specs.iter().map(|w| w.length_ms).max().unwrap_or(0);
        let replay_ms = match &self.max_replay {
            None => longest,
            Some(d) => {
                let ms = humantime::parse_duration(d)
                    .map_err(|e| invalid("windows.max_replay", format!("{d:?}: {e}")))?
                    .as_millis() as i64;
                ms.min(longest)
            }
        };
        Ok(Windows {
            specs,
            buckets: self.buckets,
            replay_ms,
        })
    }
}

/// `[dimensions]`: which `dims` of an event become Prometheus labels, and how many values each
/// may have. It has no other form once checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionsConfig {
    /// Event `dims` keys exported as labels on every index series.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// Most distinct values kept per label; further values are exported as "other".
    #[serde(default = "default_max_values")]
    pub max_values: usize,
    /// Optional allow-list per label: values not listed are exported as "other".
    #[serde(default)]
    pub allow: BTreeMap<String, Vec<String>>,
}

fn default_labels() -> Vec<String> {
    vec!["channel".into()]
}
/// 50 values per label keeps series in the low thousands even with three labels.
const fn default_max_values() -> usize {
    50
}

impl Default for DimensionsConfig {
    fn default() -> Self {
        DimensionsConfig {
            labels: default_labels(),
            max_values: default_max_values(),
            allow: BTreeMap::new(),
        }
    }
}

/// Label names manyi itself puts on index series.
const RESERVED_LABELS: &[&str] = &[
    "index", "window", "aspect", "le", "quantile", "job", "instance",
];

impl DimensionsConfig {
    pub fn validate(self) -> Result<DimensionsConfig, Invalid> {
        for (i, l) in self.labels.iter().enumerate() {
            if !valid_label_name(l) || RESERVED_LABELS.contains(&l.as_str()) {
                return Err(invalid(
                    format!("dimensions.labels[{i}]"),
                    format!("{l:?} is not usable as a Prometheus label name"),
                ));
            }
        }
        if self.labels.len() > MAX_LABELS {
            return Err(invalid(
                "dimensions.labels",
                format!("at most {MAX_LABELS} labels"),
            ));
        }
        if self.max_values == 0 {
            return Err(invalid("dimensions.max_values", "must be at least 1"));
        }
        for key in self.allow.keys() {
            if !self.labels.contains(key) {
                return Err(invalid(
                    format!("dimensions.allow.{key}"),
                    "is not one of dimensions.labels",
                ));
            }
        }
        Ok(self)
    }
}

fn valid_label_name(l: &str) -> bool {
    let mut bytes = l.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !l.starts_with("__")
}
