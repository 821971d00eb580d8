//! The TOML configuration: serde structs with documented defaults, and `validate()` into a
//! [`ValidConfig`] so that the rest of the code never re-checks a value.
//!
//! Every error names the offending field (`windows.durations[1]`, `indices.composite_weights.nps`)
//! so that `manyi check-config` and `manyi run` can exit non-zero with a message a user can act on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::score::indices::{CompositeWeights, Index};

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
    #[error("config field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
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
    pub limits: LimitsConfig,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub close_the_loop: CloseTheLoopConfig,
}

/// Where feedback comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated bootstrap servers, e.g. "kafka-1:9092,kafka-2:9092".
    pub brokers: String,
    /// Topics carrying one JSON feedback event per message.
    pub topics: Vec<String>,
    /// Consumer group; replicas with the same group share the partitions.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Topic that receives messages which cannot be decoded, wrapped in an envelope.
    /// Unset: invalid messages are counted and logged, then skipped.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// Any librdkafka property, passed through verbatim (security.protocol, sasl.*, ssl.*, ...).
    /// A value of the form `env:NAME` or `file:PATH` is read from the environment or a file,
    /// so secrets need not be written into this file.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_group_id() -> String {
    "manyi".to_owned()
}

/// The metrics endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address for /metrics, /healthz and /readyz.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Optional TLS and basic auth: a web-config file in the Prometheus exporter-toolkit format
    /// (`tls_server_config`, `basic_auth_users`). Unset: plain HTTP, no auth.
    #[serde(default)]
    pub web_config: Option<PathBuf>,
}

/// Loopback by default: exposing metrics beyond the host is an explicit choice.
fn default_listen() -> String {
    "127.0.0.1:9898".to_owned()
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            web_config: None,
        }
    }
}

/// The sentiment model and how its probability becomes a label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model artifact written by `manyi train`. Replacing the file reloads it.
    #[serde(default = "default_model_path")]
    pub path: PathBuf,
    /// P(positive) strictly below this is labelled negative.
    #[serde(default = "default_negative_below")]
    pub negative_below: f64,
    /// P(positive) strictly above this is labelled positive; between the two is neutral.
    #[serde(default = "default_positive_above")]
    pub positive_above: f64,
    /// How often the model file is checked for changes (SIGHUP also reloads at once).
    #[serde(default = "default_reload_interval", with = "humantime_serde_compat")]
    pub reload_interval: Duration,
}

fn default_model_path() -> PathBuf {
    PathBuf::from(crate::model::DEFAULT_MODEL_PATH)
}
/// 0.4 / 0.6: a neutral band of ±0.1 around an undecided model.
const fn default_negative_below() -> f64 {
    0.4
}
const fn default_positive_above() -> f64 {
    0.6
}
const fn default_reload_interval() -> Duration {
    Duration::from_secs(5)
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: default_model_path(),
            negative_below: default_negative_below(),
            positive_above: default_positive_above(),
            reload_interval: default_reload_interval(),
        }
    }
}

/// Word segmentation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmenterConfig {
    /// Optional jieba user dictionary (one `word [freq] [tag]` per line) for brand and product names.
    #[serde(default)]
    pub user_dict: Option<PathBuf>,
}

/// Event-time windows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsConfig {
    /// Rolling window lengths; each becomes a `window` label value ("5m", "1h", "24h", "7d").
    #[serde(default = "default_durations")]
    pub durations: Vec<String>,
    /// Buckets per window: a window advances in steps of duration / buckets.
    #[serde(default = "default_buckets")]
    pub buckets: usize,
    /// How far back window state is rebuilt after a restart or rebalance ("6h"). Unset: the
    /// longest window, so every window is exact. Shorter bounds the replay for very long windows;
    /// windows longer than this are then incomplete until they have run that long.
    #[serde(default)]
    pub max_replay: Option<String>,
}

fn default_durations() -> Vec<String> {
    vec!["5m".into(), "1h".into(), "24h".into()]
}
/// 60 buckets: a 5m window moves in 5 s steps, 1h in 1 min, 24h in 24 min.
const fn default_buckets() -> usize {
    60
}

impl Default for WindowsConfig {
    fn default() -> Self {
        WindowsConfig {
            durations: default_durations(),
            buckets: default_buckets(),
            max_replay: None,
        }
    }
}

/// Which `dims` of an event become Prometheus labels, and how many values each may have.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionsConfig {
    /// Event `dims` keys exported as labels on every index series.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// Most distinct values kept per label; further values are exported as "other".
    #[serde(default = "default_max_values")]
    pub max_values: usize,
    /// Optional allow-list per label: values not listed are exported as "other".
    #[serde(default)]
    pub allow: BTreeMap<String, Vec<String>>,
}

fn default_labels() -> Vec<String> {
    vec!["channel".into()]
}
/// 50 values per label keeps series in the low thousands even with three labels.
const fn default_max_values() -> usize {
    50
}

impl Default for DimensionsConfig {
    fn default() -> Self {
        DimensionsConfig {
            labels: default_labels(),
            max_values: default_max_values(),
            allow: BTreeMap::new(),
        }
    }
}

/// Index definitions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicesConfig {
    /// Weights of the CSI dimensions (keys of `scores.csi`); the csi index is their weighted mean ×10.
    #[serde(default = "default_csi_weights")]
    pub csi_weights: BTreeMap<String, f64>,
    /// Weights of the composite index over csat, nps, ces, csi, sentiment, negative_share, complaint_share.
    #[serde(default = "default_composite_weights")]
    pub composite_weights: BTreeMap<String, f64>,
    /// Windows with fewer responses than this are flagged by `manyi_index_low_sample`.
    #[serde(default = "default_min_responses")]
    pub min_responses: u64,
    /// Confidence level of the Wilson bounds.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_csi_weights() -> BTreeMap<String, f64> {
    ["quality", "service", "price", "after_sales"]
        .iter()
        .map(|k| (k.to_string(), 0.25))
        .collect()
}
fn default_composite_weights() -> BTreeMap<String, f64> {
    [
        ("sentiment", 0.4),
        ("csat", 0.2),
        ("nps", 0.2),
        ("csi", 0.1),
        ("ces", 0.1),
    ]
    .iter()
    .map(|(k, w)| (k.to_string(), *w))
    .collect()
}
/// 30 responses: below this a share moves by more than ±15 points at 95 % confidence.
const fn default_min_responses() -> u64 {
    30
}
const fn default_confidence() -> f64 {
    0.95
}

impl Default for IndicesConfig {
    fn default() -> Self {
        IndicesConfig {
            csi_weights: default_csi_weights(),
            composite_weights: default_composite_weights(),
            min_responses: default_min_responses(),
            confidence: default_confidence(),
        }
    }
}

/// Aspect lexicon: which words in a clause make it about an aspect.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AspectsConfig {
    /// Aspect name → keywords. An empty table disables aspect sentiment.
    #[serde(default = "default_aspects")]
    pub lexicon: BTreeMap<String, Vec<String>>,
}

fn default_aspects() -> BTreeMap<String, Vec<String>> {
    let table: &[(&str, &[&str])] = &[
        (
            "物流",
            &[
                "物流", "快递", "配送", "送货", "发货", "送达", "骑手", "派送",
            ],
        ),
        (
            "客服",
            &["客服", "服务态度", "态度", "店员", "服务员", "回复"],
        ),
        ("质量", &["质量", "做工", "材质", "品质", "质感"]),
        ("价格", &["价格", "价钱", "性价比", "贵", "便宜", "划算"]),
        ("售后", &["售后", "退款", "退货", "维修", "换货", "保修"]),
        ("包装", &["包装", "盒子", "外包装"]),
        ("口味", &["口味", "味道", "好吃", "难吃", "口感"]),
    ];
    table
        .iter()
        .map(|(a, ws)| (a.to_string(), ws.iter().map(|w| w.to_string()).collect()))
        .collect()
}

impl Default for AspectsConfig {
    fn default() -> Self {
        AspectsConfig {
            lexicon: default_aspects(),
        }
    }
}

/// Input limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Texts longer than this many characters are rejected as `text_too_long`.
    #[serde(default = "default_max_text_chars")]
    pub max_text_chars: usize,
    /// Messages larger than this many bytes are rejected before parsing.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

/// 5000 characters: longer than any review, short enough to bound per-message cost.
const fn default_max_text_chars() -> usize {
    5000
}
const fn default_max_message_bytes() -> usize {
    1 << 20
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_text_chars: default_max_text_chars(),
            max_message_bytes: default_max_message_bytes(),
        }
    }
}

/// Threads and shutdown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Worker threads for segmentation, scoring and window updates; 0 means one per core.
    #[serde(default)]
    pub workers: usize,
    /// Upper bound for a graceful shutdown (drain in-flight messages, commit offsets).
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde_compat")]
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

/// Close-the-loop: unhappy customers published for CRM / ticketing follow-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseTheLoopConfig {
    /// Topic receiving one JSON follow-up per qualifying event. Unset: disabled.
    #[serde(default)]
    pub topic: Option<String>,
    /// Publish NPS detractors (0–6).
    #[serde(default = "default_true")]
    pub nps_detractors: bool,
    /// Publish complaints whose text scores P(positive) below this.
    #[serde(default = "default_complaint_below")]
    pub complaint_below: f64,
}

const fn default_true() -> bool {
    true
}
/// 0.2: "strongly negative", well inside the negative label (< 0.4).
const fn default_complaint_below() -> f64 {
    0.2
}

impl Default for CloseTheLoopConfig {
    fn default() -> Self {
        CloseTheLoopConfig {
            topic: None,
            nps_detractors: default_true(),
            complaint_below: default_complaint_below(),
        }
    }
}

/// Durations written as "5s", "1m 30s" (humantime).
mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// One rolling window, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// Stable label value, e.g. "5m".
    pub label: String,
    pub length_ms: i64,
}

/// The configuration after validation: every value the pipeline reads is known to be usable.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub kafka: KafkaConfig,
    /// librdkafka properties with `env:`/`file:` references resolved.
    pub kafka_properties: KafkaProperties,
    pub listen: SocketAddr,
    /// TLS and basic auth of the HTTP endpoints, loaded and checked from `http.web_config`.
    pub web: Option<crate::serve::web::WebConfig>,
    pub model: ModelConfig,
    pub user_dict: Option<PathBuf>,
    pub windows: Vec<WindowSpec>,
    pub buckets: usize,
    /// How far back window state is rebuilt on assignment, in ms.
    pub replay_ms: i64,
    pub dimensions: DimensionsConfig,
    pub csi_weights: Vec<(String, f64)>,
    pub composite: CompositeWeights,
    pub min_responses: u64,
    pub confidence: f64,
    pub aspects: Vec<(String, Vec<String>)>,
    pub limits: LimitsConfig,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub close_the_loop: CloseTheLoopConfig,
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
            kafka: KafkaConfig {
                brokers: brokers.to_owned(),
                topics: topics.iter().map(|t| t.to_string()).collect(),
                group_id: default_group_id(),
                dead_letter_topic: None,
                properties: BTreeMap::new(),
            },
            http: HttpConfig::default(),
            model: ModelConfig::default(),
            segmenter: SegmenterConfig::default(),
            windows: WindowsConfig::default(),
            dimensions: DimensionsConfig::default(),
            indices: IndicesConfig::default(),
            aspects: AspectsConfig::default(),
            limits: LimitsConfig::default(),
            pipeline: PipelineConfig::default(),
            close_the_loop: CloseTheLoopConfig::default(),
        }
    }

    /// Checks every field once; the error names the first offending field.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        let k = &self.kafka;
        if k.brokers.trim().is_empty() {
            return Err(invalid("kafka.brokers", "must not be empty"));
        }
        if k.topics.is_empty() {
            return Err(invalid("kafka.topics", "needs at least one topic"));
        }
        for (i, t) in k.topics.iter().enumerate() {
            if !valid_topic_name(t) {
                return Err(invalid(
                    format!("kafka.topics[{i}]"),
                    format!("{t:?} is not a valid Kafka topic name"),
                ));
            }
        }
        if k.group_id.trim().is_empty() {
            return Err(invalid("kafka.group_id", "must not be empty"));
        }
        if let Some(t) = &k.dead_letter_topic {
            if !valid_topic_name(t) {
                return Err(invalid(
                    "kafka.dead_letter_topic",
                    format!("{t:?} is not a valid Kafka topic name"),
                ));
            }
            if k.topics.contains(t) {
                return Err(invalid(
                    "kafka.dead_letter_topic",
                    "must differ from the input topics",
                ));
            }
        }
        let mut kafka_properties = KafkaProperties::default();
        for (key, value) in &k.properties {
            let field = format!("kafka.properties.{key:?}");
            if MANAGED_PROPERTIES.contains(&key.as_str()) {
                return Err(invalid(
                    field,
                    "is set by manyi itself (at-least-once offset handling)",
                ));
            }
            kafka_properties
                .0
                .insert(key.clone(), resolve_secret(&field, value)?);
        }

        let listen: SocketAddr = self.http.listen.parse().map_err(|e| {
            invalid(
                "http.listen",
                format!(
                    "{:?} is not an address like 127.0.0.1:9898: {e}",
                    self.http.listen
                ),
            )
        })?;

        let web = match &self.http.web_config {
            Some(path) => Some(
                crate::serve::web::WebConfig::load(path)
                    .map_err(|e| invalid("http.web_config", e.to_string()))?,
            ),
            None => None,
        };

        let m = &self.model;
        for (field, v) in [
            ("model.negative_below", m.negative_below),
            ("model.positive_above", m.positive_above),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    field,
                    format!("{v} is not a probability in [0, 1]"),
                ));
            }
        }
        if m.negative_below > m.positive_above {
            return Err(invalid(
                "model.negative_below",
                "must not exceed model.positive_above",
            ));
        }
        if m.reload_interval.is_zero() {
            return Err(invalid("model.reload_interval", "must be positive"));
        }

        if self.windows.durations.is_empty() {
            return Err(invalid("windows.durations", "needs at least one window"));
        }
        if !(1..=3600).contains(&self.windows.buckets) {
            return Err(invalid("windows.buckets", "must be between 1 and 3600"));
        }
        let mut windows: Vec<WindowSpec> = Vec::new();
        for (i, d) in self.windows.durations.iter().enumerate() {
            let field = format!("windows.durations[{i}]");
            let parsed =
                humantime::parse_duration(d).map_err(|e| invalid(&field, format!("{d:?}: {e}")))?;
            let length_ms = parsed.as_millis() as i64;
            if length_ms < 1000 {
                return Err(invalid(&field, format!("{d:?} is shorter than one second")));
            }
            if length_ms % self.windows.buckets as i64 != 0 {
                return Err(invalid(
                    &field,
                    format!(
                        "{d:?} does not divide into {} buckets of whole milliseconds",
                        self.windows.buckets
                    ),
                ));
            }
            let label = window_label(length_ms);
            if windows.iter().any(|w| w.length_ms == length_ms) {
                return Err(invalid(&field, format!("{d:?} duplicates another window")));
            }
            windows.push(WindowSpec { label, length_ms });
        }

        let longest = windows.iter().map(|w| w.length_ms).max().unwrap_or(0);
        let replay_ms = match &self.windows.max_replay {
            None => longest,
            Some(d) => {
                let ms = humantime::parse_duration(d)
                    .map_err(|e| invalid("windows.max_replay", format!("{d:?}: {e}")))?
                    .as_millis() as i64;
                ms.min(longest)
            }
        };
        let dims = &self.dimensions;
        for (i, l) in dims.labels.iter().enumerate() {
            if !valid_label_name(l) || RESERVED_LABELS.contains(&l.as_str()) {
                return Err(invalid(
                    format!("dimensions.labels[{i}]"),
                    format!("{l:?} is not usable as a Prometheus label name"),
                ));
            }
        }
        if dims.labels.len() > crate::aggregate::dimensions::MAX_LABELS {
            return Err(invalid(
                "dimensions.labels",
                format!(
                    "at most {} labels",
                    crate::aggregate::dimensions::MAX_LABELS
                ),
            ));
        }
        if dims.max_values == 0 {
            return Err(invalid("dimensions.max_values", "must be at least 1"));
        }
        for key in dims.allow.keys() {
            if !dims.labels.contains(key) {
                return Err(invalid(
                    format!("dimensions.allow.{key}"),
                    "is not one of dimensions.labels",
                ));
            }
        }

        let ix = &self.indices;
        let mut csi_weights = Vec::new();
        for (k, w) in &ix.csi_weights {
            if !(w.is_finite() && *w >= 0.0) {
                return Err(invalid(
                    format!("indices.csi_weights.{k}"),
                    "must be a finite weight ≥ 0",
                ));
            }
            if *w > 0.0 {
                csi_weights.push((k.clone(), *w));
            }
        }
        if csi_weights.is_empty() {
            return Err(invalid(
                "indices.csi_weights",
                "needs at least one positive weight",
            ));
        }
        let mut composite = CompositeWeights::default();
        for (k, w) in &ix.composite_weights {
            let field = format!("indices.composite_weights.{k}");
            let index = Index::from_name(k)
                .filter(|i| i.in_composite())
                .ok_or_else(|| invalid(&field, "is not one of csat, nps, ces, csi, sentiment, negative_share, complaint_share"))?;
            if !(w.is_finite() && *w >= 0.0) {
                return Err(invalid(&field, "must be a finite weight ≥ 0"));
            }
            composite.set(index, *w);
        }
        if composite.total() <= 0.0 {
            return Err(invalid(
                "indices.composite_weights",
                "needs at least one positive weight",
            ));
        }
        if !(ix.confidence > 0.5 && ix.confidence < 1.0) {
            return Err(invalid(
                "indices.confidence",
                "must be between 0.5 and 1 (exclusive)",
            ));
        }

        let mut aspects = Vec::new();
        for (name, words) in &self.aspects.lexicon {
            if name.is_empty() || words.iter().any(|w| w.is_empty()) || words.is_empty() {
                return Err(invalid(
                    format!("aspects.lexicon.{name}"),
                    "needs a name and non-empty keywords",
                ));
            }
            aspects.push((name.clone(), words.clone()));
        }

        if self.limits.max_text_chars == 0 {
            return Err(invalid("limits.max_text_chars", "must be at least 1"));
        }
        if self.limits.max_message_bytes < 64 {
            return Err(invalid("limits.max_message_bytes", "must be at least 64"));
        }
        if let Some(p) = &self.segmenter.user_dict {
            if !p.is_file() {
                return Err(invalid(
                    "segmenter.user_dict",
                    format!("{} is not a readable file", p.display()),
                ));
            }
        }
        let ctl = &self.close_the_loop;
        if let Some(t) = &ctl.topic {
            if !valid_topic_name(t) || self.kafka.topics.contains(t) {
                return Err(invalid(
                    "close_the_loop.topic",
                    format!("{t:?} must be a valid topic name other than the input topics"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&ctl.complaint_below) {
            return Err(invalid(
                "close_the_loop.complaint_below",
                "must be a probability in [0, 1]",
            ));
        }
        let workers = if self.pipeline.workers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.pipeline.workers
        };
        if workers > 256 {
            return Err(invalid("pipeline.workers", "must be at most 256"));
        }

        Ok(ValidConfig {
            kafka_properties,
            kafka: self.kafka,
            listen,
            web,
            model: self.model,
            user_dict: self.segmenter.user_dict,
            windows,
            buckets: self.windows.buckets,
            replay_ms,
            dimensions: self.dimensions,
            csi_weights,
            composite,
            min_responses: ix.min_responses,
            confidence: ix.confidence,
            aspects,
            limits: self.limits,
            workers,
            shutdown_timeout: self.pipeline.shutdown_timeout,
            close_the_loop: self.close_the_loop,
        })
    }
}

impl ValidConfig {
    /// What the per-response values depend on.
    pub fn index_settings(&self) -> crate::score::indices::IndexSettings {
        crate::score::indices::IndexSettings {
            csi_weights: self.csi_weights.clone(),
            composite: self.composite,
            thresholds: crate::score::indices::Thresholds {
                negative_below: self.model.negative_below,
                positive_above: self.model.positive_above,
            },
        }
    }

    /// The user's librdkafka properties that apply to producers (dead letters, follow-ups):
    /// consumer-only ones are left out, so librdkafka does not warn about them.
    pub fn producer_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.kafka_properties
            .iter()
            .filter(|(k, _)| {
                !CONSUMER_ONLY
                    .iter()
                    .any(|c| k.as_str() == *c || (c.ends_with('.') && k.starts_with(c)))
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// librdkafka consumer-only properties (exact names, or prefixes ending in '.').
const CONSUMER_ONLY: &[&str] = &[
    "fetch.",
    "group.",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "partition.assignment.strategy",
    "isolation.level",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "enable.partition.eof",
    "check.crcs",
    "max.partition.fetch.bytes",
];

/// Properties manyi owns: overriding them would break at-least-once delivery.
const MANAGED_PROPERTIES: &[&str] = &["enable.auto.offset.store", "group.id", "bootstrap.servers"];

/// Label names manyi itself puts on index series.
const RESERVED_LABELS: &[&str] = &[
    "index", "window", "aspect", "le", "quantile", "job", "instance",
];

/// Stable label: the largest unit that divides the length ("5m", "1h", "24h" stays "24h", "7d").
pub fn window_label(length_ms: i64) -> String {
    const UNITS: &[(i64, &str)] = &[
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
    ];
    if length_ms == 86_400_000 {
        return "24h".to_owned();
    }
    for (unit, suffix) in UNITS {
        if length_ms % unit == 0 {
            return format!("{}{}", length_ms / unit, suffix);
        }
    }
    format!("{length_ms}ms")
}

fn valid_topic_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn valid_label_name(l: &str) -> bool {
    let mut bytes = l.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !l.starts_with("__")
}

/// `env:NAME` and `file:PATH` keep secrets out of the config file.
fn resolve_secret(field: &str, value: &str) -> Result<String, ConfigError> {
    if let Some(name) = value.strip_prefix("env:") {
        std::env::var(name)
            .map_err(|_| invalid(field, format!("environment variable {name} is not set")))
    } else if let Some(path) = value.strip_prefix("file:") {
        std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| invalid(field, format!("cannot read {path}: {e}")))
    } else {
        Ok(value.to_owned())
    }
}

/// librdkafka properties with secrets resolved. Its `Debug` redacts the values of sensitive keys
/// (passwords, secrets, keys, tokens), so logging a config never prints a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties(pub BTreeMap<String, String>);

impl KafkaProperties {
    /// Returns true if and only if the value of `key` may be a secret.
    pub fn is_sensitive(key: &str) -> bool {
        let k = key.to_ascii_lowercase();
        [
            "password",
            "secret",
            "pem",
            "jaas",
            "oauthbearer",
            "token",
            "key",
        ]
        .iter()
        .any(|s| k.contains(s))
    }
}

impl std::ops::Deref for KafkaProperties {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> IntoIterator for &'a KafkaProperties {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let v = if KafkaProperties::is_sensitive(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k, v)
            }))
            .finish()
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
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:9898");
        let labels: Vec<_> = cfg.windows.iter().map(|w| w.label.as_str()).collect();
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
        assert_eq!(cfg.kafka_properties["sasl.password"], "hunter2-very-secret");
        let shown = format!("{cfg:?} {cfg:#?} {:?}", cfg.kafka_properties);
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
        assert_eq!(cfg.kafka_properties["sasl.password"], "s3cret");
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
        assert_eq!(cfg.replay_ms, 86_400_000);
        let text = format!("{}[windows]\nmax_replay = \"6h\"\n", minimal());
        assert_eq!(
            Config::from_toml(&text)
                .unwrap()
                .validate()
                .unwrap()
                .replay_ms,
            6 * 3_600_000
        );
        assert!(invalid_with("[windows]\nmax_replay = \"soon\"\n").contains("windows.max_replay"));
    }

    #[test]
    fn window_labels_are_stable() {
        assert_eq!(window_label(300_000), "5m");
        assert_eq!(window_label(3_600_000), "1h");
        assert_eq!(window_label(86_400_000), "24h");
        assert_eq!(window_label(7 * 86_400_000), "7d");
        assert_eq!(window_label(90_000), "90s");
    }

    #[test]
    fn composite_weight_for_unknown_index_is_named() {
        let err = invalid_with("[indices.composite_weights]\nhappiness = 1.0\n");
        assert!(err.contains("indices.composite_weights.happiness"), "{err}");
    }
}
