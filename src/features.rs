//! Words → sparse, hashed, L2-normalised feature vector. Pure: no I/O, no global state.
//!
//! The [`FeatureSpec`] says everything that decides which bucket a text lands in (hash seed,
//! bucket count, n-gram ranges, negation cues, degree adverbs); it is stored in every model
//! artifact, and [`FEATURE_SPEC_VERSION`] is bumped whenever the code below would map the same spec
//! and text to different features, so an old model is refused instead of scoring silently wrong.
//!
//! Feature kinds, each hashed in its own namespace:
//! - word unigrams, and word bigrams within a clause;
//! - character n-grams within a clause (robust to segmentation errors and unseen compounds);
//! - negation scope: words after a negation cue (不, 没有, 无 …) until the end of the clause are
//!   hashed as "negated word" instead of "word", so 不高兴 does not count as 高兴; a second cue
//!   flips the scope back;
//! - degree: the word after a degree adverb (很, 太, 非常 …) also counts as "intensified word".

use std::collections::HashSet;
use std::hash::Hasher;

use serde::{Deserialize, Serialize};
use twox_hash::XxHash64;

/// Version of the feature-extraction code. Bump on any change of hashing, namespaces, clause
/// splitting or text normalisation.
pub const FEATURE_SPEC_VERSION: u32 = 1;

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
    /// Row normalisation.
    pub row_norm: RowNorm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextNorm {
    /// Full-width ASCII folded to half-width, ASCII lower-cased.
    FoldWidthLowercase,
    Raw,
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
];

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
            text: TextNorm::FoldWidthLowercase,
            words: WordGrams::UnigramsAndBigrams,
            char_ngrams: Some(CharNgrams { min: 1, max: 3 }),
            negation: Negation::Scope {
                cues: DEFAULT_NEGATION_CUES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                max_words: 0,
            },
            degree: Degree::Mark {
                adverbs: DEFAULT_DEGREE_ADVERBS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            },
            row_norm: RowNorm::L2,
        }
    }
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
}

impl FeatureSpec {
    /// Stable fingerprint of the spec (xxhash64 of its JSON form), stored next to it in artifacts.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("a FeatureSpec always serialises");
        format!("{:016x}", XxHash64::oneshot(0, &json))
    }
}

/// Namespaces keep feature kinds apart in the hash space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Namespace {
    Word = b'w',
    NegatedWord = b'n',
    Bigram = b'b',
    NegatedBigram = b'm',
    Char = b'c',
    Intensified = b'd',
}

/// A validated spec, with its word lists in sets; build once per model.
#[derive(Debug, Clone)]
pub struct Featurizer {
    spec: FeatureSpec,
    mask: u32,
    cues: HashSet<String>,
    adverbs: HashSet<String>,
}

/// A sparse feature vector: sorted, unique bucket indices with their values. Reused across calls.
#[derive(Debug, Clone, Default)]
pub struct SparseVec {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    raw: Vec<u32>,
    chars: Vec<char>,
}

impl SparseVec {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Returns true if and only if the vector has no non-zero entry.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

/// Returns true if and only if `c` ends a clause (punctuation, whitespace, symbols).
pub fn is_boundary_char(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || ('\u{3000}'..='\u{303F}').contains(&c)
        || ('\u{2010}'..='\u{206F}').contains(&c)
        || ('\u{FF01}'..='\u{FF0F}').contains(&c)
        || ('\u{FF1A}'..='\u{FF20}').contains(&c)
        || ('\u{FF3B}'..='\u{FF40}').contains(&c)
        || ('\u{FF5B}'..='\u{FF65}').contains(&c)
}

/// Returns true if and only if the token is made only of boundary characters.
fn is_boundary_token(tok: &str) -> bool {
    tok.chars().all(is_boundary_char)
}

/// Writes the normalised form of `text` into `out` (cleared first), per `norm`.
pub fn normalise_text(norm: TextNorm, text: &str, out: &mut String) {
    out.clear();
    match norm {
        TextNorm::Raw => out.push_str(text),
        TextNorm::FoldWidthLowercase => {
            for c in text.chars() {
                let c = match c {
                    '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                    '\u{3000}' => ' ',
                    _ => c,
                };
                out.push(c.to_ascii_lowercase());
            }
        }
    }
}

impl Featurizer {
    pub fn new(spec: FeatureSpec) -> Result<Featurizer, FeatureError> {
        if spec.version != FEATURE_SPEC_VERSION {
            return Err(FeatureError::Version {
                found: spec.version,
                expected: FEATURE_SPEC_VERSION,
            });
        }
        if !(8..=24).contains(&spec.buckets_log2) {
            return Err(FeatureError::Buckets(spec.buckets_log2));
        }
        if let Some(CharNgrams { min, max }) = spec.char_ngrams {
            if min == 0 || min > max || max > 5 {
                return Err(FeatureError::CharRange { min, max });
            }
        }
        let cues = match &spec.negation {
            Negation::Off => HashSet::new(),
            Negation::Scope { cues, .. } => cues.iter().cloned().collect(),
        };
        let adverbs = match &spec.degree {
            Degree::Off => HashSet::new(),
            Degree::Mark { adverbs } => adverbs.iter().cloned().collect(),
        };
        Ok(Featurizer {
            mask: (1u32 << spec.buckets_log2) - 1,
            spec,
            cues,
            adverbs,
        })
    }

    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// Number of hash buckets (the model's weight vector length).
    pub fn buckets(&self) -> usize {
        self.mask as usize + 1
    }

    /// Bucket of `parts` (joined by a 0x1F separator) in namespace `ns`.
    pub fn bucket(&self, ns: Namespace, parts: &[&str]) -> u32 {
        let mut h = XxHash64::with_seed(self.spec.hash_seed);
        h.write(&[ns as u8]);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                h.write(&[0x1F]);
            }
            h.write(p.as_bytes());
        }
        (h.finish() as u32) & self.mask
    }

    fn bucket_chars(&self, chars: &[char]) -> u32 {
        let mut h = XxHash64::with_seed(self.spec.hash_seed);
        h.write(&[Namespace::Char as u8]);
        let mut buf = [0u8; 4];
        for c in chars {
            h.write(c.encode_utf8(&mut buf).as_bytes());
        }
        (h.finish() as u32) & self.mask
    }

    /// Features of already segmented (and normalised) words into `out` (cleared first).
    pub fn extract(&self, words: &[&str], out: &mut SparseVec) {
        out.indices.clear();
        out.values.clear();
        out.raw.clear();
        let max_scope = match &self.spec.negation {
            Negation::Off => 0,
            Negation::Scope { max_words, .. } => *max_words as usize,
        };
        let mut start = 0;
        while start < words.len() {
            // One clause: words up to the next boundary token.
            let end = words[start..]
                .iter()
                .position(|w| is_boundary_token(w))
                .map_or(words.len(), |p| start + p);
            self.clause(&words[start..end], max_scope, out);
            start = end + 1;
        }
        out.raw.sort_unstable();
        let mut i = 0;
        while i < out.raw.len() {
            let idx = out.raw[i];
            let mut j = i;
            while j < out.raw.len() && out.raw[j] == idx {
                j += 1;
            }
            out.indices.push(idx);
            out.values.push((j - i) as f32);
            i = j;
        }
        if self.spec.row_norm == RowNorm::L2 {
            let norm = out.values.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                out.values.iter_mut().for_each(|v| *v /= norm);
            }
        }
    }

    fn clause(&self, words: &[&str], max_scope: usize, out: &mut SparseVec) {
        if words.is_empty() {
            return;
        }
        let bigrams = self.spec.words == WordGrams::UnigramsAndBigrams;
        let mut negated = false;
        let mut scope_left = 0usize;
        let mut intensify = false;
        let mut prev: Option<&str> = None;
        for &w in words {
            let is_cue = self.cues.contains(w);
            let (word_ns, bigram_ns) = if negated {
                (Namespace::NegatedWord, Namespace::NegatedBigram)
            } else {
                (Namespace::Word, Namespace::Bigram)
            };
            out.raw.push(self.bucket(word_ns, &[w]));
            if bigrams {
                if let Some(p) = prev {
                    out.raw.push(self.bucket(bigram_ns, &[p, w]));
                }
            }
            if intensify && !is_cue {
                // 不太好 and 很好 must stay apart, so intensified words inside a negation scope
                // carry a marker.
                let b = if negated {
                    self.bucket(Namespace::Intensified, &["\u{1}neg", w])
                } else {
                    self.bucket(Namespace::Intensified, &[w])
                };
                out.raw.push(b);
            }
            intensify = self.adverbs.contains(w);
            if is_cue {
                negated = !negated;
                scope_left = max_scope;
            } else if negated && max_scope > 0 {
                scope_left = scope_left.saturating_sub(1);
                if scope_left == 0 {
                    negated = false;
                }
            }
            prev = Some(w);
        }
        if let Some(CharNgrams { min, max }) = self.spec.char_ngrams {
            let mut chars = std::mem::take(&mut out.chars);
            chars.clear();
            chars.extend(words.iter().flat_map(|w| w.chars()));
            for n in min as usize..=max as usize {
                for gram in chars.windows(n) {
                    out.raw.push(self.bucket_chars(gram));
                }
            }
            out.chars = chars;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn featurizer() -> Featurizer {
        Featurizer::new(FeatureSpec::default()).unwrap()
    }

    fn has(f: &Featurizer, v: &SparseVec, ns: Namespace, parts: &[&str]) -> bool {
        v.indices.binary_search(&f.bucket(ns, parts)).is_ok()
    }

    #[test]
    fn hashing_is_stable_across_runs_and_platforms() {
        let f = featurizer();
        // Fixed values: if these change, every trained model changes meaning — bump
        // FEATURE_SPEC_VERSION and retrain instead of editing the numbers.
        assert_eq!(f.bucket(Namespace::Word, &["好"]), 24_108);
        assert_eq!(f.bucket(Namespace::NegatedWord, &["高兴"]), 94_528);
        assert_eq!(f.bucket(Namespace::Bigram, &["质量", "很好"]), 256_120);
        assert_eq!(f.bucket_chars(&['不', '错']), 163_983);
        assert_eq!(FeatureSpec::default().fingerprint(), "8577ef7037463a1b");
    }

    #[test]
    fn negation_scope_marks_words_until_punctuation() {
        let f = featurizer();
        let mut v = SparseVec::default();
        f.extract(&["我", "不", "高兴", "，", "快递", "快"], &mut v);
        assert!(has(&f, &v, Namespace::NegatedWord, &["高兴"]));
        assert!(!has(&f, &v, Namespace::Word, &["高兴"]));
        // Scope ends at the comma.
        assert!(has(&f, &v, Namespace::Word, &["快递"]));
        assert!(!has(&f, &v, Namespace::NegatedWord, &["快递"]));
        assert!(has(&f, &v, Namespace::Word, &["我"]));
    }

    #[test]
    fn double_negation_flips_back() {
        let f = featurizer();
        let mut v = SparseVec::default();
        f.extract(&["不是", "不", "好"], &mut v);
        assert!(has(&f, &v, Namespace::Word, &["好"]));
        assert!(has(&f, &v, Namespace::NegatedWord, &["不"]));
    }

    #[test]
    fn negation_can_be_limited_or_off() {
        let mut spec = FeatureSpec {
            negation: Negation::Scope {
                cues: vec!["不".into()],
                max_words: 1,
            },
            ..FeatureSpec::default()
        };
        let f = Featurizer::new(spec.clone()).unwrap();
        let mut v = SparseVec::default();
        f.extract(&["不", "好", "用"], &mut v);
        assert!(has(&f, &v, Namespace::NegatedWord, &["好"]));
        assert!(has(&f, &v, Namespace::Word, &["用"]));
        spec.negation = Negation::Off;
        let f = Featurizer::new(spec).unwrap();
        f.extract(&["不", "好"], &mut v);
        assert!(has(&f, &v, Namespace::Word, &["好"]));
    }

    #[test]
    fn degree_adverb_marks_next_word() {
        let f = featurizer();
        let mut v = SparseVec::default();
        f.extract(&["质量", "很", "好"], &mut v);
        assert!(has(&f, &v, Namespace::Intensified, &["好"]));
        assert!(!has(&f, &v, Namespace::Intensified, &["质量"]));
    }

    #[test]
    fn word_bigrams_and_char_ngrams_stay_within_a_clause() {
        let f = featurizer();
        let mut v = SparseVec::default();
        f.extract(&["质量", "好", "。", "价格", "低"], &mut v);
        assert!(has(&f, &v, Namespace::Bigram, &["质量", "好"]));
        assert!(!has(&f, &v, Namespace::Bigram, &["好", "价格"]));
        for gram in [&['质'][..], &['质', '量', '好'], &['价', '格'], &['低']] {
            assert!(v.indices.binary_search(&f.bucket_chars(gram)).is_ok());
        }
        assert!(v
            .indices
            .binary_search(&f.bucket_chars(&['好', '价']))
            .is_err());
        // 2 clauses: words 3+2, bigrams 1+1, chars (3+2+1)+(3+2+1).
        assert!(v.len() <= 5 + 2 + 12);
    }

    #[test]
    fn rows_are_l2_normalised_sorted_unique() {
        let f = featurizer();
        let mut v = SparseVec::default();
        f.extract(&["好", "好", "好", "！"], &mut v);
        let norm: f32 = v.values.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(v.indices.windows(2).all(|w| w[0] < w[1]));
        f.extract(&[], &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn text_normalisation_folds_width_and_case() {
        let mut s = String::new();
        normalise_text(TextNorm::FoldWidthLowercase, "ＯＫ！Good　好", &mut s);
        assert_eq!(s, "ok!good 好");
    }

    #[test]
    fn invalid_specs_are_refused() {
        let spec = FeatureSpec {
            version: 99,
            ..FeatureSpec::default()
        };
        assert!(matches!(
            Featurizer::new(spec),
            Err(FeatureError::Version { found: 99, .. })
        ));
        let spec = FeatureSpec {
            char_ngrams: Some(CharNgrams { min: 3, max: 2 }),
            ..FeatureSpec::default()
        };
        assert!(Featurizer::new(spec).is_err());
    }
}
