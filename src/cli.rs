//! Command-line interface (clap derive). Each subcommand maps to one entry point in `main.rs`.

use std::net::SocketAddr;
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
    Demo(DemoArgs),
    /// Validate a config file; exits non-zero naming the offending field.
    CheckConfig(RunArgs),
    /// Score texts (arguments, or one per line on stdin) → JSON lines.
    Score(ScoreArgs),
    /// Train a sentiment model.
    Train(crate::tools::train::TrainArgs),
    /// Evaluate a sentiment model on labelled data.
    Eval(crate::tools::eval::EvalArgs),
    /// End-to-end throughput: produce generated events, consume them through the real pipeline.
    Bench(BenchArgs),
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
pub struct DemoArgs {
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:9898")]
    pub listen: SocketAddr,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Generated events per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Model artifact.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// Don't draw the live table (logs only).
    #[arg(long)]
    pub quiet: bool,
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

/// Text length of generated bench events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextLength {
    /// About 25 characters.
    Short,
    /// About 70 characters.
    Long,
    /// Half short, half long.
    Mixed,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events to produce and consume.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Text length of the events.
    #[arg(long, value_enum, default_value_t = TextLength::Short)]
    pub text: TextLength,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Use this broker instead of the in-process mock cluster (the topic "bench" must exist).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Model artifact.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// Produce at this steady rate (events/s) while the pipeline consumes, instead of in paused
    /// bursts: the latency then shows what the pipeline adds at that load, not queueing behind a
    /// burst. Pick a rate below the burst throughput.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the events a run with these arguments measures (JSON lines) to this file and
    /// exit, so another pipeline can be timed on the same messages (scripts/python-baseline.sh).
    #[arg(long)]
    pub write_events: Option<PathBuf>,
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
