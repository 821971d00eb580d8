//! The feature spec: everything that decides which bucket a text lands in, stored in every model
//! artifact; the defaults `manyi train` starts from; and the checks a spec must pass.

use serde::{Deserialize, Serialize};
use twox_hash::XxHash64;

use super::lexicon::default_lexicon;
use super::FEATURE_SPEC_VERSION;
pub use crate::text::normalise::TextNorm;

/// Everything that defines the mapping from words to feature buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Must equal [`FEATURE_SPEC_VERSION`] of the running code.
    pub version: u32,
    /// Seed of xxhash64; fixed so buckets are the same across runs and platforms.
    pub hash_seed: u64,
    /// Number of hash buckets is `2^buckets_log2`.
    pub buckets_log2: u8,
    /// Text normalisation before segmentation.
    pub text: TextNorm,
    /// Word n-grams.
    pub words: WordGrams,
    /// Character n-grams, inclusive range; `None` turns them off.
    pub char_ngrams: Option<CharNgrams>,
    /// Negation scope marking.
    pub negation: Negation,
    /// Degree adverb marking.
    pub degree: Degree,
    /// Sentiment lexicon polarity features.
    pub lexicon: Lexicon,
    /// Up-weighting of the words after the last contrastive conjunction.
    pub contrast: Contrast,
    /// Row normalisation.
    pub row_norm: RowNorm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordGrams {
    Unigrams,
    UnigramsAndBigrams,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharNgrams {
    pub min: u8,
    pub max: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Negation {
    Off,
    /// Words after a cue are marked negated until the clause ends, or after `max_words` words
    /// if it is non-zero.
    Scope {
        cues: Vec<String>,
        max_words: u8,
        /// A token that is not a cue but starts with one of these and continues with a lexicon
        /// word (不慢, 没问题) counts as that lexicon word negated.
        #[serde(default)]
        prefixes: Vec<String>,
        /// Character n-grams touching a cue or a negated word are hashed apart from the others
        /// (不慢's 慢 is not the 慢 of 很慢).
        #[serde(default)]
        mark_chars: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Lexicon {
    Off,
    /// Whole-token matches of `positive` / `negative` words become polarity features whose block
    /// is L2-normalised and multiplied by `scale`.
    Polarity {
        positive: Vec<String>,
        negative: Vec<String>,
        scale: f32,
        /// A negated match (不慢, 没有坏果) counts for its flipped polarity and, when this is
        /// true, also on a "negated" key of its own. The corpus then teaches that key to doubt
        /// the flip (litotes are rare in it), so it is off by default. Specs written before the
        /// field existed had the keys: absent means true, and true is not written, so their
        /// fingerprints stay as they were.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        negated_keys: bool,
        /// Attribute–magnitude pairs. Specs written before the field existed have none: absent
        /// means none, and none is not written, so their fingerprints stay as they were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attributes: Option<Box<Attributes>>,
        /// A negation cue whose scope holds a lexicon match (or an attribute pair) adds none of
        /// its own features (the cue word, the word bigrams it is part of, the char n-grams made
        /// of its chars alone): the flipped match says what the negation means, while the cue's
        /// own lean in training text (没有 alone leans hard towards complaints) would outweigh it
        /// in 没让我失望 or 没有异味. Specs written before the field existed do not: absent means
        /// false, and false is not written, so their fingerprints stay as they were.
        #[serde(default, skip_serializing_if = "is_false")]
        cues_yield: bool,
    },
}

/// Attributes whose evaluation depends on a magnitude word: 价格 + 高 is negative, 续航 + 长
/// positive. A pair counts as one lexicon match of its polarity (flipped by negation, so 价格也不高
/// is positive and 性价比不高 negative) in place of the two words' own lexicon polarity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attributes {
    /// Attributes of which more is better (续航, 性价比).
    pub more_is_better: Vec<String>,
    /// Attributes of which more is worse (价格, 噪音).
    pub more_is_worse: Vec<String>,
    /// Magnitude words saying more (高, 大, 长) and less (低, 小, 短).
    pub more: Vec<String>,
    pub less: Vec<String>,
    /// Degree words that may start a magnitude token (偏高, 很小) or stand between the pair.
    pub prefixes: Vec<String>,
    /// Other tokens that may stand between the pair (也, 都, 还); negation cues may too.
    pub fillers: Vec<String>,
    /// At most this many tokens between an attribute and its magnitude.
    pub max_gap: u8,
}

impl Lexicon {
    /// The attribute pairs of a polarity lexicon, if it has any.
    pub fn attributes(&self) -> Option<&Attributes> {
        match self {
            Lexicon::Polarity {
                attributes: Some(a),
                ..
            } => Some(a),
            _ => None,
        }
    }
}

impl Attributes {
    /// Returns true if and only if a pair can form: there are attributes and magnitude words.
    pub fn can_pair(&self) -> bool {
        let has_words = !self.more_is_better.is_empty() || !self.more_is_worse.is_empty();
        let has_magnitudes = !self.more.is_empty() || !self.less.is_empty();
        has_words && has_magnitudes
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Contrast {
    Off,
    /// Features of the tokens from the last `conjunctions` token on count `weight` times.
    Weight {
        conjunctions: Vec<String>,
        weight: f32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Degree {
    Off,
    Mark { adverbs: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowNorm {
    L2,
    None,
}

/// Negation cues. Whole jieba tokens only: 不错 and 无敌 are their own words and stay positive.
pub const DEFAULT_NEGATION_CUES: &[&str] = &[
    "不",
    "没",
    "没有",
    "木有", // internet spelling of 没有
    "别",
    "无",
    "非",
    "未",
    "不是",
    "不会",
    "不能",
    "不要",
    "不用",
    "不够",
    "不太",
    "不怎么",
    "没什么",
    "毫无",
    "并非",
    "从未",
    "从不",
    "绝不",
    "决不",
    "并不",
    "并没有",
    "甭",
    "勿",
    "莫",
    "不再",
    "未必",
    "无法",
    "不曾",
    "尚未",
    "没让",
    "没有让",
    "一点也不",
    "一点都不",
    "毫不",
    "绝对不",
    "根本不",
    "根本没",
    "根本没有",
    "完全不",
    "从没",
    "从来不",
    "从来没有",
    "没怎么",
    "不算",
    "算不上",
    "谈不上",
    "称不上",
];

/// Negation prefixes inside a token (不慢 = 不 + 慢), see [`Negation::Scope`].
pub const DEFAULT_NEGATION_PREFIXES: &[&str] =
    &["不", "没", "没有", "无", "未", "别", "不太", "不够"];

/// Contrastive conjunctions: the verdict usually follows the last one. They only weight the words
/// after it ([`Contrast::Weight`]); they do not cut clauses ([`crate::text::clause`]).
pub const DEFAULT_CONTRAST: &[&str] = &[
    "但是", "但", "不过", "可是", "然而", "只是", "却", "可惜", "就是",
];

/// Default lexicon scale (the polarity block's norm next to the n-grams' norm of 1).
pub const DEFAULT_LEXICON_SCALE: f32 = 1.0;
/// Default weight of the tokens after the last contrastive conjunction: 1, i.e. off — weighting
/// them 2× lowered the topic hold-outs (README, "Sentiment model"), so it is only an option.
pub const DEFAULT_CONTRAST_WEIGHT: f32 = 1.0;

/// Degree adverbs.
pub const DEFAULT_DEGREE_ADVERBS: &[&str] = &[
    "很",
    "太",
    "非常",
    "有点",
    "有些",
    "特别",
    "十分",
    "极",
    "极其",
    "超",
    "超级",
    "相当",
    "比较",
    "挺",
    "真",
    "真的",
    "最",
    "更",
    "蛮",
    "稍微",
    "略",
    "格外",
    "尤其",
    "实在",
    "过于",
    "太过",
    "极度",
    "超级无敌",
    "好",
    "巨",
    "贼",
    "忒",
    "较",
    "颇",
    "一点",
    "一点也",
    "一点都",
];

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            version: FEATURE_SPEC_VERSION,
            hash_seed: 0x6d61_6e79_6931_0001, // "manyi1" + 1
            buckets_log2: 18,
            text: TextNorm::FoldWidthLowercaseSimplified,
            words: WordGrams::UnigramsAndBigrams,
            // Char unigrams (的, 了, 不 …) fire on nearly every text; 2-3 measured the same as 1-3
            // on the topic hold-outs with fewer features.
            char_ngrams: Some(CharNgrams { min: 2, max: 3 }),
            negation: Negation::Scope {
                cues: DEFAULT_NEGATION_CUES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                max_words: 0,
                prefixes: strings(DEFAULT_NEGATION_PREFIXES),
                mark_chars: true,
            },
            degree: Degree::Mark {
                adverbs: DEFAULT_DEGREE_ADVERBS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            },
            lexicon: default_lexicon(DEFAULT_LEXICON_SCALE),
            contrast: Contrast::Off,
            row_norm: RowNorm::L2,
        }
    }
}

pub(super) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Reasons a spec cannot be used by this code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FeatureError {
    #[error("feature spec version {found}, this build of manyi extracts version {expected}")]
    Version { found: u32, expected: u32 },
    #[error("buckets_log2 {0} is outside 8..=24")]
    Buckets(u8),
    #[error("char n-gram range {min}..={max} is invalid (need 1 <= min <= max <= 5)")]
    CharRange { min: u8, max: u8 },
    #[error("{what} {value} is invalid (need a finite number in 0..=100)")]
    Scale { what: &'static str, value: String },
}

/// Longest char n-gram a spec may ask for.
pub(super) const MAX_CHAR_NGRAM: u8 = 5;

impl FeatureSpec {
    /// Stable fingerprint of the spec (xxhash64 of its JSON form), stored next to it in artifacts.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("a FeatureSpec always serialises");
        format!("{:016x}", XxHash64::oneshot(0, &json))
    }

    /// Checks that this build can extract the spec's features: its version, bucket count, char
    /// n-gram range, lexicon scale and contrast weight, in that order.
    pub fn check(&self) -> Result<(), FeatureError> {
        if self.version != FEATURE_SPEC_VERSION {
            return Err(FeatureError::Version {
                found: self.version,
                expected: FEATURE_SPEC_VERSION,
            });
        }
        if !(8..=24).contains(&self.buckets_log2) {
            return Err(FeatureError::Buckets(self.buckets_log2));
        }
        if let Some(CharNgrams { min, max }) = self.char_ngrams {
            if min == 0 || min > max || max > MAX_CHAR_NGRAM {
                return Err(FeatureError::CharRange { min, max });
            }
        }
        if let Lexicon::Polarity { scale, .. } = &self.lexicon {
            check_scale("lexicon scale", *scale)?;
        }
        if let Contrast::Weight { weight, .. } = &self.contrast {
            check_scale("contrast weight", *weight)?;
        }
        Ok(())
    }
}

fn check_scale(what: &'static str, value: f32) -> Result<(), FeatureError> {
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(FeatureError::Scale {
            what,
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_without_the_newer_lexicon_fields_keep_their_behaviour_and_fingerprint() {
        // A lexicon spec as written before the field existed.
        let old = r#"{"mode":"polarity","positive":["好"],"negative":["差"],"scale":1.0}"#;
        let lexicon: Lexicon = serde_json::from_str(old).unwrap();
        assert!(matches!(
            lexicon,
            Lexicon::Polarity {
                negated_keys: true,
                attributes: None,
                cues_yield: false,
                ..
            }
        ));
        assert_eq!(serde_json::to_string(&lexicon).unwrap(), old);
        let Lexicon::Polarity {
            negated_keys,
            cues_yield,
            ..
        } = default_lexicon(1.0)
        else {
            panic!("the default lexicon is on");
        };
        assert!(!negated_keys && cues_yield);
    }
}
