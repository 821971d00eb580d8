//! The `[indices]` and `[aspects]` sections: CSI and composite weights, the low-sample and
//! confidence settings, and the aspect lexicon.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::indices::{CompositeWeights, Index};
use crate::invalid::{invalid, Invalid};

/// `[indices]` as written by the user.
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

/// `[indices]` checked: only the positive CSI weights, the composite's weights by index.
#[derive(Debug, Clone)]
pub struct Indices {
    pub csi_weights: Vec<(String, f64)>,
    pub composite: CompositeWeights,
    pub min_responses: u64,
    pub confidence: f64,
}

impl IndicesConfig {
    pub fn validate(self) -> Result<Indices, Invalid> {
        let mut csi_weights = Vec::new();
        for (k, w) in &self.csi_weights {
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
        for (k, w) in &self.composite_weights {
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
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err(invalid(
                "indices.confidence",
                "must be between 0.5 and 1 (exclusive)",
            ));
        }
        Ok(Indices {
            csi_weights,
            composite,
            min_responses: self.min_responses,
            confidence: self.confidence,
        })
    }
}

/// `[aspects]`: which words in a clause make it about an aspect.
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

impl AspectsConfig {
    /// The lexicon as `(aspect, keywords)` in name order.
    pub fn validate(self) -> Result<Vec<(String, Vec<String>)>, Invalid> {
        let mut aspects = Vec::new();
        for (name, words) in self.lexicon {
            if name.is_empty() || words.iter().any(|w| w.is_empty()) || words.is_empty() {
                return Err(invalid(
                    format!("aspects.lexicon.{name}"),
                    "needs a name and non-empty keywords",
                ));
            }
            aspects.push((name, words));
        }
        Ok(aspects)
    }
}
