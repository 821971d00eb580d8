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
