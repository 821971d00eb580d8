//! The sentiment model: a hashed-feature logistic regression with Platt calibration, loaded from a
//! JSON artifact (weights, intercept, calibration, the full feature spec, training metadata) and
//! scored by a sparse dot product. Training and evaluation live in [`train`] and [`eval`].
//!
//! Artifact checks at load: format name and version, feature spec version (the running code must
//! extract the same features), spec fingerprint (the spec was not edited by hand), and a hash probe
//! (a few fixed strings must land in the buckets they landed in at training time).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use twox_hash::XxHash64;

use crate::features::{
    normalise_text, FeatureError, FeatureSpec, Featurizer, Namespace, SparseVec,
};
use crate::text::segment::{SegmentError, Segmenter};

pub mod calibrate;
pub mod config;
pub mod metrics;
pub mod weak;

pub use calibrate::{Platt, Prior};
pub use metrics::Metrics;

/// The label of a review: what training data says and what the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    Negative,
    Positive,
}

impl Label {
    pub fn as_index(self) -> usize {
        match self {
            Label::Negative => 0,
            Label::Positive => 1,
        }
    }
}

/// Name of the artifact format, checked at load.
pub const ARTIFACT_FORMAT: &str = "manyi-sentiment-model";
/// Version of the artifact layout, checked at load.
pub const ARTIFACT_FORMAT_VERSION: u32 = 1;

/// Where the default model lives in a checkout, relative to the working directory; the default of
/// every `--model` option and of `[model] path`.
pub const DEFAULT_MODEL_PATH: &str = "models/default.json";

/// models/default.json as of this build, so the commands that default to it also work from
/// another directory or as an installed binary.
const BUNDLED_DEFAULT: &[u8] = include_bytes!("../../models/default.json");

/// Errors of loading, training and evaluating models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model file {path} is not a valid model artifact: {source}")]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("model file {path}: format `{found}` version {found_version}, expected `{ARTIFACT_FORMAT}` version {ARTIFACT_FORMAT_VERSION}")]
    Format {
        path: PathBuf,
        found: String,
        found_version: u32,
    },
    #[error("model file {path}: feature spec does not match this build of manyi: {source}")]
    Spec {
        path: PathBuf,
        #[source]
        source: FeatureError,
    },
    #[error("model file {path}: feature spec fingerprint is {stored} but the spec in the file hashes to {computed} (edited by hand?)")]
    SpecFingerprint {
        path: PathBuf,
        stored: String,
        computed: String,
    },
    #[error("model file {path}: feature hashing differs from training time (probe buckets {stored:?}, this build gives {computed:?})")]
    HashProbe {
        path: PathBuf,
        stored: Vec<u32>,
        computed: Vec<u32>,
    },
    #[error("model file {path}: bad weights: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("cannot write model to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data {path}, line {line}: {reason}")]
    Data {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("data {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("data: {0}")]
    Dataset(String),
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error("invalid feature spec: {0}")]
    Features(#[from] FeatureError),
    #[error("training failed: {0}")]
    Fit(#[from] linfa_logistic::error::Error),
}

/// One input file of a training run, recorded in the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusFile {
    pub name: String,
    pub sha256: String,
    pub rows: usize,
    /// Times each of its texts counted in the fits (`manyi train --repeat`); 1 is not written.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub repeat: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// How the model was trained; informational, not checked at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainingMetadata {
    pub manyi_version: String,
    pub created: String,
    pub corpus: Vec<CorpusFile>,
    pub rows_read: usize,
    pub unique_texts: usize,
    pub conflicting_dropped: usize,
    pub train_rows: usize,
    pub validation_rows: usize,
    /// Rows the final fit saw after length balancing (duplicates included); 0 in artifacts
    /// written before balancing existed.
    #[serde(default)]
    pub fit_rows: usize,
    #[serde(default)]
    pub length_balanced: bool,
    /// `--nb-weighting` (0 for artifacts written before it existed).
    #[serde(default)]
    pub nb_weighting: f32,
    /// `--lexicon-filter` (0 for artifacts written before it existed).
    #[serde(default)]
    pub lexicon_filter: u32,
    /// Texts the lexicon filter left out of the final fit.
    #[serde(default)]
    pub lexicon_filtered: usize,
    /// Platt scaling fitted with both classes weighing half (see [`Prior::Neutral`]).
    #[serde(default)]
    pub prior_neutral_calibration: bool,
    pub positive_rows: usize,
    pub negative_rows: usize,
    pub seed: u64,
    pub alpha: f32,
    pub alpha_grid: Vec<AlphaResult>,
    pub columns: usize,
    pub refit_on_all: bool,
    pub validation: Option<Metrics>,
    pub training_seconds: f64,
    /// Set by `manyi adapt`: what the model was adapted from and how it compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<Adaptation>,
}

/// Where an adapted model came from, recorded in its artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adaptation {
    pub champion_version: String,
    /// The file, or the topics and time range, the events were read from.
    pub source: String,
    /// SHA-256 of the file (None for topics).
    pub source_sha256: Option<String>,
    /// Event time of the oldest and newest labelled text (Unix ms).
    pub event_time_range_ms: [i64; 2],
    /// Held-out texts are those at or after this event time.
    pub held_out_from_ms: i64,
    /// Undecodable lines per reason code.
    pub undecodable: BTreeMap<String, usize>,
    pub weak_labels: weak::WeakCounts,
    pub weak_label_rules: weak::WeakLabelRules,
    pub older_texts: usize,
    pub held_out_texts: usize,
    pub alpha: f32,
    pub alpha_grid: Vec<AlphaResult>,
    /// The champion's logit's coefficient in the challenger.
    pub champion_weight: f32,
    pub comparison: metrics::Comparison,
    /// Written by `--force` although the challenger did not win.
    pub forced: bool,
}

/// Validation result of one regularisation strength.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaResult {
    pub alpha: f32,
    pub accuracy: f64,
    pub roc_auc: f64,
    pub log_loss: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Artifact {
    format: String,
    format_version: u32,
    name: String,
    spec: FeatureSpec,
    spec_fingerprint: String,
    hash_probe: Vec<u32>,
    /// Non-zero weights: bucket indices as little-endian u32, values as little-endian f32, base64.
    weight_indices: String,
    weight_values: String,
    intercept: f32,
    calibration: Platt,
    metadata: TrainingMetadata,
}

/// Fixed strings whose buckets are stored at training time and recomputed at load.
const PROBE: &[(Namespace, &[&str])] = &[
    (Namespace::Word, &["好评"]),
    (Namespace::NegatedWord, &["满意"]),
    (Namespace::Bigram, &["质量", "不错"]),
    (Namespace::Intensified, &["差"]),
    (Namespace::Char, &["退款"]),
    (Namespace::NegatedChar, &["不慢"]),
    (Namespace::Lexicon, &["neg+"]),
];

fn hash_probe(f: &Featurizer) -> Vec<u32> {
    PROBE
        .iter()
        .map(|(ns, parts)| f.bucket(*ns, parts))
        .collect()
}

/// A loaded model: immutable, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Model {
    name: String,
    version: String,
    featurizer: Featurizer,
    /// Dense over all hash buckets, so scoring is one lookup per feature.
    weights: Vec<f32>,
    intercept: f32,
    calibration: Platt,
    metadata: TrainingMetadata,
}

/// Per-thread buffers for scoring, so `p_positive` reuses its allocations.
#[derive(Default)]
struct Scratch {
    text: String,
    words: Vec<&'static str>,
    features: SparseVec,
    span: SparseVec,
}

/// A text normalised, segmented and featurised once: its P(positive), and that of any run of its
/// words scored on its own, without segmenting or hashing again. See [`Model::analyse`].
pub struct Analysis<'a> {
    /// The normalised text the words are slices of.
    pub text: &'a str,
    pub words: &'a [&'a str],
    pub scorer: SpanScorer<'a>,
}

/// Scores a text and runs of its words; part of an [`Analysis`].
pub struct SpanScorer<'a> {
    model: &'a Model,
    words: &'a [&'a str],
    whole: &'a SparseVec,
    span: &'a mut SparseVec,
}

impl SpanScorer<'_> {
    /// Calibrated P(positive) of the whole text (0.5 when it has no features).
    pub fn p_text(&self) -> f64 {
        self.model.p_or_neutral(self.whole)
    }

    /// Calibrated P(positive) of `words[span]` as if it were the whole text: the same value
    /// [`Model::p_positive`] gives for those words.
    pub fn p_span(&mut self, span: std::ops::Range<usize>) -> f64 {
        if span == (0..self.words.len()) {
            return self.p_text();
        }
        self.model
            .featurizer
            .extract_span(self.words, self.whole, span, self.span);
        self.model.p_or_neutral(self.span)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Reuses a vector's allocation for a different lifetime; it is emptied first, so no reference
/// outlives its text (the in-place `collect` keeps the buffer).
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
}

/// Normalises, segments and featurises `text` into `out`, using `text_buf` and `words` as scratch.
pub fn featurize(
    featurizer: &Featurizer,
    segmenter: &Segmenter,
    text: &str,
    text_buf: &mut String,
    words: &mut Vec<&'static str>,
    out: &mut SparseVec,
) {
    normalise_text(featurizer.spec().text, text, text_buf);
    let mut local: Vec<&str> = recycle(std::mem::take(words));
    segmenter.cut(text_buf, &mut local);
    featurizer.extract(&local, out);
    *words = recycle(local);
}

impl Model {
    /// Builds a model from fitted parts; `weights` is dense over all buckets of `featurizer`.
    pub fn from_parts(
        name: &str,
        featurizer: Featurizer,
        weights: Vec<f32>,
        intercept: f32,
        calibration: Platt,
        metadata: TrainingMetadata,
    ) -> Result<Model, ModelError> {
        if weights.len() != featurizer.buckets() {
            return Err(ModelError::Dataset(format!(
                "{} weights for {} buckets",
                weights.len(),
                featurizer.buckets()
            )));
        }
        let version = version_string(name, &weights, intercept, calibration);
        Ok(Model {
            name: name.to_string(),
            version,
            featurizer,
            weights,
            intercept,
            calibration,
            metadata,
        })
    }

    /// Loads and checks an artifact written by [`Model::save`].
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(path, &bytes)
    }

    /// [`Model::load`], except that [`DEFAULT_MODEL_PATH`], when no such file is in the working
    /// directory, loads the copy compiled into this build. Any other path must exist.
    pub fn open(path: &Path) -> Result<Model, ModelError> {
        if path == Path::new(DEFAULT_MODEL_PATH) && !path.exists() {
            let model =
                Self::from_json(Path::new("(built-in) models/default.json"), BUNDLED_DEFAULT)?;
            tracing::info!(
                model_version = model.version(),
                "no {DEFAULT_MODEL_PATH} in the working directory: using the model built into manyi"
            );
            return Ok(model);
        }
        Self::load(path)
    }

    fn from_json(path: &Path, bytes: &[u8]) -> Result<Model, ModelError> {
        let p = || path.to_path_buf();
        // The format fields are checked before the full parse, so a future format gets a
        // version message rather than a field-by-field parse error.
        #[derive(Deserialize)]
        struct Header {
            format: String,
            format_version: u32,
        }
        let header: Header = serde_json::from_slice(bytes)
            .map_err(|source| ModelError::Malformed { path: p(), source })?;
        if header.format != ARTIFACT_FORMAT || header.format_version != ARTIFACT_FORMAT_VERSION {
            return Err(ModelError::Format {
                path: p(),
                found: header.format,
                found_version: header.format_version,
            });
        }
        // Likewise the feature spec version: an artifact of another spec version may not even
        // parse as this version's spec, and the version mismatch is the message that helps.
        #[derive(Deserialize)]
        struct SpecVersion {
            version: u32,
        }
        #[derive(Deserialize)]
        struct SpecHeader {
            spec: SpecVersion,
        }
        if let Ok(h) = serde_json::from_slice::<SpecHeader>(bytes) {
            if h.spec.version != crate::features::FEATURE_SPEC_VERSION {
                return Err(ModelError::Spec {
                    path: p(),
                    source: FeatureError::Version {
                        found: h.spec.version,
                        expected: crate::features::FEATURE_SPEC_VERSION,
                    },
                });
            }
        }
        let a: Artifact = serde_json::from_slice(bytes)
            .map_err(|source| ModelError::Malformed { path: p(), source })?;
        let computed = a.spec.fingerprint();
        if computed != a.spec_fingerprint {
            return Err(ModelError::SpecFingerprint {
                path: p(),
                stored: a.spec_fingerprint,
                computed,
            });
        }
        let featurizer =
            Featurizer::new(a.spec).map_err(|source| ModelError::Spec { path: p(), source })?;
        let probe = hash_probe(&featurizer);
        if probe != a.hash_probe {
            return Err(ModelError::HashProbe {
                path: p(),
                stored: a.hash_probe,
                computed: probe,
            });
        }
        let bad = |reason: String| ModelError::Weights { path: p(), reason };
        let idx = B64
            .decode(&a.weight_indices)
            .map_err(|e| bad(format!("weight_indices: {e}")))?;
        let val = B64
            .decode(&a.weight_values)
            .map_err(|e| bad(format!("weight_values: {e}")))?;
        if idx.len() % 4 != 0 || idx.len() != val.len() {
            return Err(bad(format!(
                "{} index bytes and {} value bytes",
                idx.len(),
                val.len()
            )));
        }
        let mut weights = vec![0f32; featurizer.buckets()];
        for (i, v) in idx.chunks_exact(4).zip(val.chunks_exact(4)) {
            let i = u32::from_le_bytes(i.try_into().expect("chunk of 4")) as usize;
            let v = f32::from_le_bytes(v.try_into().expect("chunk of 4"));
            if i >= weights.len() || !v.is_finite() {
                return Err(bad(format!("entry ({i}, {v}) out of range or not finite")));
            }
            weights[i] = v;
        }
        if !a.intercept.is_finite() || !a.calibration.a.is_finite() || !a.calibration.b.is_finite()
        {
            return Err(bad("intercept or calibration not finite".to_string()));
        }
        Model::from_parts(
            &a.name,
            featurizer,
            weights,
            a.intercept,
            a.calibration,
            a.metadata,
        )
    }

    /// Writes the artifact as JSON (atomically: a temporary file renamed into place, so a
    /// hot-reloading reader never sees half a file).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let mut idx = Vec::new();
        let mut val = Vec::new();
        for (i, w) in self.weights.iter().enumerate() {
            if *w != 0.0 {
                idx.extend_from_slice(&(i as u32).to_le_bytes());
                val.extend_from_slice(&w.to_le_bytes());
            }
        }
        let a = Artifact {
            format: ARTIFACT_FORMAT.to_string(),
            format_version: ARTIFACT_FORMAT_VERSION,
            name: self.name.clone(),
            spec: self.featurizer.spec().clone(),
            spec_fingerprint: self.featurizer.spec().fingerprint(),
            hash_probe: hash_probe(&self.featurizer),
            weight_indices: B64.encode(idx),
            weight_values: B64.encode(val),
            intercept: self.intercept,
            calibration: self.calibration,
            metadata: self.metadata.clone(),
        };
        let json = serde_json::to_string_pretty(&a).expect("an artifact always serialises");
        let write_err = |source| ModelError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json + "\n").map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    /// Short stable identifier: name plus a hash of weights, intercept and calibration.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn metadata(&self) -> &TrainingMetadata {
        &self.metadata
    }

    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    pub fn calibration(&self) -> Platt {
        self.calibration
    }

    /// The same model with other metadata (which its version does not depend on).
    pub fn with_metadata(mut self, metadata: TrainingMetadata) -> Model {
        self.metadata = metadata;
        self
    }

    /// Weights, dense over the featurizer's buckets.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    pub fn intercept(&self) -> f32 {
        self.intercept
    }

    /// Uncalibrated logit of an already extracted feature vector.
    pub fn margin(&self, features: &SparseVec) -> f64 {
        let dot: f32 = features
            .iter()
            .map(|(i, v)| self.weights[i as usize] * v)
            .sum();
        f64::from(dot + self.intercept)
    }

    /// Calibrated P(positive) of an already extracted feature vector.
    pub fn p_from_features(&self, features: &SparseVec) -> f64 {
        self.calibration.apply(self.margin(features))
    }

    fn p_or_neutral(&self, features: &SparseVec) -> f64 {
        if features.is_empty() {
            0.5
        } else {
            self.p_from_features(features)
        }
    }

    /// Calibrated P(positive) in [0, 1] for `text`. Empty or whitespace-only text returns 0.5.
    pub fn p_positive(&self, segmenter: &Segmenter, text: &str) -> f64 {
        if text.trim().is_empty() {
            return 0.5;
        }
        self.analyse(segmenter, text, |a| a.scorer.p_text())
    }

    /// Normalises, segments and featurises `text` once (in per-thread buffers) and hands the
    /// result to `f`, which can score the text and runs of its words.
    pub fn analyse<R>(
        &self,
        segmenter: &Segmenter,
        text: &str,
        f: impl FnOnce(Analysis<'_>) -> R,
    ) -> R {
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let s = &mut *guard;
            normalise_text(self.featurizer.spec().text, text, &mut s.text);
            let mut words: Vec<&str> = recycle(std::mem::take(&mut s.words));
            segmenter.cut(&s.text, &mut words);
            self.featurizer.extract(&words, &mut s.features);
            let r = f(Analysis {
                text: &s.text,
                words: &words,
                scorer: SpanScorer {
                    model: self,
                    words: &words,
                    whole: &s.features,
                    span: &mut s.span,
                },
            });
            s.words = recycle(words);
            r
        })
    }
}

fn version_string(name: &str, weights: &[f32], intercept: f32, platt: Platt) -> String {
    let mut bytes = Vec::with_capacity(weights.len() * 4 + 20);
    for w in weights {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    bytes.extend_from_slice(&intercept.to_le_bytes());
    bytes.extend_from_slice(&platt.a.to_le_bytes());
    bytes.extend_from_slice(&platt.b.to_le_bytes());
    let h = XxHash64::oneshot(0, &bytes);
    format!("{name}-{:08x}", (h >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_model() -> Model {
        let f = Featurizer::new(FeatureSpec::default()).unwrap();
        let mut w = vec![0f32; f.buckets()];
        w[f.bucket(Namespace::Word, &["好"]) as usize] = 4.0;
        w[f.bucket(Namespace::Word, &["差"]) as usize] = -4.0;
        w[f.bucket(Namespace::NegatedWord, &["好"]) as usize] = -3.0;
        Model::from_parts(
            "test",
            f,
            w,
            0.1,
            Platt { a: 1.0, b: 0.0 },
            TrainingMetadata::default(),
        )
        .unwrap()
    }

    fn save_to_string(m: &Model) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        m.save(&path).unwrap();
        std::fs::read_to_string(path).unwrap()
    }

    fn load_str(json: &str) -> Result<Model, ModelError> {
        Model::from_json(Path::new("m.json"), json.as_bytes())
    }

    #[test]
    fn artifact_round_trip_keeps_scores_and_version() {
        let m = tiny_model();
        let seg = Segmenter::new(None).unwrap();
        let back = load_str(&save_to_string(&m)).unwrap();
        assert_eq!(back.version(), m.version());
        assert!(back.version().starts_with("test-"));
        for text in ["好", "很差", "不好", "质量好", ""] {
            assert_eq!(
                back.p_positive(&seg, text),
                m.p_positive(&seg, text),
                "{text}"
            );
        }
        assert!(m.p_positive(&seg, "好") > 0.8);
        assert!(m.p_positive(&seg, "差") < 0.2);
        assert!(m.p_positive(&seg, "不好") < m.p_positive(&seg, "好"));
        assert_eq!(m.p_positive(&seg, "  \n"), 0.5);
    }

    #[test]
    fn spec_version_mismatch_is_an_error_naming_versions() {
        let json = save_to_string(&tiny_model());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["spec"]["version"] = 999.into();
        // Keep the fingerprint consistent, so it is the version check that fires.
        let spec: FeatureSpec = serde_json::from_value(v["spec"].clone()).unwrap();
        v["spec_fingerprint"] = spec.fingerprint().into();
        let err = load_str(&v.to_string()).unwrap_err();
        assert!(matches!(err, ModelError::Spec { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("999") && msg.contains("version"), "{msg}");
    }

    #[test]
    fn older_spec_layout_reports_the_version_not_a_parse_error() {
        // A version-1 artifact has no lexicon or contrast fields.
        let json = save_to_string(&tiny_model());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["spec"]["version"] = 1.into();
        let spec = v["spec"].as_object_mut().unwrap();
        spec.remove("lexicon");
        spec.remove("contrast");
        let msg = load_str(&v.to_string()).unwrap_err().to_string();
        assert!(
            msg.contains("feature spec version 1, this build of manyi extracts version 2"),
            "{msg}"
        );
    }

    #[test]
    fn edited_spec_and_changed_hashing_are_errors() {
        let json = save_to_string(&tiny_model());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["spec"]["hash_seed"] = 7.into();
        assert!(matches!(
            load_str(&v.to_string()),
            Err(ModelError::SpecFingerprint { .. })
        ));

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["hash_probe"][0] = 1.into();
        let err = load_str(&v.to_string()).unwrap_err();
        assert!(matches!(err, ModelError::HashProbe { .. }), "{err}");
    }

    #[test]
    fn wrong_format_missing_and_malformed_files_are_errors() {
        let json = save_to_string(&tiny_model());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["format_version"] = 2.into();
        assert!(matches!(
            load_str(&v.to_string()),
            Err(ModelError::Format { .. })
        ));
        assert!(matches!(load_str("{"), Err(ModelError::Malformed { .. })));
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["weight_values"] = "AAAA".into();
        assert!(matches!(
            load_str(&v.to_string()),
            Err(ModelError::Weights { .. })
        ));
        let err = Model::load(Path::new("/nonexistent/model.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/model.json"));
    }

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
        check::<Segmenter>();
    }
}
