//! The `[kafka]` and `[close_the_loop]` sections: where feedback comes from, where dead letters
//! and follow-ups go, and the user's librdkafka properties with their secrets resolved.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::invalid::{invalid, Invalid};

/// `[kafka]` as written by the user.
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

/// `[kafka]` checked, with every `env:`/`file:` reference resolved.
#[derive(Debug, Clone)]
pub struct Kafka {
    pub brokers: String,
    pub topics: Vec<String>,
    pub group_id: String,
    pub dead_letter_topic: Option<String>,
    /// librdkafka properties, secrets resolved (and redacted from `Debug`).
    pub properties: KafkaProperties,
}

impl KafkaConfig {
    /// A config for the given brokers and topics, everything else at its default.
    pub fn new(brokers: &str, topics: &[&str]) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.to_owned(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            group_id: default_group_id(),
            dead_letter_topic: None,
            properties: BTreeMap::new(),
        }
    }

    pub fn validate(self) -> Result<Kafka, Invalid> {
        if self.brokers.trim().is_empty() {
            return Err(invalid("kafka.brokers", "must not be empty"));
        }
        if self.topics.is_empty() {
            return Err(invalid("kafka.topics", "needs at least one topic"));
        }
        for (i, t) in self.topics.iter().enumerate() {
            if !valid_topic_name(t) {
                return Err(invalid(
                    format!("kafka.topics[{i}]"),
                    format!("{t:?} is not a valid Kafka topic name"),
                ));
            }
        }
        if self.group_id.trim().is_empty() {
            return Err(invalid("kafka.group_id", "must not be empty"));
        }
        if let Some(t) = &self.dead_letter_topic {
            if !valid_topic_name(t) {
                return Err(invalid(
                    "kafka.dead_letter_topic",
                    format!("{t:?} is not a valid Kafka topic name"),
                ));
            }
            if self.topics.contains(t) {
                return Err(invalid(
                    "kafka.dead_letter_topic",
                    "must differ from the input topics",
                ));
            }
        }
        let mut properties = KafkaProperties::default();
        for (key, value) in &self.properties {
            let field = format!("kafka.properties.{key:?}");
            if MANAGED_PROPERTIES.contains(&key.as_str()) {
                return Err(invalid(
                    field,
                    "is set by manyi itself (at-least-once offset handling)",
                ));
            }
            properties
                .0
                .insert(key.clone(), resolve_secret(&field, value)?);
        }
        Ok(Kafka {
            brokers: self.brokers,
            topics: self.topics,
            group_id: self.group_id,
            dead_letter_topic: self.dead_letter_topic,
            properties,
        })
    }
}

impl Kafka {
    /// The user's librdkafka properties that apply to producers (dead letters, follow-ups):
    /// consumer-only ones are left out, so librdkafka does not warn about them.
    pub fn producer_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.properties
            .iter()
            .filter(|(k, _)| {
                !CONSUMER_ONLY
                    .iter()
                    .any(|c| k.as_str() == *c || (c.ends_with('.') && k.starts_with(c)))
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `[close_the_loop]`: unhappy customers published for CRM / ticketing follow-up. It has no other
/// form once checked.
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

impl CloseTheLoopConfig {
    /// Checks the section; the follow-up topic must not be one of the `input_topics`.
    pub fn validate(self, input_topics: &[String]) -> Result<CloseTheLoopConfig, Invalid> {
        if let Some(t) = &self.topic {
            if !valid_topic_name(t) || input_topics.contains(t) {
                return Err(invalid(
                    "close_the_loop.topic",
                    format!("{t:?} must be a valid topic name other than the input topics"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.complaint_below) {
            return Err(invalid(
                "close_the_loop.complaint_below",
                "must be a probability in [0, 1]",
            ));
        }
        Ok(self)
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

fn valid_topic_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `env:NAME` and `file:PATH` keep secrets out of the config file.
fn resolve_secret(field: &str, value: &str) -> Result<String, Invalid> {
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
