//! The spec's word lists in one table, so a token costs one lookup, and what is read from it: a
//! token's lexicon polarity (also through a negation prefix inside it: 不慢, 没问题), magnitude
//! (高, 偏高, 不太高) and attribute (续航, and 电池容量 through 容量), and the attribute pairs of a
//! clause (价格偏高, 噪音也不大, 高油耗).

use std::collections::HashMap;

use super::spec::{Attributes, Contrast, Degree, FeatureSpec, Lexicon, Negation};

/// The table is fixed when the featurizer is built and only ever looked up, so the flooding
/// resistance of the default keyed SipHash buys nothing here, while SipHash cost about a tenth
/// of extraction: FxHash instead.
type WordTable = HashMap<Box<str>, WordInfo, rustc_hash::FxBuildHasher>;

/// What the spec's word lists say about one word.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WordInfo {
    pub(super) cue: bool,
    pub(super) adverb: bool,
    pub(super) conjunction: bool,
    /// Lexicon polarity: +1, −1, or 0 for a word not in the lexicon.
    pub(super) polarity: i8,
    /// Attribute direction: +1 more is better, −1 more is worse, 0 not an attribute.
    pub(super) attribute: i8,
    /// Magnitude word: +1 more, −1 less, 0 neither.
    pub(super) magnitude: i8,
    /// May start a magnitude token (偏高) or stand between an attribute and its magnitude.
    pub(super) magnitude_prefix: bool,
    /// May stand between an attribute and its magnitude.
    pub(super) filler: bool,
}

/// What the attribute pairs of a clause make of one of its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PairRole {
    /// Not in a pair: its own lexicon polarity, if any.
    Free,
    /// The other word of a pair: no polarity of its own.
    Silent,
    /// Carries the pair's polarity, and whether a negation prefix inside the token (不高) made it.
    Carries(i8, bool),
}

/// The spec's word lists, looked up per token.
#[derive(Debug, Clone, Default)]
pub(super) struct Vocabulary {
    /// Every word of the cue, adverb, lexicon, conjunction and attribute lists, with what it is.
    table: WordTable,
    /// Negation prefixes inside a token, longest first, so 没有问题 splits as 没有 + 问题.
    prefixes: Vec<String>,
    /// At most this many tokens between an attribute and its magnitude.
    attribute_gap: usize,
    /// The last chars of the attributes of two or more chars, sorted.
    attribute_ends: Vec<char>,
}

impl Vocabulary {
    /// The word lists of `spec` (already checked).
    pub(super) fn new(spec: &FeatureSpec) -> Vocabulary {
        let mut v = Vocabulary::default();
        v.add_negation(&spec.negation);
        if let Degree::Mark { adverbs } = &spec.degree {
            for w in adverbs {
                v.entry(w).adverb = true;
            }
        }
        v.add_lexicon(&spec.lexicon);
        if let Contrast::Weight { conjunctions, .. } = &spec.contrast {
            for w in conjunctions {
                v.entry(w).conjunction = true;
            }
        }
        if let Some(a) = spec.lexicon.attributes() {
            v.add_attributes(a);
        }
        v
    }

    fn entry(&mut self, w: &str) -> &mut WordInfo {
        self.table.entry(w.into()).or_default()
    }

    fn add_negation(&mut self, negation: &Negation) {
        if let Negation::Scope { cues, prefixes, .. } = negation {
            for w in cues {
                self.entry(w).cue = true;
            }
            self.prefixes = prefixes.clone();
            self.prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
    }

    fn add_lexicon(&mut self, lexicon: &Lexicon) {
        if let Lexicon::Polarity {
            positive, negative, ..
        } = lexicon
        {
            // A word in both lists is positive.
            for w in negative {
                self.entry(w).polarity = -1;
            }
            for w in positive {
                self.entry(w).polarity = 1;
            }
        }
    }

    fn add_attributes(&mut self, a: &Attributes) {
        for (list, dir) in [(&a.more_is_better, 1), (&a.more_is_worse, -1)] {
            for w in list {
                self.entry(w).attribute = dir;
            }
        }
        for (list, dir) in [(&a.more, 1), (&a.less, -1)] {
            for w in list {
                self.entry(w).magnitude = dir;
            }
        }
        for w in &a.prefixes {
            self.entry(w).magnitude_prefix = true;
        }
        for w in &a.fillers {
            self.entry(w).filler = true;
        }
        self.attribute_gap = a.max_gap as usize;
        self.attribute_ends = a
            .more_is_better
            .iter()
            .chain(&a.more_is_worse)
            .filter(|w| w.chars().nth(1).is_some())
            .filter_map(|w| w.chars().next_back())
            .collect();
        self.attribute_ends.sort_unstable();
        self.attribute_ends.dedup();
    }

    /// What the word lists say about `w`.
    pub(super) fn info(&self, w: &str) -> WordInfo {
        self.table.get(w).copied().unwrap_or_default()
    }

    /// Polarity of a lexicon word, or of a token made of a negation prefix and a lexicon word
    /// (then negated, and the second value is true). `info` is the word's own entry.
    pub(super) fn polarity(&self, w: &str, info: WordInfo) -> Option<(i8, bool)> {
        if info.polarity != 0 {
            return Some((info.polarity, false));
        }
        self.prefixes.iter().find_map(|pre| {
            let rest = w.strip_prefix(pre.as_str())?;
            match self.info(rest).polarity {
                0 => None,
                p => Some((-p, true)),
            }
        })
    }

    /// Direction of a magnitude token (高, 偏高, 不高, 不太高), and whether a negation prefix
    /// inside it flips it.
    fn magnitude_of(&self, w: &str) -> Option<(i8, bool)> {
        let plain = |w: &str| {
            let m = self.info(w).magnitude;
            if m != 0 {
                return Some(m);
            }
            // One degree prefix: 偏高, 很小, 太低.
            w.char_indices().skip(1).find_map(|(i, _)| {
                let m = self.info(&w[i..]).magnitude;
                (m != 0 && self.info(&w[..i]).magnitude_prefix).then_some(m)
            })
        };
        if let Some(m) = plain(w) {
            return Some((m, false));
        }
        self.prefixes.iter().find_map(|pre| {
            let rest = w.strip_prefix(pre.as_str())?;
            plain(rest).map(|m| (m, true))
        })
    }

    /// Direction of an attribute token (`info` is its entry), or of the attribute of two or more
    /// characters it ends with (电池容量 → 容量); 0 for neither.
    fn attribute_of(&self, w: &str, info: WordInfo) -> i8 {
        if info.attribute != 0 {
            return info.attribute;
        }
        // Most tokens end with a char no attribute ends with: one search instead of a lookup per
        // suffix.
        let Some(last) = w.chars().next_back() else {
            return 0;
        };
        if self.attribute_ends.binary_search(&last).is_err() {
            return 0;
        }
        w.char_indices()
            .skip(1)
            .map(|(i, _)| &w[i..])
            .take_while(|rest| rest.chars().nth(1).is_some())
            .map(|rest| self.info(rest).attribute)
            .find(|&a| a != 0)
            .unwrap_or(0)
    }

    /// The attribute pairs of a clause into `roles` (one per word): an attribute followed by its
    /// magnitude within the allowed gap (价格偏高, 噪音也不大), where the magnitude carries the
    /// pair; else a magnitude right before it (高油耗), where the attribute carries it.
    pub(super) fn attribute_pairs(
        &self,
        words: &[&str],
        infos: &[WordInfo],
        roles: &mut Vec<PairRole>,
    ) {
        roles.clear();
        roles.resize(words.len(), PairRole::Free);
        let carry = |a: i8, (m, inner): (i8, bool)| {
            // A prefix inside the token (不高) flips the pair here; a cue token before it flips
            // it with the rest of the scope, like any lexicon match.
            PairRole::Carries(if inner { -a * m } else { a * m }, inner)
        };
        for k in 0..words.len() {
            let a = self.attribute_of(words[k], infos[k]);
            if a == 0 || roles[k] != PairRole::Free {
                continue;
            }
            for j in k + 1..words.len().min(k + 2 + self.attribute_gap) {
                if let Some(m) = self.magnitude_of(words[j]) {
                    roles[k] = PairRole::Silent;
                    roles[j] = carry(a, m);
                    break;
                }
                let i = infos[j];
                if !(i.filler || i.magnitude_prefix || i.cue) {
                    break;
                }
            }
            if roles[k] == PairRole::Free && k > 0 && roles[k - 1] == PairRole::Free {
                if let Some(m) = self.magnitude_of(words[k - 1]) {
                    roles[k - 1] = PairRole::Silent;
                    roles[k] = carry(a, m);
                }
            }
        }
    }
}
