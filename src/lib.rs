//! manyi (满意): Chinese customer feedback from Kafka → live satisfaction indices for Prometheus.
//!
//! ```text
//! Kafka ──► source (consumer, rebalance signal, offsets, dead letters)
//!   └─► pipeline (the async loop) ──► worker threads, one per core, partition-affine:
//!         decode ──► segment ──► features ──► model ──► score ──► dimensions ──► windows
//!                                                                                 │
//! Prometheus ◄── metrics (/metrics, computed at scrape time from the windows) ◄──┘
//! ```
//!
//! Every index is a mean of per-response values ([`indices`]), kept as `(sum, count)` in
//! event-time bucket rings ([`windows`]), so replicas add up exactly.

pub mod aggregate;
pub mod cli;
pub mod config;
pub mod decode;
pub mod features;
pub mod ingest;
pub mod invalid;
pub mod model;
pub mod pipeline;
pub mod score;
pub mod serve;
pub mod text;
pub mod tools;

pub use config::{Config, ConfigError, ValidConfig};
pub use decode::{decode, DecodeError, Feedback};
pub use model::Model;
pub use pipeline::{Pipeline, PipelineError};
pub use text::segment::Segmenter;
