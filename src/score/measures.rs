//! Measures: indices defined in config (`[[measures]]`) over fields of the event JSON, such as
//! first response time of tickets, survey response rate, churn share. The definitions are in
//! `config.rs`; this file holds the checked definitions and what one event contributes.
//!
//! Every measure keeps `(sum, count)` per window like the built-in indices, so replicas add up
//! exactly; a distribution also keeps one count per histogram bucket. What an event adds:
//!
//! | aggregate      | per counted event                                        |
//! |----------------|----------------------------------------------------------|
//! | `mean`         | `(value × scale, 1)`                                     |
//! | `share`        | `(100, 1)` if the condition holds, else `(0, 1)`         |
//! | `distribution` | `(value × scale, 1)` and 1 in the bucket of that value   |
//! | `ratio`        | denominator kinds `(0, 1)`, numerator kinds `(100, 0)`   |
//!
//! An event counts when its kind is one of `kinds` (all kinds when empty), the `where`
//! condition (if any) holds, and `field` is present (`null` is absent). A field of the wrong type
//! or out of range makes the whole event invalid (`bad_field_value`): counted, dead-lettered,
//! not applied, like any other bad input.

use crate::decode::{DecodeError, Feedback, Kind};

/// A field's path in the event JSON: a top-level key, then nested keys.
pub type FieldPath = Vec<String>;

/// A test on a field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A number within the bounds (inclusive); either bound may be open.
    Range {
        at_least: Option<f64>,
        at_most: Option<f64>,
    },
    /// A string, one of these.
    OneOf(Vec<String>),
    /// A boolean, equal to this.
    Equals(bool),
}

impl Condition {
    /// Whether `v` meets the condition; `Err` when `v` has the wrong type.
    fn test(&self, v: &serde_json::Value) -> Result<bool, DecodeError> {
        match self {
            Condition::Range { at_least, at_most } => {
                let x = number(v)?;
                Ok(at_least.is_none_or(|lo| x >= lo) && at_most.is_none_or(|hi| x <= hi))
            }
            Condition::OneOf(values) => {
                let s = v.as_str().ok_or(DecodeError::BadFieldValue)?;
                Ok(values.iter().any(|x| x == s))
            }
            Condition::Equals(b) => Ok(v.as_bool().ok_or(DecodeError::BadFieldValue)? == *b),
        }
    }
}

/// A finite JSON number.
fn number(v: &serde_json::Value) -> Result<f64, DecodeError> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or(DecodeError::BadFieldValue)
}

/// A point in time, as the event's `ts` is written: epoch milliseconds or an RFC 3339 string.
fn timestamp_ms(v: &serde_json::Value) -> Result<i64, DecodeError> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().ok_or(DecodeError::BadFieldValue),
        serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|_| DecodeError::BadFieldValue),
        _ => Err(DecodeError::BadFieldValue),
    }
}

/// Where a mean or distribution reads its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A number.
    Value(FieldPath),
    /// The seconds from the time at `since` to the time at `at` (both epoch ms or RFC 3339).
    Elapsed { at: FieldPath, since: FieldPath },
}

impl Source {
    /// The value in `fb`, `None` when the field is absent; an elapsed time needs its start.
    fn read(&self, fb: &Feedback) -> Result<Option<f64>, DecodeError> {
        match self {
            Source::Value(path) => fb.field(path).map(number).transpose(),
            Source::Elapsed { at, since } => {
                let Some(end) = fb.field(at) else {
                    return Ok(None);
                };
                let start = fb.field(since).ok_or(DecodeError::BadFieldValue)?;
                let ms = timestamp_ms(end)? - timestamp_ms(start)?;
                Ok(Some(ms as f64 / 1000.0))
            }
        }
    }
}

/// How a measure turns counted events into a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Mean {
        source: Source,
        scale: f64,
    },
    Share {
        field: FieldPath,
        condition: Condition,
    },
    /// A duration in seconds (after `scale`), never negative; `buckets` are the histogram's
    /// finite upper bounds, ascending.
    Distribution {
        source: Source,
        scale: f64,
        buckets: Vec<f64>,
    },
    /// Numerator events over denominator events (the measure's `kinds`), × 100.
    Ratio {
        numerator: Vec<Kind>,
    },
}

/// Which way a measure is better, for the composite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// A measure's part in the composite index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompositePart {
    pub weight: f64,
    pub better: Better,
    /// Values at or below `.0` map to 0, at or above `.1` to 100 (before the direction is
    /// applied). Shares use 0–100.
    pub range: (f64, f64),
}

impl CompositePart {
    /// The value on the composite's scale: 0–100, higher is better.
    fn normalised(&self, v: f64) -> f64 {
        let (lo, hi) = self.range;
        let x = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 100.0;
        match self.better {
            Better::Higher => x,
            Better::Lower => 100.0 - x,
        }
    }
}

/// One checked measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// The `index` label value.
    pub name: String,
    /// Kinds that count; empty means every kind.
    pub kinds: Vec<Kind>,
    /// Only events whose field meets the condition count.
    pub filter: Option<(FieldPath, Condition)>,
    pub rule: Rule,
    pub composite: Option<CompositePart>,
}

impl Measure {
    /// Returns true if and only if the value is a share of 0/100 answers, so it has Wilson bounds.
    pub fn is_share(&self) -> bool {
        matches!(self.rule, Rule::Share { .. } | Rule::Ratio { .. })
    }

    /// The histogram's finite upper bounds, for a distribution.
    pub fn buckets(&self) -> Option<&[f64]> {
        match &self.rule {
            Rule::Distribution { buckets, .. } => Some(buckets),
            _ => None,
        }
    }
}

/// One accumulator slot of a measure's region in a window, and what to add to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub slot: usize,
    pub sum: f64,
    pub count: u64,
}

/// All measures, with their accumulator slots: slot `i` holds measure `i`'s `(sum, count)`,
/// then each distribution's bucket counts follow, from [`Measures::bucket_slot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measures {
    list: Vec<Measure>,
    /// The top-level fields the measures read, for `decode::Keep::Only`.
    fields: Vec<String>,
    /// First bucket slot of each measure (unused for non-distributions).
    bucket_start: Vec<usize>,
    slots: usize,
}

impl Measures {
    pub fn new(list: Vec<Measure>) -> Measures {
        let mut next = list.len();
        let bucket_start = list
            .iter()
            .map(|m| {
                let start = next;
                next += m.buckets().map_or(0, <[f64]>::len);
                start
            })
            .collect();
        let mut fields: Vec<String> = list
            .iter()
            .flat_map(|m| {
                let paths: Vec<&FieldPath> = match &m.rule {
                    Rule::Mean { source, .. } | Rule::Distribution { source, .. } => match source {
                        Source::Value(p) => vec![p],
                        Source::Elapsed { at, since } => vec![at, since],
                    },
                    Rule::Share { field, .. } => vec![field],
                    Rule::Ratio { .. } => vec![],
                };
                paths
                    .into_iter()
                    .chain(m.filter.as_ref().map(|(p, _)| p))
                    .map(|p| p[0].clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        fields.sort();
        fields.dedup();
        Measures {
            list,
            fields,
            bucket_start,
            slots: next,
        }
    }

    /// The top-level fields of the event the measures read (`ticket`, `account`, …).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    pub fn list(&self) -> &[Measure] {
        &self.list
    }

    /// Accumulator slots the measures need in a window.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The slot counting measure `m`'s values in finite bucket `b` (not cumulative).
    pub fn bucket_slot(&self, m: usize, b: usize) -> usize {
        self.bucket_start[m] + b
    }

    /// What `fb` adds to the measures' slots, into `out` (cleared first), and its part of the
    /// composite as `(Σ weight × normalised value, Σ weight)`. On `Err` nothing may be applied.
    pub fn evaluate(
        &self,
        fb: &Feedback,
        out: &mut Vec<Contribution>,
    ) -> Result<(f64, f64), DecodeError> {
        out.clear();
        let (mut num, mut den) = (0.0, 0.0);
        for (i, m) in self.list.iter().enumerate() {
            let in_kinds = m.kinds.is_empty() || m.kinds.contains(&fb.kind);
            let numerator =
                matches!(&m.rule, Rule::Ratio { numerator } if numerator.contains(&fb.kind));
            if !in_kinds && !numerator {
                continue;
            }
            if let Some((path, condition)) = &m.filter {
                match fb.field(path) {
                    Some(v) if condition.test(v)? => {}
                    _ => continue,
                }
            }
            let add = |out: &mut Vec<Contribution>, slot, sum, count| {
                out.push(Contribution { slot, sum, count })
            };
            let value = match &m.rule {
                Rule::Mean { source, scale } => match source.read(fb)? {
                    None => continue,
                    Some(v) => v * scale,
                },
                Rule::Share { field, condition } => match fb.field(field) {
                    None => continue,
                    Some(v) => {
                        if condition.test(v)? {
                            100.0
                        } else {
                            0.0
                        }
                    }
                },
                Rule::Distribution {
                    source,
                    scale,
                    buckets,
                } => {
                    let Some(v) = source.read(fb)? else { continue };
                    let x = v * scale;
                    if x < 0.0 {
                        return Err(DecodeError::BadFieldValue);
                    }
                    if let Some(b) = buckets.iter().position(|&le| x <= le) {
                        add(out, self.bucket_slot(i, b), 0.0, 1);
                    }
                    x
                }
                Rule::Ratio { .. } => {
                    if numerator {
                        add(out, i, 100.0, 0);
                    } else {
                        add(out, i, 0.0, 1);
                    }
                    continue;
                }
            };
            add(out, i, value, 1);
            if let Some(c) = &m.composite {
                num += c.weight * c.normalised(value);
                den += c.weight;
            }
        }
        Ok((num, den))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeLimits};
    use crate::score::config::MeasureConfig;

    fn ev(json: &str) -> Feedback {
        decode(
            json.as_bytes(),
            Some(1_764_000_000_000),
            &DecodeLimits::default(),
        )
        .unwrap()
    }

    fn shipped() -> Measures {
        MeasureConfig::validate_all(MeasureConfig::shipped()).unwrap()
    }

    fn slot(m: &Measures, name: &str) -> usize {
        m.list().iter().position(|x| x.name == name).unwrap()
    }

    /// `(sum, count)` that `events` add to measure `name`, summed, with the bucket counts.
    fn totals(m: &Measures, name: &str, events: &[&str]) -> (f64, u64, Vec<u64>) {
        let i = slot(m, name);
        let n_buckets = m.list()[i].buckets().map_or(0, <[f64]>::len);
        let (mut sum, mut count, mut buckets) = (0.0, 0, vec![0; n_buckets]);
        let mut out = Vec::new();
        for e in events {
            m.evaluate(&ev(e), &mut out).unwrap();
            for c in &out {
                if c.slot == i {
                    sum += c.sum;
                    count += c.count;
                }
                for (b, n) in buckets.iter_mut().enumerate() {
                    if c.slot == m.bucket_slot(i, b) {
                        *n += c.count;
                    }
                }
            }
        }
        (sum, count, buckets)
    }

    #[test]
    fn distribution_of_first_response_by_hand() {
        let m = shipped();
        let events = [
            r#"{"id":"1","kind":"ticket","ticket":{"first_response_s":30}}"#,
            r#"{"id":"2","kind":"ticket","ticket":{"first_response_s":600,"resolution_s":7200}}"#,
            r#"{"id":"3","kind":"ticket","ticket":{"first_response_s":5400}}"#,
            // Not yet answered: not counted.
            r#"{"id":"4","kind":"ticket","ticket":{"first_response_s":null}}"#,
            // Not a ticket: not counted.
            r#"{"id":"5","kind":"order","ticket":{"first_response_s":1}}"#,
        ];
        let (sum, count, buckets) = totals(&m, "first_response_seconds", &events);
        assert_eq!((sum, count), (6030.0, 3));
        // Bounds 60, 300, 900, 1800, 3600, 7200, …: 30 → le 60, 600 → le 900, 5400 → le 7200.
        assert_eq!(&buckets[..6], &[1, 0, 1, 0, 0, 1]);
        assert_eq!(buckets.iter().sum::<u64>(), 3);
        let (sum, count, _) = totals(&m, "resolution_seconds", &events);
        assert_eq!((sum, count), (7200.0, 1));
        // SLO (1 h): 30 and 600 within, 5400 not → 200 / 3.
        let (sum, count, _) = totals(&m, "first_response_within_slo", &events);
        assert_eq!((sum, count), (200.0, 3));
    }

    #[test]
    fn shares_and_ratio_by_hand() {
        let m = shipped();
        let accounts = [
            r#"{"id":"1","kind":"account","account":{"status":"churned"}}"#,
            r#"{"id":"2","kind":"account","account":{"status":"renewed"}}"#,
            r#"{"id":"3","kind":"account","account":{"status":"renewed"}}"#,
            r#"{"id":"4","kind":"account","account":{"status":"renewed"}}"#,
            // Not a decision: not counted.
            r#"{"id":"5","kind":"account","account":{"status":"trial"}}"#,
        ];
        assert_eq!(totals(&m, "churn_share", &accounts), (100.0, 4, vec![]));
        let orders = [
            r#"{"id":"1","kind":"order","order":{"customer_order_count":1}}"#,
            r#"{"id":"2","kind":"order","order":{"customer_order_count":2}}"#,
            r#"{"id":"3","kind":"order","order":{"customer_order_count":7}}"#,
        ];
        assert_eq!(
            totals(&m, "repeat_purchase_share", &orders),
            (200.0, 3, vec![])
        );
        // 4 invitations, 3 answers (of any channel) → 75.
        let survey = [
            r#"{"id":"1","kind":"survey_invite"}"#,
            r#"{"id":"2","kind":"survey_invite"}"#,
            r#"{"id":"3","kind":"survey_invite"}"#,
            r#"{"id":"4","kind":"survey_invite"}"#,
            r#"{"id":"5","kind":"survey","scores":{"csat":4}}"#,
            r#"{"id":"6","kind":"survey","scores":{"nps":3}}"#,
            r#"{"id":"7","kind":"survey","text":"还行"}"#,
            r#"{"id":"8","kind":"review","text":"还行"}"#,
        ];
        assert_eq!(
            totals(&m, "survey_response_rate", &survey),
            (300.0, 4, vec![])
        );
    }

    #[test]
    fn mean_with_unit_conversion_and_boolean_share() {
        let cfg: Vec<MeasureConfig> = toml::from_str::<toml::Table>(
            r#"
            [[measures]]
            name = "wait_minutes"
            aggregate = "mean"
            field = "call.wait_s"
            scale = 0.016666666666666666
            where = { field = "call.queue", one_of = ["vip"] }
            [[measures]]
            name = "solved_first_contact"
            aggregate = "share"
            kinds = ["ticket"]
            field = "ticket.first_contact"
            equals = true
            "#,
        )
        .unwrap()["measures"]
            .clone()
            .try_into()
            .unwrap();
        let m = MeasureConfig::validate_all(cfg).unwrap();
        let calls = [
            r#"{"id":"1","kind":"ticket","call":{"wait_s":120,"queue":"vip"}}"#,
            r#"{"id":"2","kind":"ticket","call":{"wait_s":300,"queue":"vip"}}"#,
            r#"{"id":"3","kind":"ticket","call":{"wait_s":900,"queue":"std"}}"#,
        ];
        let (sum, count, _) = totals(&m, "wait_minutes", &calls);
        assert_eq!(count, 2);
        assert!((sum - 7.0).abs() < 1e-12, "{sum}");
        let tickets = [
            r#"{"id":"1","kind":"ticket","ticket":{"first_contact":true}}"#,
            r#"{"id":"2","kind":"ticket","ticket":{"first_contact":false}}"#,
            r#"{"id":"3","kind":"ticket","ticket":{"first_contact":true}}"#,
            r#"{"id":"4","kind":"ticket","ticket":{}}"#,
        ];
        assert_eq!(
            totals(&m, "solved_first_contact", &tickets),
            (200.0, 3, vec![])
        );
    }

    #[test]
    fn elapsed_time_between_two_timestamps() {
        let cfg: Vec<MeasureConfig> = toml::from_str::<toml::Table>(
            r#"
            [[measures]]
            name = "first_response_from_times"
            aggregate = "distribution"
            kinds = ["ticket"]
            field = "ticket.first_response_at"
            since = "ticket.opened_at"
            buckets = [60, 600]
            "#,
        )
        .unwrap()["measures"]
            .clone()
            .try_into()
            .unwrap();
        let m = MeasureConfig::validate_all(cfg).unwrap();
        let tickets = [
            // 300 s, RFC 3339 in two time zones.
            r#"{"id":"1","kind":"ticket","ticket":{"opened_at":"2026-12-04T10:00:00+08:00","first_response_at":"2026-12-04T02:05:00Z"}}"#,
            // 30 s, epoch milliseconds.
            r#"{"id":"2","kind":"ticket","ticket":{"opened_at":1764813600000,"first_response_at":1764813630000}}"#,
            // Not answered yet.
            r#"{"id":"3","kind":"ticket","ticket":{"opened_at":1764813600000}}"#,
        ];
        let (sum, count, buckets) = totals(&m, "first_response_from_times", &tickets);
        assert_eq!((sum, count), (330.0, 2));
        assert_eq!(buckets, vec![1, 1]);
        let mut out = Vec::new();
        for bad in [
            r#"{"id":"4","kind":"ticket","ticket":{"first_response_at":1764813630000}}"#,
            r#"{"id":"5","kind":"ticket","ticket":{"opened_at":"yesterday","first_response_at":1764813630000}}"#,
            r#"{"id":"6","kind":"ticket","ticket":{"opened_at":1764813660000,"first_response_at":1764813630000}}"#,
        ] {
            assert_eq!(
                m.evaluate(&ev(bad), &mut out),
                Err(DecodeError::BadFieldValue),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_shipped_measures_read_three_top_level_fields() {
        assert_eq!(shipped().fields(), ["account", "order", "ticket"]);
    }

    #[test]
    fn a_bad_value_is_an_error_not_a_contribution() {
        let m = shipped();
        let mut out = Vec::new();
        for bad in [
            r#"{"id":"1","kind":"ticket","ticket":{"first_response_s":"soon"}}"#,
            r#"{"id":"2","kind":"ticket","ticket":{"first_response_s":-5}}"#,
            r#"{"id":"3","kind":"ticket","ticket":{"first_response_s":60,"resolution_s":true}}"#,
            r#"{"id":"4","kind":"account","account":{"status":3}}"#,
            r#"{"id":"5","kind":"order","order":{"customer_order_count":"two"}}"#,
        ] {
            assert_eq!(
                m.evaluate(&ev(bad), &mut out),
                Err(DecodeError::BadFieldValue),
                "{bad}"
            );
        }
    }

    #[test]
    fn composite_part_follows_direction_and_range() {
        let part = CompositePart {
            weight: 1.0,
            better: Better::Lower,
            range: (0.0, 3600.0),
        };
        assert_eq!(part.normalised(900.0), 75.0);
        assert_eq!(part.normalised(7200.0), 0.0);
        let part = CompositePart {
            better: Better::Higher,
            range: (0.0, 100.0),
            ..part
        };
        assert_eq!(part.normalised(40.0), 40.0);
    }
}
