//! The `[model]` section: which artifact to score with, how its probability becomes a label, and
//! how often the file is checked for a new version.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::invalid::{invalid, Invalid};

/// `[model]`; it has no other form once checked.
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
    #[serde(default = "default_reload_interval", with = "humantime_serde")]
    pub reload_interval: Duration,
}

fn default_model_path() -> PathBuf {
    PathBuf::from(super::DEFAULT_MODEL_PATH)
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

impl ModelConfig {
    pub fn validate(self) -> Result<ModelConfig, Invalid> {
        for (field, v) in [
            ("model.negative_below", self.negative_below),
            ("model.positive_above", self.positive_above),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    field,
                    format!("{v} is not a probability in [0, 1]"),
                ));
            }
        }
        if self.negative_below > self.positive_above {
            return Err(invalid(
                "model.negative_below",
                "must not exceed model.positive_above",
            ));
        }
        if self.reload_interval.is_zero() {
            return Err(invalid("model.reload_interval", "must be positive"));
        }
        Ok(self)
    }
}
