//! `manyi adapt`: learns the user's own domain from events that carry both a text and a survey
//! score, and writes the adapted model only if it is better than the current one on the newest
//! events.
//!
//! 1. Events are read from the configured topics' history (`--config`, `--from`, `--until`;
//!    a consumer group of its own that never commits, see [`super::history`]) or from a file
//!    (`--data`, one message per line), and decoded as the pipeline decodes them; undecodable
//!    messages are counted by reason.
//! 2. Scores become weak labels ([`crate::model::weak`]): one pair per distinct text, texts with
//!    both labels dropped.
//! 3. The newest `--newest` share (20 %) by event time is held out: the model will be trained on
//!    the past and used on what comes next, so that is how it is judged.
//! 4. The challenger starts from the champion: its logit is `a · champion_logit + Σ wᵢ xᵢ + b`,
//!    a correction fitted (L2, linfa-logistic) on the older pairs over the champion's own
//!    features, with the champion's logit as one more column. The correction collapses into the
//!    champion's weights (`a · vᵢ + wᵢ`), so the adapted artifact has the same form and speed;
//!    words the domain never uses keep the champion's weights. The L2 strength (how far the
//!    domain may pull the model) is chosen on the newest 20 % of the older part only, then the
//!    correction is refitted on all of it.
//! 5. Champion and challenger are compared on the held-out newest pairs, with a paired
//!    bootstrap. The artifact is written when the lower end of the accuracy gain's 95 % interval
//!    is above 0, or with `--force` (recorded). It records where it came from
//!    ([`Adaptation`]); `manyi run` picks it up with the usual hot reload.

use std::collections::BTreeMap;
use std::path::PathBuf;

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ShapeBuilder};
use rdkafka::message::Message;
use sha2::{Digest, Sha256};

use super::eval::DEFAULT_BOOTSTRAP;
use super::history::{self, parse_time, BadTime, HistoryError};
use super::train::{select_columns, Columns};
use crate::config::ValidConfig;
use crate::decode::{decode_keeping, DecodeLimits, Feedback, Keep};
use crate::features::{Featurizer, SparseVec};
use crate::model::metrics::compare;
use crate::model::weak::{self, WeakLabelRules, WeakPair};
use crate::model::{
    featurize, Adaptation, AlphaResult, Label, Metrics, Model, ModelError, Platt, Prior,
    DEFAULT_MODEL_PATH,
};
use crate::text::segment::Segmenter;

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "data"])))]
pub struct AdaptArgs {
    /// Read the history of this config's topics (its `[kafka]`, `[limits]`, `[segmenter]`,
    /// `[adapt]` and model path apply).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Read events from this file instead, one JSON message per line (the Kafka message format).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With --config: the first message time to read, RFC 3339 (default: the oldest kept).
    #[arg(long)]
    pub from: Option<String>,
    /// With --config: the last message time to read, RFC 3339 (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// The current model (the champion) the new one starts from and is compared with (default:
    /// the config's `[model] path`, else the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where to write the adapted model; written only if it wins (or with --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Name of the adapted model, the first part of its version.
    #[arg(long, default_value = "adapted")]
    pub name: String,
    /// Share of the labelled texts, the newest by event time, held out for the comparison.
    #[arg(long, default_value_t = 0.2)]
    pub newest: f64,
    /// L2 strengths tried for the correction: larger keeps the model closer to the champion.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_ALPHA)]
    pub alpha: Vec<f32>,
    /// Write the model even if it does not beat the champion (the artifact says so).
    #[arg(long)]
    pub force: bool,
    /// Resamples of the paired bootstrap.
    #[arg(long, default_value_t = DEFAULT_BOOTSTRAP)]
    pub bootstrap: usize,
    /// Jieba user dictionary.
    #[arg(long)]
    pub user_dict: Option<PathBuf>,
}

/// Default `--alpha`: from a light touch to a strong pull towards the champion, for a few
/// hundred to a few thousand domain texts.
pub const DEFAULT_ALPHA: [f32; 5] = [1.0, 3.0, 10.0, 30.0, 100.0];

/// Seed of the bootstrap: fixed, so a run can be repeated.
const SEED: u64 = 0x0061_6461_7074;

/// The champion's logit enters the fit multiplied by this, so its coefficient is small and the
/// L2 penalty hardly pulls the champion's part towards 0 (the correction is what is penalised).
const BASE_SCALE: f32 = 10.0;

/// A word must occur in at least this many older texts to get a correction.
const MIN_DF: usize = 2;

/// At most this many correction columns (most frequent first); bounds the fit's memory.
const MAX_COLUMNS: usize = 20_000;

/// Fewest held-out texts of each label for a comparison worth making.
const MIN_PER_LABEL: usize = 10;

/// What a run decided.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub adaptation: Adaptation,
    /// The model was written to `--out`.
    pub written: bool,
}

/// Why `manyi adapt` could not run.
#[derive(Debug, thiserror::Error)]
pub enum AdaptError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Time(#[from] BadTime),
}

/// The events to learn from, decoded, and where they came from.
struct Source {
    events: Vec<Feedback>,
    undecodable: BTreeMap<String, usize>,
    description: String,
    sha256: Option<String>,
}

/// Runs `manyi adapt` as `args` describe, with `cfg` when `--config` was given. A challenger
/// that does not win is not written, which is an outcome, not an error.
pub fn run(args: &AdaptArgs, cfg: Option<&ValidConfig>) -> Result<Outcome, AdaptError> {
    let default_rules = WeakLabelRules::default();
    let rules = cfg.map_or(&default_rules, |c| &c.adapt);
    let source = read_source(args, cfg)?;
    let (events, undecodable) = (&source.events, source.undecodable.clone());
    let (pairs, weak_labels) = weak::pairs(events, rules);
    eprintln!(
        "adapt: {} events, {} undecodable; {} labelled texts ({} without text, {} without a \
         label, {} repeats, {} texts with both labels dropped)",
        weak_labels.events,
        undecodable.values().sum::<usize>(),
        pairs.len(),
        weak_labels.without_text,
        weak_labels.without_label,
        weak_labels.repeated,
        weak_labels.conflicting_texts
    );
    let (older, newest) = weak::split_newest(pairs, args.newest);
    check_sizes(&older, &newest)?;
    let model_path = args
        .model
        .clone()
        .or_else(|| cfg.map(|c| c.model.path.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_PATH));
    let champion = Model::open(&model_path)?;
    let user_dict = args
        .user_dict
        .clone()
        .or_else(|| cfg.and_then(|c| c.segmenter.user_dict.clone()));
    let segmenter = Segmenter::new(user_dict.as_deref()).map_err(ModelError::from)?;
    let featurizer =
        Featurizer::new(champion.featurizer().spec().clone()).map_err(ModelError::from)?;
    let older_rows = Rows::of(&older, &champion, &featurizer, &segmenter);
    let newest_rows = Rows::of(&newest, &champion, &featurizer, &segmenter);

    let fitted = fit_challenger(&older, &older_rows, &featurizer, &args.alpha)?;
    let challenger = combine(&champion, featurizer, &fitted, &args.name)?;
    let p_champion: Vec<f64> = newest_rows.p(&champion);
    let p_challenger: Vec<f64> = newest_rows.p(&challenger);
    let comparison = compare(
        &newest_rows.labels,
        &p_champion,
        &p_challenger,
        args.bootstrap.max(1),
        SEED,
    )
    .ok_or_else(|| {
        ModelError::Dataset("the held-out texts need both labels to compare models".into())
    })?;
    let wins = comparison.challenger_wins();
    let adaptation = Adaptation {
        champion_version: champion.version().to_string(),
        source: source.description.clone(),
        source_sha256: source.sha256.clone(),
        event_time_range_ms: [
            older.first().map_or(0, |p| p.event_time_ms),
            newest.last().map_or(0, |p| p.event_time_ms),
        ],
        held_out_from_ms: newest.first().map_or(0, |p| p.event_time_ms),
        undecodable,
        weak_labels,
        weak_label_rules: rules.clone(),
        older_texts: older.len(),
        held_out_texts: newest.len(),
        alpha: fitted.alpha,
        alpha_grid: fitted.grid.clone(),
        champion_weight: fitted.champion_weight,
        comparison,
        forced: args.force && !wins,
    };
    let written = wins || args.force;
    if written {
        let mut metadata = challenger.metadata().clone();
        metadata.adaptation = Some(adaptation.clone());
        challenger.with_metadata(metadata).save(&args.out)?;
    }
    Ok(Outcome {
        adaptation,
        written,
    })
}

/// Reads `--data`, or else the history of `cfg`'s topics.
fn read_source(args: &AdaptArgs, cfg: Option<&ValidConfig>) -> Result<Source, AdaptError> {
    let default_limits = DecodeLimits::default();
    let limits = cfg.map_or(&default_limits, |c| &c.limits);
    let mut events = Vec::new();
    let mut undecodable: BTreeMap<String, usize> = BTreeMap::new();
    // Adapt reads texts and scores only: other fields are skipped, as on the hot path.
    let mut take = |payload: &[u8], kafka_ts_ms: Option<i64>| match decode_keeping(
        payload,
        kafka_ts_ms,
        limits,
        Keep::Only(&[]),
    ) {
        Ok(fb) => events.push(fb),
        Err(e) => *undecodable.entry(e.code().to_string()).or_default() += 1,
    };
    let (description, sha256) = match (&args.data, cfg) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
                path: path.clone(),
                source,
            })?;
            for line in bytes.split(|&b| b == b'\n') {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    take(line, None);
                }
            }
            let hash = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (path.display().to_string(), Some(hash))
        }
        (None, Some(cfg)) => {
            let from = time("--from", args.from.as_deref())?.unwrap_or(0);
            let until = time("--until", args.until.as_deref())?
                .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
            history::read(cfg, "adapt", from, until, |msg| {
                take(
                    msg.payload().unwrap_or_default(),
                    msg.timestamp().to_millis(),
                );
            })?;
            let described = format!(
                "kafka topics {} from {} until {}",
                cfg.kafka.topics.join(","),
                args.from.as_deref().unwrap_or("the oldest message"),
                args.until.as_deref().unwrap_or("now")
            );
            (described, None)
        }
        (None, None) => unreachable!("clap requires --config or --data"),
    };
    Ok(Source {
        events,
        undecodable,
        description,
        sha256,
    })
}

/// Parses an optional RFC 3339 flag into Unix milliseconds.
fn time(field: &'static str, value: Option<&str>) -> Result<Option<i64>, BadTime> {
    value.map(|v| parse_time(field, v)).transpose()
}

fn check_sizes(older: &[WeakPair], newest: &[WeakPair]) -> Result<(), ModelError> {
    let count = |v: &[WeakPair], l: Label| v.iter().filter(|p| p.label == l).count();
    for (part, v) in [("older", older), ("held-out", newest)] {
        for l in [Label::Negative, Label::Positive] {
            if count(v, l) < MIN_PER_LABEL {
                return Err(ModelError::Dataset(format!(
                    "too few labelled texts: the {part} part has {} {l:?} (at least \
                     {MIN_PER_LABEL} of each label are needed; {} older and {} held-out texts)",
                    count(v, l),
                    older.len(),
                    newest.len()
                )));
            }
        }
    }
    Ok(())
}

/// Featurised texts with their labels and the champion's logits.
struct Rows {
    features: Vec<SparseVec>,
    labels: Vec<Label>,
    base: Vec<f64>,
}

impl Rows {
    fn of(pairs: &[WeakPair], champion: &Model, f: &Featurizer, s: &Segmenter) -> Rows {
        let (mut text, mut words) = (String::new(), Vec::new());
        let features: Vec<SparseVec> = pairs
            .iter()
            .map(|p| {
                let mut out = SparseVec::default();
                featurize(f, s, &p.text, &mut text, &mut words, &mut out);
                out
            })
            .collect();
        let base = features.iter().map(|x| champion.margin(x)).collect();
        Rows {
            features,
            labels: pairs.iter().map(|p| p.label).collect(),
            base,
        }
    }

    /// Calibrated P(positive) by `model` (0.5 for a text without features, as in scoring).
    fn p(&self, model: &Model) -> Vec<f64> {
        self.features
            .iter()
            .map(|x| {
                if x.is_empty() {
                    0.5
                } else {
                    model.p_from_features(x)
                }
            })
            .collect()
    }

    fn select(&self, idx: std::ops::Range<usize>) -> Rows {
        Rows {
            features: self.features[idx.clone()].to_vec(),
            labels: self.labels[idx.clone()].to_vec(),
            base: self.base[idx].to_vec(),
        }
    }
}

/// A correction: `a · champion_logit + Σ wᵢ xᵢ + b`, with its calibration.
struct Fitted {
    alpha: f32,
    grid: Vec<AlphaResult>,
    champion_weight: f32,
    /// Dense over buckets.
    correction: Vec<f32>,
    intercept: f32,
    calibration: Platt,
}

/// Chooses the L2 strength (lowest validation log loss) on the newest 20 % of `older` (a fit on
/// the rest), then refits the
/// correction on all of `older` with it (scaled to the row count, as `train` does).
fn fit_challenger(
    older: &[WeakPair],
    rows: &Rows,
    featurizer: &Featurizer,
    grid: &[f32],
) -> Result<Fitted, ModelError> {
    if grid.is_empty() || grid.iter().any(|a| !a.is_finite() || *a <= 0.0) {
        return Err(ModelError::Dataset(
            "--alpha needs positive, finite values".into(),
        ));
    }
    let n_val = (older.len() as f64 * 0.2).round() as usize;
    let (fit_part, val_part) = (
        rows.select(0..older.len() - n_val),
        rows.select(older.len() - n_val..older.len()),
    );
    let buckets = featurizer.buckets();
    let mut results = Vec::new();
    let mut best: Option<((f64, f64), f32, Platt)> = None;
    for &alpha in grid {
        let t = std::time::Instant::now();
        let c = fit_correction(&fit_part, buckets, alpha)?;
        let margins = c.margins(&val_part);
        let platt = Platt::fit(&margins, &val_part.labels, Prior::Neutral);
        let p: Vec<f64> = margins.iter().map(|&z| platt.apply(z)).collect();
        let m = Metrics::compute(&val_part.labels, &p);
        eprintln!(
            "adapt: alpha {alpha}: validation accuracy {:.4}, ROC-AUC {:.4}, log loss {:.4}",
            m.accuracy, m.roc_auc, m.log_loss
        );
        results.push(AlphaResult {
            alpha,
            accuracy: m.accuracy,
            roc_auc: m.roc_auc,
            log_loss: m.log_loss,
            seconds: t.elapsed().as_secs_f64(),
        });
        // Log loss first: on a few hundred validation texts it separates strengths that
        // ROC-AUC ranks within noise of each other.
        let key = (-m.log_loss, m.roc_auc);
        if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
            best = Some((key, alpha, platt));
        }
    }
    let (_, alpha, calibration) = best.expect("grid is not empty");
    let scaled = alpha * rows.labels.len() as f32 / fit_part.labels.len().max(1) as f32;
    let c = fit_correction(rows, buckets, scaled)?;
    Ok(Fitted {
        alpha,
        grid: results,
        champion_weight: c.champion_weight,
        correction: c.weights,
        intercept: c.intercept,
        calibration,
    })
}

struct Correction {
    champion_weight: f32,
    weights: Vec<f32>,
    intercept: f32,
}

impl Correction {
    fn margins(&self, rows: &Rows) -> Vec<f64> {
        rows.features
            .iter()
            .zip(&rows.base)
            .map(|(x, &b)| {
                let dot: f32 = x.iter().map(|(i, v)| self.weights[i as usize] * v).sum();
                f64::from(self.champion_weight) * b + f64::from(dot + self.intercept)
            })
            .collect()
    }
}

/// Fits `label ~ a · base + Σ wᵢ xᵢ + b` by L2 logistic regression (column-major matrix, see
/// FIELD-NOTES: linfa's gradient is far slower row-major).
fn fit_correction(rows: &Rows, buckets: usize, alpha: f32) -> Result<Correction, ModelError> {
    let columns: Columns = select_columns(rows.features.iter(), buckets, MIN_DF, MAX_COLUMNS);
    let d = columns.bucket_of.len() + 1;
    let mut x = Array2::<f32>::zeros((rows.labels.len(), d).f());
    for (r, (row, &base)) in rows.features.iter().zip(&rows.base).enumerate() {
        x[[r, 0]] = base as f32 * BASE_SCALE;
        for (i, v) in row.iter() {
            let c = columns.col_of[i as usize];
            if c != u32::MAX {
                x[[r, c as usize + 1]] = v;
            }
        }
    }
    // The champion's logit enters multiplied by BASE_SCALE, so its coefficient is BASE_SCALE
    // times smaller and its L2 penalty BASE_SCALE² times smaller than the correction's.
    let y: Array1<usize> = rows.labels.iter().map(|l| l.as_index()).collect();
    let fitted = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(200)
        .fit(&Dataset::new(x, y))?;
    // linfa's "positive" class is whichever label it met first, not necessarily ours.
    let sign = if fitted.labels().pos.class == Label::Positive.as_index() {
        1.0
    } else {
        -1.0
    };
    let params = fitted.params();
    let mut weights = vec![0f32; buckets];
    for (c, &b) in columns.bucket_of.iter().enumerate() {
        weights[b as usize] = sign * params[c + 1];
    }
    Ok(Correction {
        champion_weight: sign * params[0] * BASE_SCALE,
        weights,
        intercept: sign * fitted.intercept(),
    })
}

/// The challenger as one linear model: `a · vᵢ + wᵢ` per bucket, `a · c + b` for the intercept.
fn combine(
    champion: &Model,
    featurizer: Featurizer,
    fitted: &Fitted,
    name: &str,
) -> Result<Model, ModelError> {
    let a = fitted.champion_weight;
    let weights: Vec<f32> = champion
        .weights()
        .iter()
        .zip(&fitted.correction)
        .map(|(v, w)| a * v + w)
        .collect();
    let intercept = a * champion.intercept() + fitted.intercept;
    let mut metadata = champion.metadata().clone();
    metadata.created = chrono::Utc::now().format("%Y-%m-%d").to_string();
    Model::from_parts(
        name,
        featurizer,
        weights,
        intercept,
        fitted.calibration,
        metadata,
    )
}

/// Runs `manyi adapt` from the command line: the comparison as a table on stderr, the
/// [`Adaptation`] as JSON on stdout. Returns whether the model was written.
pub fn main(args: &AdaptArgs, cfg: Option<&ValidConfig>) -> Result<bool, AdaptError> {
    let o = run(args, cfg)?;
    let c = &o.adaptation.comparison;
    let row = |name: &str, m: &Metrics| {
        format!(
            "{name:<11} {:>8.4} {:>8.4} {:>8.4}\n",
            m.accuracy, m.roc_auc, m.brier
        )
    };
    eprint!(
        "adapt: on the {} newest labelled texts (agreement with their scores):\n\
         {:<11} {:>8} {:>8} {:>8}\n{}{}\
         accuracy gain {:+.4} (95 % CI {:+.4} .. {:+.4}), ROC-AUC gain {:+.4} (95 % CI {:+.4} .. {:+.4})\n",
        o.adaptation.held_out_texts,
        "model",
        "accuracy",
        "ROC-AUC",
        "Brier",
        row("champion", &c.champion),
        row("challenger", &c.challenger),
        c.accuracy_gain,
        c.accuracy_gain_ci95[0],
        c.accuracy_gain_ci95[1],
        c.roc_auc_gain,
        c.roc_auc_gain_ci95[0],
        c.roc_auc_gain_ci95[1]
    );
    if o.written && o.adaptation.forced {
        eprintln!(
            "adapt: the challenger did not win; written anyway (--force): {}",
            args.out.display()
        );
    } else if o.written {
        eprintln!(
            "adapt: the challenger wins; written: {}",
            args.out.display()
        );
    } else {
        eprintln!(
            "adapt: not written: the accuracy gain's interval reaches 0 or below, so the new model \
             is not shown to be better (--force writes it anyway)"
        );
    }
    println!(
        "{}",
        serde_json::to_string(&o.adaptation).expect("serialisable")
    );
    Ok(o.written)
}
