//! The `[indices]` and `[aspects]` sections (CSI and composite weights, the low-sample and
//! confidence settings, the aspect lexicon) and the `[[measures]]` list.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::indices::{CompositeWeights, Index};
use super::measures::{
    Better, CompositePart, Condition, FieldPath, Measure, Measures, Rule, Source,
};
use crate::decode::Kind;
use crate::invalid::{invalid, Invalid};

/// `[indices]` as written by the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicesConfig {
    /// Weights of the CSI dimensions (keys of `scores.csi`); the csi index is their weighted mean ×10.
    #[serde(default = "default_csi_weights")]
    pub csi_weights: BTreeMap<String, f64>,
    /// Weights of the composite index over csat, nps, ces, csi, sentiment, negative_share,
    /// complaint_share. Measures join it by their own `composite_weight`.
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
                .ok_or_else(|| invalid(&field, "is not one of csat, nps, ces, csi, sentiment, negative_share, complaint_share (a measure joins the composite by its own composite_weight)"))?;
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

/// One `[[measures]]` entry as written by the user. See `docs/measures.md`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureConfig {
    /// The `index` label value: lowercase letters, digits and `_`, unique.
    pub name: String,
    /// `mean`, `share`, `distribution` or `ratio`.
    pub aggregate: AggregateConfig,
    /// Event kinds that count (for a ratio: the denominator); empty or absent means every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only events whose field meets this condition count.
    #[serde(default, rename = "where")]
    pub filter: Option<ConditionConfig>,
    /// Path of the value in the event JSON, e.g. `ticket.first_response_s` (not for a ratio).
    #[serde(default)]
    pub field: Option<String>,
    /// For a mean or distribution: the path of a start time; the value is then the seconds from
    /// it to the time at `field` (both epoch milliseconds or RFC 3339 strings).
    #[serde(default)]
    pub since: Option<String>,
    /// Multiplies the field's value (unit conversion, e.g. 60 for minutes → seconds).
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// A share's condition on `field`: a number at least / at most this, …
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
    /// … a string that is one of these, …
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    /// … or a boolean equal to this.
    #[serde(default)]
    pub equals: Option<bool>,
    /// A distribution's histogram upper bounds in seconds, ascending (`+Inf` is implied).
    #[serde(default)]
    pub buckets: Option<Vec<f64>>,
    /// A ratio's numerator kinds: each such event adds 100 to the sum and nothing to the count.
    #[serde(default)]
    pub numerator_kinds: Vec<String>,
    /// Weight of this measure in the composite index (0: not a component).
    #[serde(default)]
    pub composite_weight: f64,
    /// `higher` or `lower` is better; required with a composite weight.
    #[serde(default)]
    pub better: Option<Better>,
    /// For a mean or distribution in the composite: the values mapped to 0 and 100.
    #[serde(default)]
    pub composite_range: Option<[f64; 2]>,
}

/// How a measure aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AggregateConfig {
    Mean,
    Share,
    Distribution,
    Ratio,
}

/// A `where` condition: a field and exactly one kind of test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionConfig {
    pub field: String,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    #[serde(default)]
    pub equals: Option<bool>,
}

const fn default_scale() -> f64 {
    1.0
}

/// Histogram bounds for durations from a minute to a week.
const DEFAULT_DURATION_BUCKETS: [f64; 12] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 345600.0,
    604800.0,
];

/// The measures used when the file has no `measures` key; `config/manyi.toml` writes the same
/// ones out (a test keeps them equal). Documented in `docs/measures.md`.
pub const SHIPPED_MEASURES: &str = r#"
[[measures]]
name = "first_response_seconds"
aggregate = "distribution"
kinds = ["ticket"]
field = "ticket.first_response_s"

[[measures]]
name = "resolution_seconds"
aggregate = "distribution"
kinds = ["ticket"]
field = "ticket.resolution_s"

[[measures]]
name = "first_response_within_slo"
aggregate = "share"
kinds = ["ticket"]
field = "ticket.first_response_s"
at_most = 3600

[[measures]]
name = "survey_response_rate"
aggregate = "ratio"
kinds = ["survey_invite"]
numerator_kinds = ["survey"]

[[measures]]
name = "churn_share"
aggregate = "share"
kinds = ["account"]
where = { field = "account.status", one_of = ["churned", "renewed"] }
field = "account.status"
one_of = ["churned"]

[[measures]]
name = "repeat_purchase_share"
aggregate = "share"
kinds = ["order"]
field = "order.customer_order_count"
at_least = 2
"#;

#[derive(Deserialize)]
struct MeasuresFile {
    measures: Vec<MeasureConfig>,
}

/// Names the measures cannot take: the built-in indices and the aspect index.
fn reserved(name: &str) -> bool {
    Index::from_name(name).is_some() || name == "aspect_sentiment"
}

fn path(field: &str, at: &str) -> Result<FieldPath, Invalid> {
    const KNOWN: [&str; 6] = ["id", "ts", "kind", "text", "scores", "dims"];
    let steps: Vec<String> = field.split('.').map(str::to_owned).collect();
    if steps.iter().any(String::is_empty) {
        return Err(invalid(
            at,
            "must be a dotted path such as ticket.first_response_s",
        ));
    }
    if KNOWN.contains(&steps[0].as_str()) {
        return Err(invalid(
            at,
            "must start with a field other than id, ts, kind, text, scores, dims",
        ));
    }
    Ok(steps)
}

fn kinds(names: &[String], at: &str) -> Result<Vec<Kind>, Invalid> {
    names
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Kind::from_name(k).ok_or_else(|| {
                invalid(
                    format!("{at}[{i}]"),
                    "is not one of review, complaint, survey, ticket, survey_invite, account, order",
                )
            })
        })
        .collect()
}

/// The one test among at_least/at_most, one_of, equals.
fn condition(
    at_least: Option<f64>,
    at_most: Option<f64>,
    one_of: &Option<Vec<String>>,
    equals: Option<bool>,
    at: &str,
) -> Result<Option<Condition>, Invalid> {
    let range = at_least.is_some() || at_most.is_some();
    let n = usize::from(range) + usize::from(one_of.is_some()) + usize::from(equals.is_some());
    if n > 1 {
        return Err(invalid(
            at,
            "takes one test: at_least/at_most, one_of or equals",
        ));
    }
    if at_least.is_some_and(|x| !x.is_finite()) || at_most.is_some_and(|x| !x.is_finite()) {
        return Err(invalid(at, "at_least and at_most must be finite numbers"));
    }
    Ok(if range {
        Some(Condition::Range { at_least, at_most })
    } else if let Some(values) = one_of {
        if values.is_empty() {
            return Err(invalid(at, "one_of needs at least one value"));
        }
        Some(Condition::OneOf(values.clone()))
    } else {
        equals.map(Condition::Equals)
    })
}

impl MeasureConfig {
    /// The shipped measures (what an absent `measures` key means).
    pub fn shipped() -> Vec<MeasureConfig> {
        toml::from_str::<MeasuresFile>(SHIPPED_MEASURES)
            .expect("shipped measures parse")
            .measures
    }

    /// Checks every measure; errors name `measures[i].field`.
    pub fn validate_all(list: Vec<MeasureConfig>) -> Result<Measures, Invalid> {
        let mut out: Vec<Measure> = Vec::with_capacity(list.len());
        for (i, m) in list.into_iter().enumerate() {
            let at = format!("measures[{i}]");
            let checked = m.validate(&at)?;
            if out.iter().any(|x| x.name == checked.name) {
                return Err(invalid(format!("{at}.name"), "is used by another measure"));
            }
            out.push(checked);
        }
        Ok(Measures::new(out))
    }

    fn validate(self, at: &str) -> Result<Measure, Invalid> {
        let f = |name: &str| format!("{at}.{name}");
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(invalid(
                f("name"),
                "must be 1–64 lowercase letters, digits or _, starting with a letter",
            ));
        }
        if reserved(&self.name) {
            return Err(invalid(f("name"), "is the name of a built-in index"));
        }
        let kinds_ = kinds(&self.kinds, &f("kinds"))?;
        let filter = match &self.filter {
            None => None,
            Some(c) => {
                let test = condition(c.at_least, c.at_most, &c.one_of, c.equals, &f("where"))?
                    .ok_or_else(|| {
                        invalid(
                            f("where"),
                            "needs a test: at_least/at_most, one_of or equals",
                        )
                    })?;
                Some((path(&c.field, &f("where.field"))?, test))
            }
        };
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(invalid(f("scale"), "must be a finite number > 0"));
        }
        let test = condition(self.at_least, self.at_most, &self.one_of, self.equals, at)?;
        let field = match (&self.field, self.aggregate) {
            (None, AggregateConfig::Ratio) => None,
            (Some(_), AggregateConfig::Ratio) => {
                return Err(invalid(
                    f("field"),
                    "is not used by a ratio (it counts events)",
                ))
            }
            (Some(p), _) => Some(path(p, &f("field"))?),
            (None, _) => return Err(invalid(f("field"), "is required")),
        };
        let only = |ok: bool, key: &str, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(invalid(f(key), format!("is only for {what}")))
            }
        };
        let agg = self.aggregate;
        only(
            test.is_none() || agg == AggregateConfig::Share,
            "at_least/at_most/one_of/equals",
            "a share",
        )?;
        only(
            self.buckets.is_none() || agg == AggregateConfig::Distribution,
            "buckets",
            "a distribution",
        )?;
        only(
            self.numerator_kinds.is_empty() || agg == AggregateConfig::Ratio,
            "numerator_kinds",
            "a ratio",
        )?;
        let numeric = matches!(agg, AggregateConfig::Mean | AggregateConfig::Distribution);
        only(
            self.scale == 1.0 || numeric,
            "scale",
            "a mean or a distribution",
        )?;
        only(
            self.since.is_none() || numeric,
            "since",
            "a mean or a distribution",
        )?;
        let source = |field: FieldPath| -> Result<Source, Invalid> {
            Ok(match &self.since {
                None => Source::Value(field),
                Some(since) => Source::Elapsed {
                    at: field,
                    since: path(since, &f("since"))?,
                },
            })
        };
        let rule = match (agg, field) {
            (AggregateConfig::Mean, Some(field)) => Rule::Mean {
                source: source(field)?,
                scale: self.scale,
            },
            (AggregateConfig::Share, Some(field)) => Rule::Share {
                field,
                condition: test.ok_or_else(|| {
                    invalid(
                        at,
                        "a share needs a test: at_least/at_most, one_of or equals",
                    )
                })?,
            },
            (AggregateConfig::Distribution, Some(field)) => {
                let buckets = self
                    .buckets
                    .unwrap_or_else(|| DEFAULT_DURATION_BUCKETS.to_vec());
                let ascending = buckets.windows(2).all(|w| w[0] < w[1]);
                if buckets.is_empty()
                    || buckets.len() > 40
                    || !ascending
                    || buckets.iter().any(|b| !b.is_finite() || *b <= 0.0)
                {
                    return Err(invalid(
                        f("buckets"),
                        "must be 1–40 positive, finite, strictly ascending bounds",
                    ));
                }
                Rule::Distribution {
                    source: source(field)?,
                    scale: self.scale,
                    buckets,
                }
            }
            (AggregateConfig::Ratio, _) => {
                let numerator = kinds(&self.numerator_kinds, &f("numerator_kinds"))?;
                if numerator.is_empty() || kinds_.is_empty() {
                    return Err(invalid(
                        at,
                        "a ratio needs kinds (denominator) and numerator_kinds",
                    ));
                }
                if numerator.iter().any(|k| kinds_.contains(k)) {
                    return Err(invalid(
                        f("numerator_kinds"),
                        "must not share a kind with kinds",
                    ));
                }
                Rule::Ratio { numerator }
            }
            (_, None) => unreachable!("field checked above"),
        };
        let composite = if self.composite_weight == 0.0 {
            if self.better.is_some() || self.composite_range.is_some() {
                return Err(invalid(
                    f("composite_weight"),
                    "must be > 0 when better or composite_range is set",
                ));
            }
            None
        } else {
            if !(self.composite_weight.is_finite() && self.composite_weight > 0.0) {
                return Err(invalid(
                    f("composite_weight"),
                    "must be a finite weight ≥ 0",
                ));
            }
            let better = self
                .better
                .ok_or_else(|| invalid(f("better"), "is required with a composite weight"))?;
            let range =
                match (&rule, self.composite_range) {
                    (Rule::Ratio { .. }, _) => {
                        return Err(invalid(
                            f("composite_weight"),
                            "a ratio has no per-response value, so it cannot be in the composite",
                        ))
                    }
                    (Rule::Share { .. }, None) => (0.0, 100.0),
                    (_, Some([lo, hi])) if lo.is_finite() && hi.is_finite() && lo < hi => (lo, hi),
                    _ => return Err(invalid(
                        f("composite_range"),
                        "must be [low, high] with low < high (required for a mean or distribution)",
                    )),
                };
            Some(CompositePart {
                weight: self.composite_weight,
                better,
                range,
            })
        };
        Ok(Measure {
            name: self.name,
            kinds: kinds_,
            filter,
            rule,
            composite,
        })
    }
}
