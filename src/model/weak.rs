//! Weak labels: a survey score given with a text says what the text means, in the user's own
//! domain. CSAT 1–2 and NPS 0–6 make a text negative, CSAT 4–5 and NPS 9–10 positive; the middle
//! (CSAT 3, NPS 7–8) says nothing. The thresholds are configurable (`[adapt]`).
//!
//! From a stream of events this keeps one label per distinct text: a text that came with both
//! labels is dropped, repeats are kept once, and counts per rule say where the labels came from.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Label;
use crate::decode::Feedback;
use crate::invalid::{invalid, Invalid};

/// The score thresholds that turn a score into a label. A score between the two bounds of a
/// scale gives no label.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeakLabelRules {
    /// CSAT at or below this is negative.
    #[serde(default = "default_csat_negative_at_most")]
    pub csat_negative_at_most: u8,
    /// CSAT at or above this is positive.
    #[serde(default = "default_csat_positive_at_least")]
    pub csat_positive_at_least: u8,
    /// NPS at or below this is negative (the detractors).
    #[serde(default = "default_nps_negative_at_most")]
    pub nps_negative_at_most: u8,
    /// NPS at or above this is positive (the promoters).
    #[serde(default = "default_nps_positive_at_least")]
    pub nps_positive_at_least: u8,
}

/// CSAT 1–2: dissatisfied.
const fn default_csat_negative_at_most() -> u8 {
    2
}
/// CSAT 4–5: satisfied, as the `csat` index counts it.
const fn default_csat_positive_at_least() -> u8 {
    4
}
/// NPS 0–6: detractors.
const fn default_nps_negative_at_most() -> u8 {
    6
}
/// NPS 9–10: promoters.
const fn default_nps_positive_at_least() -> u8 {
    9
}

impl Default for WeakLabelRules {
    fn default() -> Self {
        WeakLabelRules {
            csat_negative_at_most: default_csat_negative_at_most(),
            csat_positive_at_least: default_csat_positive_at_least(),
            nps_negative_at_most: default_nps_negative_at_most(),
            nps_positive_at_least: default_nps_positive_at_least(),
        }
    }
}

/// Which rule gave a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    CsatNegative,
    CsatPositive,
    NpsNegative,
    NpsPositive,
}

impl WeakLabelRules {
    /// Checks that each scale's bounds are inside it and leave the negative side below the
    /// positive one.
    pub fn validate(self, section: &str) -> Result<WeakLabelRules, Invalid> {
        let check = |field: &str, neg: u8, pos: u8, max: u8| {
            if pos > max || neg >= pos {
                Err(invalid(
                    format!("{section}.{field}"),
                    format!(
                        "must satisfy negative_at_most < positive_at_least <= {max} \
                         (got {neg} and {pos})"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        check(
            "csat_positive_at_least",
            self.csat_negative_at_most,
            self.csat_positive_at_least,
            5,
        )?;
        if self.csat_negative_at_most < 1 {
            return Err(invalid(
                format!("{section}.csat_negative_at_most"),
                "must be at least 1 (CSAT is 1–5)",
            ));
        }
        check(
            "nps_positive_at_least",
            self.nps_negative_at_most,
            self.nps_positive_at_least,
            10,
        )?;
        Ok(self)
    }

    /// The label the scores of `fb` give its text, and the rule that gave it. CSAT is asked
    /// first; when CSAT and NPS disagree the event gives no label.
    pub fn label(&self, fb: &Feedback) -> Option<(Label, Rule)> {
        let csat = fb.scores.csat.and_then(|c| {
            if c <= self.csat_negative_at_most {
                Some((Label::Negative, Rule::CsatNegative))
            } else if c >= self.csat_positive_at_least {
                Some((Label::Positive, Rule::CsatPositive))
            } else {
                None
            }
        });
        let nps = fb.scores.nps.and_then(|n| {
            if n <= self.nps_negative_at_most {
                Some((Label::Negative, Rule::NpsNegative))
            } else if n >= self.nps_positive_at_least {
                Some((Label::Positive, Rule::NpsPositive))
            } else {
                None
            }
        });
        match (csat, nps) {
            (Some(c), Some(n)) if c.0 != n.0 => None,
            (Some(c), _) => Some(c),
            (None, n) => n,
        }
    }
}

/// A text with the label its score gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct WeakPair {
    pub text: String,
    pub label: Label,
    pub rule: Rule,
    /// Event time of its first occurrence.
    pub event_time_ms: i64,
}

/// What [`pairs`] kept and why it left the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeakCounts {
    pub events: usize,
    pub without_text: usize,
    /// Scores in the middle, or none, or CSAT and NPS contradicting each other.
    pub without_label: usize,
    /// Labelled events whose text was seen before with the same label (and no other yet).
    pub repeated: usize,
    /// Distinct texts seen with both labels (all their events dropped).
    pub conflicting_texts: usize,
    /// Kept pairs per rule.
    pub per_rule: BTreeMap<Rule, usize>,
}

/// One pair per distinct text of `events` that the rules label consistently, in the order of
/// first occurrence.
pub fn pairs<'a>(
    events: impl IntoIterator<Item = &'a Feedback>,
    rules: &WeakLabelRules,
) -> (Vec<WeakPair>, WeakCounts) {
    let mut counts = WeakCounts::default();
    let mut out: Vec<WeakPair> = Vec::new();
    // Text → its index in `out`.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut conflicted: Vec<bool> = Vec::new();
    for fb in events {
        counts.events += 1;
        let Some(text) = fb.text.as_deref() else {
            counts.without_text += 1;
            continue;
        };
        let Some((label, rule)) = rules.label(fb) else {
            counts.without_label += 1;
            continue;
        };
        match seen.get(text) {
            None => {
                seen.insert(text.to_owned(), out.len());
                out.push(WeakPair {
                    text: text.to_owned(),
                    label,
                    rule,
                    event_time_ms: fb.event_time_ms,
                });
                conflicted.push(false);
            }
            Some(&i) if conflicted[i] => {}
            Some(&i) if out[i].label == label => counts.repeated += 1,
            Some(&i) => {
                conflicted[i] = true;
                counts.conflicting_texts += 1;
            }
        }
    }
    let kept: Vec<WeakPair> = out
        .into_iter()
        .zip(conflicted)
        .filter(|(_, c)| !c)
        .map(|(p, _)| p)
        .collect();
    for p in &kept {
        *counts.per_rule.entry(p.rule).or_default() += 1;
    }
    (kept, counts)
}

/// Splits pairs by event time: the oldest `1 − newest_fraction` to learn from, the newest
/// `newest_fraction` to judge on (as the model will be used: trained on the past, scored on
/// what comes next). Ties in time keep their input order.
pub fn split_newest(
    mut pairs: Vec<WeakPair>,
    newest_fraction: f64,
) -> (Vec<WeakPair>, Vec<WeakPair>) {
    pairs.sort_by_key(|p| p.event_time_ms);
    let n_new = ((pairs.len() as f64) * newest_fraction.clamp(0.0, 1.0)).round() as usize;
    let newest = pairs.split_off(pairs.len() - n_new);
    (pairs, newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Kind, Scores};

    fn ev(text: Option<&str>, csat: Option<u8>, nps: Option<u8>, t: i64) -> Feedback {
        Feedback {
            id: format!("e{t}"),
            event_time_ms: t,
            kind: Kind::Survey,
            text: text.map(str::to_owned),
            scores: Scores {
                csat,
                nps,
                ..Scores::default()
            },
            dims: Vec::new(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn default_rules_label_the_ends_of_each_scale_and_skip_the_middle() {
        let r = WeakLabelRules::default();
        let l = |c, n| r.label(&ev(Some("x"), c, n, 0)).map(|(l, _)| l);
        assert_eq!(l(Some(1), None), Some(Label::Negative));
        assert_eq!(l(Some(2), None), Some(Label::Negative));
        assert_eq!(l(Some(3), None), None);
        assert_eq!(l(Some(4), None), Some(Label::Positive));
        assert_eq!(l(None, Some(6)), Some(Label::Negative));
        assert_eq!(l(None, Some(7)), None);
        assert_eq!(l(None, Some(8)), None);
        assert_eq!(l(None, Some(9)), Some(Label::Positive));
        // Agreeing scales: CSAT's rule; contradicting scales: no label; a middle CSAT leaves it
        // to NPS.
        assert_eq!(
            r.label(&ev(Some("x"), Some(5), Some(10), 0)),
            Some((Label::Positive, Rule::CsatPositive))
        );
        assert_eq!(l(Some(5), Some(0)), None);
        assert_eq!(
            r.label(&ev(Some("x"), Some(3), Some(2), 0)),
            Some((Label::Negative, Rule::NpsNegative))
        );
    }

    #[test]
    fn bad_thresholds_name_the_field() {
        let r = WeakLabelRules {
            csat_negative_at_most: 4,
            csat_positive_at_least: 4,
            ..WeakLabelRules::default()
        };
        let e = r.validate("adapt").unwrap_err();
        assert_eq!(e.field, "adapt.csat_positive_at_least");
        let r = WeakLabelRules {
            nps_positive_at_least: 11,
            ..WeakLabelRules::default()
        };
        assert_eq!(
            r.validate("adapt").unwrap_err().field,
            "adapt.nps_positive_at_least"
        );
        assert!(WeakLabelRules::default().validate("adapt").is_ok());
    }

    #[test]
    fn pairs_keep_one_per_text_drop_conflicts_and_count_why() {
        let events = [
            ev(Some("送餐很快"), Some(5), None, 1),
            ev(Some("送餐很快"), Some(4), None, 2), // repeat, same label
            ev(Some("汤洒了"), Some(1), None, 3),
            ev(Some("一般"), Some(3), None, 4), // middle
            ev(None, Some(1), None, 5),         // no text
            ev(Some("还行吧"), None, Some(9), 6),
            ev(Some("还行吧"), None, Some(2), 7),  // conflict
            ev(Some("还行吧"), None, Some(10), 8), // still dropped
        ];
        let (kept, c) = pairs(&events, &WeakLabelRules::default());
        let texts: Vec<&str> = kept.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["送餐很快", "汤洒了"]);
        assert_eq!(kept[0].event_time_ms, 1);
        assert_eq!(
            c,
            WeakCounts {
                events: 8,
                without_text: 1,
                without_label: 1,
                repeated: 1,
                conflicting_texts: 1,
                per_rule: [(Rule::CsatNegative, 1), (Rule::CsatPositive, 1)].into(),
            }
        );
    }

    #[test]
    fn the_newest_fifth_is_held_out_by_event_time() {
        let pairs: Vec<WeakPair> = [50, 10, 40, 20, 30, 90, 60, 80, 70, 0]
            .into_iter()
            .map(|t| WeakPair {
                text: t.to_string(),
                label: Label::Positive,
                rule: Rule::CsatPositive,
                event_time_ms: t,
            })
            .collect();
        let (older, newest) = split_newest(pairs, 0.2);
        let times = |v: &[WeakPair]| v.iter().map(|p| p.event_time_ms).collect::<Vec<_>>();
        assert_eq!(times(&older), [0, 10, 20, 30, 40, 50, 60, 70]);
        assert_eq!(times(&newest), [80, 90]);
    }
}
