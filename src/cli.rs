//! Command-line interface (clap derive). Each subcommand maps to one entry point in `main.rs`;
//! the offline tools declare their own arguments beside their code (`tools::train::TrainArgs` …).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::DEFAULT_MODEL_PATH;

/// manyi (满意): Chinese customer feedback from Kafka → live satisfaction indices for Prometheus.
#[derive(Debug, Parser)]
#[command(name = "manyi", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consume the configured topics and serve the indices (production).
    Run(RunArgs),
    /// Run everything on an embedded Kafka mock cluster with a generated stream.
    Demo(crate::tools::demo::DemoArgs),
    /// Validate a config file; exits non-zero naming the offending field.
    CheckConfig(RunArgs),
    /// Score texts (arguments, or one per line on stdin) → JSON lines.
    Score(ScoreArgs),
    /// Train a sentiment model.
    Train(crate::tools::train::TrainArgs),
    /// Evaluate a sentiment model on labelled data.
    Eval(crate::tools::eval::EvalArgs),
    /// End-to-end throughput: produce generated events, consume them through the real pipeline.
    Bench(crate::tools::bench::BenchArgs),
    /// Replay past feedback into OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
    Backfill(BackfillArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML config file (see config/manyi.toml).
    #[arg(long, short, default_value = "config/manyi.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Texts to score; without any, reads one text per line from stdin.
    pub texts: Vec<String>,
    /// Model artifact.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// P(positive) below this is negative.
    #[arg(long, default_value_t = 0.4)]
    pub negative_below: f64,
    /// P(positive) above this is positive.
    #[arg(long, default_value_t = 0.6)]
    pub positive_above: f64,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// TOML config file (topics, windows, dimensions, model).
    #[arg(long, short, default_value = "config/manyi.toml")]
    pub config: PathBuf,
    /// First sample time, RFC 3339 (e.g. 2026-11-01T00:00:00+08:00).
    #[arg(long)]
    pub from: String,
    /// Last sample time, RFC 3339 (default: now; reading stops at the end offsets seen at start).
    #[arg(long)]
    pub until: Option<String>,
    /// Time between two samples of every series.
    #[arg(long, default_value = "1m")]
    pub step: String,
    /// OpenMetrics output file.
    #[arg(long)]
    pub out: PathBuf,
}
