//! manyi (满意): Chinese customer feedback from Kafka → live satisfaction indices for Prometheus.
//!
//! ```text
//! Kafka ──► ingest (consumer, rebalance signal, offsets, dead letters, follow-ups)
//!   └─► pipeline (the async loop) ──► worker threads, one per core, partition-affine:
//!         decode ──► text ──► features ──► model ──► score ──► aggregate (dimensions, windows)
//!                                                                           │
//! Prometheus ◄── serve (/metrics, computed at scrape time from the windows) ◄┘
//! ```
//!
//! Every index is a mean of per-response values ([`score::indices`]; the measures defined in
//! config, [`score::measures`], too), kept as `(sum, count)` in event-time bucket rings
//! ([`aggregate::windows`]), so replicas add up exactly. The modules are
//! listed below in the order of the data flow; each uses only those before it
//! (`tests/layout.rs`). [`config`] composes each stage's own config section; [`tools`] holds the
//! offline commands (train, eval, backfill, bench, demo).

/// The field-and-reason error of every config section.
pub mod invalid;

/// Kafka message bytes → `Feedback`.
pub mod decode;

/// Normalisation, Traditional → Simplified, segmentation, clauses.
pub mod text;

/// Words → hashed sparse feature vector.
pub mod features;

/// The sentiment model artifact and its scoring.
pub mod model;

/// Per-response index values, aspect values and what an event adds to the configured measures.
pub mod score;

/// Dimensions, event-time windows, the live state.
pub mod aggregate;

/// Metrics and the HTTP endpoints.
pub mod serve;

/// The Kafka side: consumer, offsets, dead letters, follow-ups.
pub mod ingest;

/// The TOML file, composed from each stage's section.
pub mod config;

/// The async loop and the worker threads.
pub mod pipeline;

/// Offline commands: train, eval, backfill, bench, demo.
pub mod tools;

/// The command line.
pub mod cli;

pub use config::{Config, ConfigError, ValidConfig};
pub use decode::{decode, DecodeError, Feedback};
pub use model::Model;
pub use pipeline::{Pipeline, PipelineError};
pub use text::segment::Segmenter;
