//! The TOML configuration: one section a stage, each declared and validated by the module that
//! owns it (`ingest::config`, `serve::config`, `model::config`, …), composed here into [`Config`]
//! (the file as written) and [`ValidConfig`] (every value checked), so that the rest of the code
//! never re-checks a value.
//!
//! Every error names the offending field (`windows.durations[1]`, `indices.composite_weights.nps`)
//! so that `manyi check-config` and `manyi run` can exit non-zero with a message a user can act on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::aggregate::config::{DimensionsConfig, Windows, WindowsConfig};
use crate::decode::DecodeLimits;
use crate::ingest::config::{CloseTheLoopConfig, Kafka, KafkaConfig};
use crate::invalid::{invalid, Invalid};
use crate::model::config::ModelConfig;
use crate::model::weak::WeakLabelRules;
use crate::score::config::{AspectsConfig, Indices, IndicesConfig, MeasureConfig};
use crate::score::indices::{IndexSettings, Thresholds};
use crate::score::measures::Measures;
use crate::serve::config::{Http, HttpConfig};
use crate::text::segment::SegmenterConfig;

/// A configuration that could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The whole file, as written by the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub model: ModelConfig,
    /// `[adapt]`: the weak-label thresholds of `manyi adapt`.
    #[serde(default)]
    pub adapt: WeakLabelRules,
    #[serde(default)]
    pub segmenter: SegmenterConfig,
    #[serde(default)]
    pub windows: WindowsConfig,
    #[serde(default)]
    pub dimensions: DimensionsConfig,
    #[serde(default)]
    pub indices: IndicesConfig,
    #[serde(default)]
    pub aspects: AspectsConfig,
    #[serde(default)]
    pub limits: DecodeLimits,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub close_the_loop: CloseTheLoopConfig,
    /// `[[measures]]`: indices over fields of the event (docs/measures.md). Absent: the shipped
    /// measures (`score::config::SHIPPED_MEASURES`); `measures = []`: none.
    #[serde(default)]
    pub measures: Option<Vec<MeasureConfig>>,
}

/// `[pipeline]`: threads and shutdown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Worker threads for segmentation, scoring and window updates; 0 means one per core.
    #[serde(default)]
    pub workers: usize,
    /// Upper bound for a graceful shutdown (drain in-flight messages, commit offsets).
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

const fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 0,
            shutdown_timeout: default_shutdown_timeout(),
        }
    }
}

impl PipelineConfig {
    /// The worker count, with 0 resolved to the number of cores.
    fn workers(&self) -> Result<usize, Invalid> {
        let workers = if self.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.workers
        };
        if workers > 256 {
            return Err(invalid("pipeline.workers", "must be at most 256"));
        }
        Ok(workers)
    }
}

/// The configuration after validation: every value the pipeline reads is known to be usable.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// Secrets resolved; the raw `env:NAME` references are not kept.
    pub kafka: Kafka,
    pub http: Http,
    pub model: ModelConfig,
    pub adapt: WeakLabelRules,
    pub segmenter: SegmenterConfig,
    pub windows: Windows,
    pub dimensions: DimensionsConfig,
    pub indices: Indices,
    /// The aspect lexicon as `(aspect, keywords)`.
    pub aspects: Vec<(String, Vec<String>)>,
    pub limits: DecodeLimits,
    /// Worker threads, 0 resolved to the number of cores.
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub close_the_loop: CloseTheLoopConfig,
    pub measures: std::sync::Arc<Measures>,
}

impl Config {
    /// Reads and parses a TOML file; unknown keys are errors that name the key.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<inline>"),
            message: e.to_string(),
        })
    }

    /// A config for the embedded mock cluster of `manyi demo` and the tests.
    pub fn for_brokers(brokers: &str, topics: &[&str]) -> Config {
        Config {
            kafka: KafkaConfig::new(brokers, topics),
            http: HttpConfig::default(),
            model: ModelConfig::default(),
            adapt: WeakLabelRules::default(),
            segmenter: SegmenterConfig::default(),
            windows: WindowsConfig::default(),
            dimensions: DimensionsConfig::default(),
            indices: IndicesConfig::default(),
            aspects: AspectsConfig::default(),
            limits: DecodeLimits::default(),
            pipeline: PipelineConfig::default(),
            close_the_loop: CloseTheLoopConfig::default(),
            measures: None,
        }
    }

    /// Checks every section once, in file order; the error names the first offending field.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        let kafka = self.kafka.validate()?;
        let http = self.http.validate()?;
        let model = self.model.validate()?;
        let adapt = self.adapt.validate("adapt")?;
        let windows = self.windows.validate()?;
        let dimensions = self.dimensions.validate()?;
        let indices = self.indices.validate()?;
        let aspects = self.aspects.validate()?;
        let limits = self.limits.validate()?;
        let segmenter = self.segmenter.validate()?;
        let close_the_loop = self.close_the_loop.validate(&kafka.topics)?;
        let workers = self.pipeline.workers()?;
        let measures =
            MeasureConfig::validate_all(self.measures.unwrap_or_else(MeasureConfig::shipped))?;
        Ok(ValidConfig {
            kafka,
            http,
            model,
            adapt,
            segmenter,
            windows,
            dimensions,
            indices,
            aspects,
            limits,
            workers,
            shutdown_timeout: self.pipeline.shutdown_timeout,
            close_the_loop,
            measures: std::sync::Arc::new(measures),
        })
    }
}

impl ValidConfig {
    /// What the per-response values depend on.
    pub fn index_settings(&self) -> IndexSettings {
        IndexSettings {
            csi_weights: self.indices.csi_weights.clone(),
            composite: self.indices.composite,
            thresholds: Thresholds {
                negative_below: self.model.negative_below,
                positive_above: self.model.positive_above,
            },
            measures: self.measures.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The validation error for `minimal()` plus `extra`.
    fn invalid_with(extra: &str) -> String {
        let text = format!("{}{extra}", minimal());
        Config::from_toml(&text)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
    }

    fn minimal() -> &'static str {
        "[kafka]\nbrokers = \"localhost:9092\"\ntopics = [\"feedback\"]\n"
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let cfg = Config::from_toml(minimal()).unwrap().validate().unwrap();
        assert_eq!(cfg.http.listen.to_string(), "127.0.0.1:9898");
        let labels: Vec<_> = cfg.windows.specs.iter().map(|w| w.label.as_str()).collect();
        assert_eq!(labels, ["5m", "1h", "24h"]);
        assert_eq!(cfg.dimensions.labels, ["channel"]);
        assert_eq!(cfg.kafka.group_id, "manyi");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = format!("{}[http]\nlisen = \"x\"\n", minimal());
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn bad_window_names_the_field() {
        let err = invalid_with("[windows]\ndurations = [\"5m\", \"soon\"]\n");
        assert!(err.contains("windows.durations[1]"), "{err}");
    }

    #[test]
    fn bad_listen_and_thresholds_are_named() {
        let err = invalid_with("[http]\nlisten = \"nowhere\"\n");
        assert!(err.contains("http.listen"), "{err}");
        let err = invalid_with("[model]\nnegative_below = 0.7\npositive_above = 0.6\n");
        assert!(err.contains("model.negative_below"), "{err}");
    }

    #[test]
    fn managed_property_is_refused() {
        let err = invalid_with("[kafka.properties]\n\"enable.auto.offset.store\" = \"true\"\n");
        assert!(err.contains("enable.auto.offset.store"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_debug_or_errors() {
        std::env::set_var("MANYI_TEST_SASL_SECRET", "hunter2-very-secret");
        let text = format!(
            "{}[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\"sasl.username\" = \"manyi\"\n\"sasl.password\" = \"env:MANYI_TEST_SASL_SECRET\"\n\"ssl.key.password\" = \"env:MANYI_TEST_SASL_SECRET\"\n",
            minimal()
        );
        let raw = Config::from_toml(&text).unwrap();
        assert!(!format!("{raw:?}").contains("hunter2"));
        let cfg = raw.validate().unwrap();
        assert_eq!(cfg.kafka.properties["sasl.password"], "hunter2-very-secret");
        let shown = format!("{cfg:?} {cfg:#?} {:?}", cfg.kafka.properties);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("SCRAM-SHA-512"),
            "non-secret values stay visible"
        );
        // A missing secret names the variable, never a value.
        let missing = text.replace("MANYI_TEST_SASL_SECRET", "MANYI_TEST_SASL_UNSET");
        let err = Config::from_toml(&missing).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains("MANYI_TEST_SASL_UNSET"));
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }

    #[test]
    fn secret_from_env_is_resolved() {
        std::env::set_var("MANYI_TEST_SECRET", "s3cret");
        let text = format!(
            "{}[kafka.properties]\n\"sasl.password\" = \"env:MANYI_TEST_SECRET\"\n",
            minimal()
        );
        let cfg = Config::from_toml(&text).unwrap().validate().unwrap();
        assert_eq!(cfg.kafka.properties["sasl.password"], "s3cret");
        let err =
            invalid_with("[kafka.properties]\n\"sasl.password\" = \"env:MANYI_TEST_MISSING\"\n");
        assert!(
            err.contains("MANYI_TEST_MISSING") && !err.contains("s3cret"),
            "{err}"
        );
    }

    #[test]
    fn replay_defaults_to_the_longest_window_and_can_be_bounded() {
        let cfg = Config::from_toml(minimal()).unwrap().validate().unwrap();
        assert_eq!(cfg.windows.replay_ms, 86_400_000);
        let text = format!("{}[windows]\nmax_replay = \"6h\"\n", minimal());
        assert_eq!(
            Config::from_toml(&text)
                .unwrap()
                .validate()
                .unwrap()
                .windows
                .replay_ms,
            6 * 3_600_000
        );
        assert!(invalid_with("[windows]\nmax_replay = \"soon\"\n").contains("windows.max_replay"));
    }

    #[test]
    fn shipped_measures_are_the_default_and_the_shipped_file_writes_them_out() {
        let cfg = Config::from_toml(minimal()).unwrap().validate().unwrap();
        let names: Vec<_> = cfg
            .measures
            .list()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "first_response_seconds",
                "resolution_seconds",
                "first_response_within_slo",
                "survey_response_rate",
                "churn_share",
                "repeat_purchase_share"
            ]
        );
        let shipped = Config::from_file(Path::new("config/manyi.toml")).unwrap();
        assert_eq!(shipped.measures, Some(MeasureConfig::shipped()));
        let none = format!("measures = []\n{}", minimal());
        let cfg = Config::from_toml(&none).unwrap().validate().unwrap();
        assert!(cfg.measures.list().is_empty());
    }

    #[test]
    fn bad_measures_name_the_field() {
        for (extra, field) in [
            ("[[measures]]\nname = \"csat\"\naggregate = \"mean\"\nfield = \"a.b\"\n", "measures[0].name"),
            ("[[measures]]\nname = \"x\"\naggregate = \"mean\"\n", "measures[0].field"),
            ("[[measures]]\nname = \"x\"\naggregate = \"mean\"\nfield = \"a..b\"\n", "measures[0].field"),
            ("[[measures]]\nname = \"x\"\naggregate = \"mean\"\nfield = \"scores.csat\"\n", "measures[0].field"),
            ("[[measures]]\nname = \"x\"\naggregate = \"share\"\nfield = \"a.b\"\n", "measures[0]"),
            ("[[measures]]\nname = \"x\"\naggregate = \"mean\"\nfield = \"a.b\"\nkinds = [\"ticket\", \"call\"]\n", "measures[0].kinds[1]"),
            ("[[measures]]\nname = \"x\"\naggregate = \"distribution\"\nfield = \"a.b\"\nbuckets = [60, 30]\n", "measures[0].buckets"),
            ("[[measures]]\nname = \"x\"\naggregate = \"mean\"\nfield = \"a.b\"\ncomposite_weight = 0.2\nbetter = \"lower\"\n", "measures[0].composite_range"),
            ("[[measures]]\nname = \"x\"\naggregate = \"ratio\"\nkinds = [\"survey\"]\nnumerator_kinds = [\"survey\"]\n", "measures[0].numerator_kinds"),
            ("[[measures]]\nname = \"x\"\naggregate = \"mean\"\nfield = \"a.b\"\n[[measures]]\nname = \"x\"\naggregate = \"mean\"\nfield = \"a.c\"\n", "measures[1].name"),
        ] {
            let err = invalid_with(extra);
            assert!(err.contains(&format!("`{field}`")), "{extra}: {err}");
        }
    }

    #[test]
    fn composite_weight_for_unknown_index_is_named() {
        let err = invalid_with("[indices.composite_weights]\nhappiness = 1.0\n");
        assert!(err.contains("indices.composite_weights.happiness"), "{err}");
    }
}
