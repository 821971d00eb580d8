//! Event-time rolling windows: per series, per window, a ring of time buckets holding
//! `(sum, count)` for every accumulator (indices, NPS categories, aspects).
//!
//! Semantics (also in the README):
//! - A window of length `D` with `B` buckets moves in steps of `D / B`. At time `T` it covers the
//!   `B` buckets ending with the bucket that contains `T`; `T = max(wall clock, newest event time)`.
//!   So a quiet stream empties its windows as the clock moves on: nothing stale looks live forever.
//! - An event lands in the bucket of its own event time, in every window that still covers that
//!   time. Out-of-order events are therefore exact as long as they are younger than the window.
//! - An event older than the start of the longest window is `late`: counted, never applied.
//!
//! Stores are plain data with explicit times (no clock inside), one per Kafka partition so a
//! revoked partition's state can be dropped whole; [`merge`] adds them up at scrape time.

mod store;

pub use store::{merge, Acc, Applied, Layout, PartitionStore, SeriesKey, Snapshot, WindowSnapshot};

/// One rolling window, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// Stable label value, e.g. "5m".
    pub label: String,
    pub length_ms: i64,
}

/// Stable label: the largest unit that divides the length ("5m", "1h", "24h" stays "24h", "7d").
pub fn window_label(length_ms: i64) -> String {
    const UNITS: &[(i64, &str)] = &[
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
    ];
    if length_ms == 86_400_000 {
        return "24h".to_owned();
    }
    for (unit, suffix) in UNITS {
        if length_ms % unit == 0 {
            return format!("{}{}", length_ms / unit, suffix);
        }
    }
    format!("{length_ms}ms")
}

#[cfg(test)]
mod tests {
    use super::window_label;

    #[test]
    fn window_labels_are_stable() {
        assert_eq!(window_label(300_000), "5m");
        assert_eq!(window_label(3_600_000), "1h");
        assert_eq!(window_label(86_400_000), "24h");
        assert_eq!(window_label(7 * 86_400_000), "7d");
        assert_eq!(window_label(90_000), "90s");
    }
}
