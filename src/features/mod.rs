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
//! - degree: the word after a degree adverb (很, 太, 非常 …) also counts as "intensified word";
//! - lexicon: words of a sentiment lexicon (models/sentiment-lexicon.txt, compiled in) count as a
//!   few polarity features — positive, negative, intensified, and for older specs negated
//!   positive / negated negative — after negation (a cue before, or a prefix inside the token:
//!   不慢, 没问题), in their own block L2-normalised and scaled apart from the n-grams, so words
//!   seen rarely in training still count;
//! - attribute pairs: an attribute and a magnitude word (价格偏高, 续航长, 噪音也不大, 高油耗) count
//!   as one lexicon match whose polarity depends on both (models/attribute-lexicon.txt);
//! - cues yield: a negation cue whose scope holds a lexicon match or a pair adds no features of
//!   its own, so 没有问题 is judged by the flipped 问题 rather than by the lean of 没有;
//! - contrast: everything after the last contrastive conjunction (但是, 不过, 可是 …) is weighted
//!   up, since the verdict usually follows it.

mod lexicon;
mod spec;
mod words;

use std::hash::Hasher;
use std::ops::{Range, RangeInclusive};

use twox_hash::XxHash64;

pub use self::lexicon::{
    default_lexicon, parse_attributes, parse_lexicon, DEFAULT_ATTRIBUTES, DEFAULT_ATTRIBUTE_GAP,
    DEFAULT_LEXICON,
};
pub use self::spec::{
    Attributes, CharNgrams, Contrast, Degree, FeatureError, FeatureSpec, Lexicon, Negation,
    RowNorm, WordGrams, DEFAULT_CONTRAST, DEFAULT_CONTRAST_WEIGHT, DEFAULT_DEGREE_ADVERBS,
    DEFAULT_LEXICON_SCALE, DEFAULT_NEGATION_CUES, DEFAULT_NEGATION_PREFIXES,
};
use self::words::{PairRole, Vocabulary, WordInfo};
pub use crate::text::clause::is_boundary_char;
use crate::text::clause::{clause_spans, Between, ClauseRule};
pub use crate::text::normalise::{normalise_text, TextNorm};
use crate::text::simplify;

/// Version of the feature-extraction code. Bump on any change of hashing, namespaces, clause
/// splitting or text normalisation.
pub const FEATURE_SPEC_VERSION: u32 = 2;

/// Bytes of the longest char n-gram: four per char at most.
const MAX_GRAM_BYTES: usize = 4 * spec::MAX_CHAR_NGRAM as usize;

/// Namespaces keep feature kinds apart in the hash space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Namespace {
    Word = b'w',
    NegatedWord = b'n',
    Bigram = b'b',
    NegatedBigram = b'm',
    Char = b'c',
    NegatedChar = b'k',
    Intensified = b'd',
    Lexicon = b'l',
}

/// Clauses end at any punctuation, whitespace or symbol token. The spec's contrastive conjunctions
/// do not start one: they only weight the words after the last one (see [`Contrast`]).
const CLAUSES: ClauseRule = ClauseRule {
    boundary: is_boundary_char,
    starters: &[],
};

/// Keys of the lexicon block: effective polarity, then how it came about.
const LEX_KEYS: [&str; 6] = ["+", "-", "neg+", "neg-", "int+", "int-"];

/// A checked spec, with its word lists in one table; build once per model.
#[derive(Debug, Clone)]
pub struct Featurizer {
    spec: FeatureSpec,
    mask: u32,
    /// The spec's word lists.
    words: Vocabulary,
    /// Some word has a lexicon polarity.
    has_lexicon: bool,
    lex_scale: f32,
    /// See [`Lexicon::Polarity`]'s `negated_keys`.
    lex_negated_keys: bool,
    lex_buckets: [u32; LEX_KEYS.len()],
    /// See [`Lexicon::Polarity`]'s `cues_yield`; false without a lexicon or negation.
    cues_yield: bool,
    /// Words a negation scope lasts; 0 for the rest of the clause.
    max_scope: usize,
    /// See [`Negation::Scope`]'s `mark_chars`.
    mark_chars: bool,
    /// Some word is a contrastive conjunction.
    has_contrast: bool,
    contrast_weight: f32,
    /// The spec has attribute pairs that can form.
    has_attributes: bool,
}

/// A sparse feature vector: sorted, unique bucket indices with their values. Reused across calls.
#[derive(Debug, Clone, Default)]
pub struct SparseVec {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    raw: Vec<(u32, f32)>,
    /// The indices of `raw`, sorted.
    sorted: Vec<u32>,
    /// Hash key being assembled: namespace byte, then the parts.
    key: Vec<u8>,
    /// The clause's words back to back, then [`MAX_GRAM_BYTES`] zeros, and the byte offset of
    /// each of its chars (plus the end of the words).
    clause_bytes: Vec<u8>,
    char_starts: Vec<usize>,
    /// Per word of the clause: its chars are inside a negation scope (or a cue).
    word_neg: Vec<bool>,
    /// Per char of the clause: inside a negation scope (or a cue).
    char_neg: Vec<bool>,
    /// Per word of the clause: its entry in the word table, and its part in an attribute pair.
    word_infos: Vec<WordInfo>,
    pair_roles: Vec<PairRole>,
    /// Per word of the clause: its lexicon polarity (or its pair's), and whether a negation
    /// prefix inside it made it; and whether it is a cue that yields to a match in its scope.
    word_polarities: Vec<Option<(i8, bool)>>,
    word_yields: Vec<bool>,
    /// Per char of the clause: part of a yielding cue.
    char_yields: Vec<bool>,
    lex: [f32; LEX_KEYS.len()],
    /// Each non-empty clause of the last [`Featurizer::extract`]: its words and its part of `raw`
    /// and of `lex`, so [`Featurizer::extract_span`] can reuse them.
    clauses: Vec<ClauseFeatures>,
}

/// Where one clause's features are in a [`SparseVec`]'s raw list.
#[derive(Debug, Clone)]
struct ClauseFeatures {
    words: Range<usize>,
    raw: Range<usize>,
    lex: [f32; LEX_KEYS.len()],
}

impl SparseVec {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Returns true if and only if the vector has no non-zero entry.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Lexicon matches of the last [`Featurizer::extract`] by effective polarity (after
    /// negation), weighted as the features are: (positive, negative). Both 0 without a lexicon.
    pub fn lexicon_matches(&self) -> (f32, f32) {
        (self.lex[0], self.lex[1])
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

impl Featurizer {
    /// Checks `spec` and builds its word table.
    pub fn new(spec: FeatureSpec) -> Result<Featurizer, FeatureError> {
        spec.check()?;
        if spec.text == TextNorm::FoldWidthLowercaseSimplified {
            simplify::init();
        }
        let (has_lexicon, lex_scale, lex_negated_keys, cues_yield) = match &spec.lexicon {
            Lexicon::Off => (false, 0.0, false, false),
            Lexicon::Polarity {
                positive,
                negative,
                scale,
                negated_keys,
                cues_yield,
                ..
            } => (
                !positive.is_empty() || !negative.is_empty(),
                *scale,
                *negated_keys,
                *cues_yield,
            ),
        };
        let (max_scope, mark_chars) = match &spec.negation {
            Negation::Off => (0, false),
            Negation::Scope {
                max_words,
                mark_chars,
                ..
            } => (*max_words as usize, *mark_chars),
        };
        let (has_contrast, contrast_weight) = match &spec.contrast {
            Contrast::Off => (false, 1.0),
            Contrast::Weight {
                conjunctions,
                weight,
            } => (!conjunctions.is_empty(), *weight),
        };
        let mut f = Featurizer {
            mask: (1u32 << spec.buckets_log2) - 1,
            words: Vocabulary::new(&spec),
            has_lexicon,
            lex_scale,
            lex_negated_keys,
            lex_buckets: [0; LEX_KEYS.len()],
            cues_yield: cues_yield && has_lexicon && !matches!(spec.negation, Negation::Off),
            max_scope,
            mark_chars,
            has_contrast,
            contrast_weight,
            has_attributes: spec.lexicon.attributes().is_some_and(Attributes::can_pair),
            spec,
        };
        for (k, key) in LEX_KEYS.iter().enumerate() {
            f.lex_buckets[k] = f.bucket(Namespace::Lexicon, &[key]);
        }
        Ok(f)
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

    /// Bucket of a char n-gram, char by char; the reference for the sliced keys of `clause`.
    #[cfg(test)]
    fn bucket_chars(&self, chars: &[char]) -> u32 {
        let mut h = XxHash64::with_seed(self.spec.hash_seed);
        h.write(&[Namespace::Char as u8]);
        let mut buf = [0u8; 4];
        for c in chars {
            h.write(c.encode_utf8(&mut buf).as_bytes());
        }
        (h.finish() as u32) & self.mask
    }

    /// Bucket of a key assembled by [`assemble_key`]: the bytes [`Featurizer::bucket`] streams
    /// into the hasher, hashed in one call, so the same bucket.
    fn bucket_of_key(&self, key: &[u8]) -> u32 {
        (XxHash64::oneshot(self.spec.hash_seed, key) as u32) & self.mask
    }

    /// Features of already segmented (and normalised) words into `out` (cleared first).
    pub fn extract(&self, words: &[&str], out: &mut SparseVec) {
        out.raw.clear();
        out.clauses.clear();
        out.lex = [0.0; LEX_KEYS.len()];
        // Tokens from the last contrastive conjunction on weigh more.
        let pivot = if self.has_contrast {
            words
                .iter()
                .rposition(|w| self.words.info(w).conjunction)
                .unwrap_or(words.len())
        } else {
            words.len()
        };
        for clause in clause_spans(CLAUSES, Between::Nothing, words) {
            let (raw_start, lex_before) = (out.raw.len(), out.lex);
            // A clause holding the conjunction is featurised in two parts only for weights;
            // n-grams run over the whole clause with the weight of where they start.
            let split = pivot.clamp(clause.start, clause.end);
            self.clause(&words[clause.clone()], split - clause.start, out);
            let mut lex = out.lex;
            lex.iter_mut().zip(lex_before).for_each(|(l, b)| *l -= b);
            out.clauses.push(ClauseFeatures {
                words: clause,
                raw: raw_start..out.raw.len(),
                lex,
            });
        }
        let lex = out.lex;
        self.finish(&lex, out);
    }

    /// Features of `words[span]` into `out`, as [`Featurizer::extract`] would give them, where
    /// `whole` holds the features of all of `words`. A span made of whole clauses (boundary
    /// tokens at its ends aside) reuses their hashed features instead of extracting them again.
    pub fn extract_span(
        &self,
        words: &[&str],
        whole: &SparseVec,
        span: Range<usize>,
        out: &mut SparseVec,
    ) {
        let mut span = span;
        while span.start < span.end && CLAUSES.is_boundary(words[span.start]) {
            span.start += 1;
        }
        while span.start < span.end && CLAUSES.is_boundary(words[span.end - 1]) {
            span.end -= 1;
        }
        // Clause features can be reused when every weight is 1: with contrast weights, the pivot
        // of the span alone may differ from that of the whole text.
        let first = whole
            .clauses
            .iter()
            .position(|c| c.words.start == span.start);
        let last = whole.clauses.iter().position(|c| c.words.end == span.end);
        match (first, last) {
            (Some(first), Some(last)) if first <= last && self.contrast_weight == 1.0 => {
                let mut lex = [0.0; LEX_KEYS.len()];
                for c in &whole.clauses[first..=last] {
                    lex.iter_mut().zip(c.lex).for_each(|(l, v)| *l += v);
                }
                out.raw.clear();
                out.raw.extend_from_slice(
                    &whole.raw[whole.clauses[first].raw.start..whole.clauses[last].raw.end],
                );
                out.clauses.clear();
                self.finish(&lex, out);
            }
            _ => self.extract(&words[span], out),
        }
    }

    /// Merges `out.raw` into `out.indices` / `out.values`: duplicate buckets summed, rows
    /// normalised, then the lexicon block `lex` normalised on its own, scaled and merged in.
    fn finish(&self, lex: &[f32; LEX_KEYS.len()], out: &mut SparseVec) {
        out.indices.clear();
        out.values.clear();
        if self.contrast_weight == 1.0 {
            // Every weight is 1, so a bucket's value is its count (exact in f32, in any order of
            // summing): sorting the bare indices is enough.
            out.sorted.clear();
            out.sorted.extend(out.raw.iter().map(|&(i, _)| i));
            out.sorted.sort_unstable();
            for run in out.sorted.chunk_by(|a, b| a == b) {
                out.indices.push(run[0]);
                out.values.push(run.len() as f32);
            }
        } else {
            out.raw.sort_unstable_by_key(|&(i, _)| i);
            for run in out.raw.chunk_by(|a, b| a.0 == b.0) {
                out.indices.push(run[0].0);
                out.values
                    .push(run.iter().fold(0.0, |sum, &(_, v)| sum + v));
            }
        }
        if self.spec.row_norm == RowNorm::L2 {
            let norm = out.values.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                out.values.iter_mut().for_each(|v| *v /= norm);
            }
        }
        // The lexicon block: normalised on its own, then scaled, then merged in.
        let lex_norm = lex.iter().map(|v| v * v).sum::<f32>().sqrt();
        if lex_norm > 0.0 && self.lex_scale > 0.0 {
            for (k, &v) in lex.iter().enumerate() {
                if v == 0.0 {
                    continue;
                }
                let v = v / lex_norm * self.lex_scale;
                let b = self.lex_buckets[k];
                match out.indices.binary_search(&b) {
                    Ok(j) => out.values[j] += v,
                    Err(j) => {
                        out.indices.insert(j, b);
                        out.values.insert(j, v);
                    }
                }
            }
        }
    }

    /// One clause; tokens from `pivot` on (an index into `words`) get the contrast weight.
    fn clause(&self, words: &[&str], pivot: usize, out: &mut SparseVec) {
        if words.is_empty() {
            return;
        }
        self.look_up(words, out);
        let yielding = self.cues_yield
            && yielding_cues(
                &out.word_infos,
                &out.word_polarities,
                self.max_scope,
                &mut out.word_yields,
            );
        self.word_features(words, pivot, yielding, out);
        if let Some(CharNgrams { min, max }) = self.spec.char_ngrams {
            let pivot_char = self.lay_out_chars(words, pivot, yielding, out);
            self.char_ngram_features(min as usize..=max as usize, pivot_char, yielding, out);
        }
    }

    /// The word table's entry, attribute-pair role and lexicon polarity of each word of a clause,
    /// into `out.word_infos`, `out.pair_roles` and `out.word_polarities`.
    fn look_up(&self, words: &[&str], out: &mut SparseVec) {
        out.word_infos.clear();
        out.word_infos
            .extend(words.iter().map(|w| self.words.info(w)));
        if self.has_attributes {
            self.words
                .attribute_pairs(words, &out.word_infos, &mut out.pair_roles);
        }
        out.word_polarities.clear();
        for (k, &w) in words.iter().enumerate() {
            let info = out.word_infos[k];
            let role = if self.has_attributes {
                out.pair_roles[k]
            } else {
                PairRole::Free
            };
            out.word_polarities.push(match role {
                PairRole::Silent => None,
                PairRole::Carries(p, inner) => Some((p, inner)),
                PairRole::Free if self.mark_chars || (!info.cue && self.has_lexicon) => {
                    self.words.polarity(w, info)
                }
                PairRole::Free => None,
            });
        }
    }

    /// The weight of a feature starting at `k`: the contrast weight from `pivot` on, else 1.
    fn weight(&self, k: usize, pivot: usize) -> f32 {
        if k >= pivot {
            self.contrast_weight
        } else {
            1.0
        }
    }

    /// Word, bigram and intensified-word features of a clause, and its lexicon matches, walking
    /// its negation scope; with `mark_chars`, marks in `out.word_neg` the words whose chars are
    /// hashed as negated.
    fn word_features(&self, words: &[&str], pivot: usize, yielding: bool, out: &mut SparseVec) {
        let bigrams = self.spec.words == WordGrams::UnigramsAndBigrams;
        out.word_neg.clear();
        let mut scope = Scope::new(self.max_scope);
        let mut intensify = false;
        for (k, &w) in words.iter().enumerate() {
            let weight = self.weight(k, pivot);
            let info = out.word_infos[k];
            let polarity = out.word_polarities[k];
            let negated = scope.negated;
            let yields = yielding && out.word_yields[k];
            let (word_ns, bigram_ns) = if negated {
                (Namespace::NegatedWord, Namespace::NegatedBigram)
            } else {
                (Namespace::Word, Namespace::Bigram)
            };
            if !yields {
                self.push(out, word_ns, &[w], weight);
            }
            if self.mark_chars {
                let mark = negated || info.cue || polarity.is_some_and(|(_, inner)| inner);
                out.word_neg.push(mark);
            }
            let prev_yields = yielding && k > 0 && out.word_yields[k - 1];
            if bigrams && k > 0 && !yields && !prev_yields {
                self.push(out, bigram_ns, &[words[k - 1], w], weight);
            }
            if intensify && !info.cue {
                // 不太好 and 很好 must stay apart, so intensified words inside a negation scope
                // carry a marker.
                if negated {
                    self.push(out, Namespace::Intensified, &["\u{1}neg", w], weight);
                } else {
                    self.push(out, Namespace::Intensified, &[w], weight);
                }
            }
            if !info.cue && self.has_lexicon {
                if let Some(polarity) = polarity {
                    self.count_match(polarity, negated, intensify, weight, &mut out.lex);
                }
            }
            intensify = info.adverb;
            scope.step(info.cue);
        }
    }

    /// Adds the feature `parts` in namespace `ns` with `weight` to `out.raw`.
    fn push(&self, out: &mut SparseVec, ns: Namespace, parts: &[&str], weight: f32) {
        assemble_key(&mut out.key, ns, parts);
        out.raw.push((self.bucket_of_key(&out.key), weight));
    }

    /// Counts a lexicon match of polarity `p` (made by a negation prefix inside its token when
    /// `inner`) into `lex`: on the key of its effective polarity after the scope's negation, and
    /// on the negated and intensified keys when it is flipped or intensified.
    fn count_match(
        &self,
        (p, inner): (i8, bool),
        negated: bool,
        intensified: bool,
        weight: f32,
        lex: &mut [f32; LEX_KEYS.len()],
    ) {
        let flipped = negated != inner;
        let p = if negated { -p } else { p };
        let neg = usize::from(p <= 0);
        lex[neg] += weight;
        if flipped && self.lex_negated_keys {
            lex[2 + neg] += weight;
        }
        if intensified {
            lex[4 + neg] += weight;
        }
    }

    /// Lays the clause's words end to end in `out.clause_bytes`, padded with
    /// [`MAX_GRAM_BYTES`] zeros, with the byte offset of each char (and of the end) in
    /// `out.char_starts` and the char's marks in `out.char_neg` and `out.char_yields`, so an
    /// n-gram's key is one slice. Returns the index of the first char of the `pivot` word.
    fn lay_out_chars(
        &self,
        words: &[&str],
        pivot: usize,
        yielding: bool,
        out: &mut SparseVec,
    ) -> usize {
        out.clause_bytes.clear();
        out.char_starts.clear();
        out.char_neg.clear();
        out.char_yields.clear();
        let mut pivot_char = None;
        for (k, w) in words.iter().enumerate() {
            if k == pivot {
                pivot_char = Some(out.char_starts.len());
            }
            let base = out.clause_bytes.len();
            for (i, _) in w.char_indices() {
                out.char_starts.push(base + i);
                if self.mark_chars {
                    out.char_neg.push(out.word_neg[k]);
                }
                if yielding {
                    out.char_yields.push(out.word_yields[k]);
                }
            }
            out.clause_bytes.extend_from_slice(w.as_bytes());
        }
        let pivot_char = pivot_char.unwrap_or(out.char_starts.len());
        out.char_starts.push(out.clause_bytes.len());
        // The padding lets every key copy a fixed MAX_GRAM_BYTES, which compiles to a few moves
        // instead of a memcpy call per n-gram; only the gram's own bytes are hashed.
        out.clause_bytes.extend_from_slice(&[0; MAX_GRAM_BYTES]);
        pivot_char
    }

    /// The char n-grams of the clause laid out by [`Featurizer::lay_out_chars`], for each length
    /// in `lengths`; those starting at or after `pivot_char` get the contrast weight. N-grams
    /// made only of yielding cues' chars are left out; those touching a negated char are hashed
    /// apart when the spec marks chars.
    fn char_ngram_features(
        &self,
        lengths: RangeInclusive<usize>,
        pivot_char: usize,
        yielding: bool,
        out: &mut SparseVec,
    ) {
        let chars = out.char_starts.len() - 1;
        let mut key = [0u8; 1 + MAX_GRAM_BYTES];
        for n in lengths {
            for k in 0..(chars + 1).saturating_sub(n) {
                if yielding && out.char_yields[k..k + n].iter().all(|&y| y) {
                    continue;
                }
                let ns = if self.mark_chars && out.char_neg[k..k + n].iter().any(|&m| m) {
                    Namespace::NegatedChar
                } else {
                    Namespace::Char
                };
                let (start, end) = (out.char_starts[k], out.char_starts[k + n]);
                key[0] = ns as u8;
                key[1..].copy_from_slice(&out.clause_bytes[start..start + MAX_GRAM_BYTES]);
                out.raw.push((
                    self.bucket_of_key(&key[..1 + end - start]),
                    self.weight(k, pivot_char),
                ));
            }
        }
    }
}

/// The negation state while walking a clause: a cue flips it (so a second cue flips it back),
/// and a scope limited to `max` words ends after that many.
struct Scope {
    negated: bool,
    left: usize,
    max: usize,
}

impl Scope {
    fn new(max: usize) -> Scope {
        Scope {
            negated: false,
            left: 0,
            max,
        }
    }

    /// Moves past a word, a negation cue when `cue`.
    fn step(&mut self, cue: bool) {
        if cue {
            self.negated = !self.negated;
            self.left = self.max;
        } else if self.negated && self.max > 0 {
            self.left = self.left.saturating_sub(1);
            if self.left == 0 {
                self.negated = false;
            }
        }
    }
}

/// Marks in `yields` the negation cues (per `infos`) whose scope holds a word with a lexicon
/// polarity (per `polarities`): the scope runs until the next cue, the clause's end, or
/// `max_scope` words if that is non-zero. Returns true if any cue yields.
fn yielding_cues(
    infos: &[WordInfo],
    polarities: &[Option<(i8, bool)>],
    max_scope: usize,
    yields: &mut Vec<bool>,
) -> bool {
    yields.clear();
    yields.resize(infos.len(), false);
    let mut any = false;
    for k in 0..infos.len() {
        if !infos[k].cue {
            continue;
        }
        let end = if max_scope > 0 {
            (k + 1 + max_scope).min(infos.len())
        } else {
            infos.len()
        };
        yields[k] = (k + 1..end)
            .take_while(|&j| !infos[j].cue)
            .any(|j| polarities[j].is_some());
        any |= yields[k];
    }
    any
}

/// Writes the bytes [`Featurizer::bucket`] hashes into `key` (cleared first): the namespace
/// byte, then `parts` joined by a 0x1F separator.
fn assemble_key(key: &mut Vec<u8>, ns: Namespace, parts: &[&str]) {
    key.clear();
    key.push(ns as u8);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            key.push(0x1F);
        }
        key.extend_from_slice(p.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::spec::strings;
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
        // The default spec's fingerprint also changes with the bundled lexicon's words or the
        // default text normalisation; that only needs this value updated (artifacts carry their
        // own spec and keep loading).
        assert_eq!(FeatureSpec::default().fingerprint(), "511a805bd6247c67");
    }

    proptest::proptest! {
        /// The one-call hash of an assembled key is the streamed hash of its parts.
        #[test]
        fn assembled_keys_hash_like_streamed_parts(
            a in "\\PC{0,12}", b in "\\PC{0,40}", ns in 0usize..8
        ) {
            let f = featurizer();
            let ns = [
                Namespace::Word, Namespace::NegatedWord, Namespace::Bigram,
                Namespace::NegatedBigram, Namespace::Char, Namespace::NegatedChar,
                Namespace::Intensified, Namespace::Lexicon,
            ][ns];
            let mut key = Vec::new();
            assemble_key(&mut key, ns, &[&a]);
            proptest::prop_assert_eq!(f.bucket_of_key(&key), f.bucket(ns, &[&a]));
            assemble_key(&mut key, ns, &[&a, &b]);
            proptest::prop_assert_eq!(f.bucket_of_key(&key), f.bucket(ns, &[&a, &b]));
            let chars: Vec<char> = a.chars().collect();
            assemble_key(&mut key, Namespace::Char, &[&a]);
            proptest::prop_assert_eq!(f.bucket_of_key(&key), f.bucket_chars(&chars));
        }
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
        f.extract(&["不是", "不", "去"], &mut v);
        assert!(has(&f, &v, Namespace::Word, &["去"]));
        assert!(has(&f, &v, Namespace::NegatedWord, &["不"]));
    }

    #[test]
    fn cues_yield_to_a_lexicon_match_in_their_scope() {
        let f = featurizer();
        let mut v = SparseVec::default();
        let cue_features = |f: &Featurizer, v: &SparseVec, cue: &str, next: &str| {
            [
                has(f, v, Namespace::Word, &[cue]),
                has(f, v, Namespace::NegatedBigram, &[cue, next]),
                has(f, v, Namespace::NegatedChar, &[cue]),
            ]
        };
        // 问题 is a lexicon word: the flipped match speaks, the cue adds nothing of its own.
        f.extract(&["没有", "问题"], &mut v);
        assert_eq!(cue_features(&f, &v, "没有", "问题"), [false; 3]);
        assert!(has(&f, &v, Namespace::NegatedWord, &["问题"]));
        assert!(has(&f, &v, Namespace::NegatedChar, &["没有问"]));
        assert!(lex(&f, &v, "+") > 0.0 && lex(&f, &v, "-") == 0.0);
        // Nothing of the lexicon in its scope: the cue keeps its features.
        f.extract(&["没有", "热水"], &mut v);
        assert_eq!(cue_features(&f, &v, "没有", "热水"), [true; 3]);
        // The scope ends at punctuation, and at the next cue.
        f.extract(&["没有", "热水", "，", "失望"], &mut v);
        assert_eq!(cue_features(&f, &v, "没有", "热水"), [true; 3]);
        f.extract(&["不是", "不", "好"], &mut v);
        assert!(has(&f, &v, Namespace::Word, &["不是"]));
        assert!(!has(&f, &v, Namespace::NegatedWord, &["不"]));
        assert!(!has(&f, &v, Namespace::NegatedBigram, &["不是", "不"]));
        // An attribute pair is a lexicon match too (性价比 … 高 is one positive match).
        f.extract(&["性价比", "不", "高"], &mut v);
        assert!(!has(&f, &v, Namespace::Word, &["不"]));
        assert!(lex(&f, &v, "-") > 0.0 && lex(&f, &v, "+") == 0.0);
        // A limited scope only looks that far.
        let (mut spec, mut limited) = (FeatureSpec::default(), FeatureSpec::default());
        if let Negation::Scope { max_words, .. } = &mut limited.negation {
            *max_words = 1;
        }
        let limited = Featurizer::new(limited).unwrap();
        limited.extract(&["没有", "热水", "问题"], &mut v);
        assert_eq!(cue_features(&limited, &v, "没有", "热水"), [true; 3]);
        // A spec without the field keeps every cue's features.
        if let Lexicon::Polarity { cues_yield, .. } = &mut spec.lexicon {
            *cues_yield = false;
        }
        let keeps = Featurizer::new(spec).unwrap();
        keeps.extract(&["没有", "问题"], &mut v);
        assert_eq!(cue_features(&keeps, &v, "没有", "问题"), [true; 3]);
    }

    #[test]
    fn negation_can_be_limited_or_off() {
        let mut spec = FeatureSpec {
            negation: Negation::Scope {
                cues: vec!["不".into()],
                max_words: 1,
                prefixes: vec![],
                mark_chars: false,
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

    fn lex(f: &Featurizer, v: &SparseVec, key: &str) -> f32 {
        let b = f.bucket(Namespace::Lexicon, &[key]);
        v.indices.binary_search(&b).map_or(0.0, |j| v.values[j])
    }

    #[test]
    fn lexicon_polarity_follows_negation_cues_and_prefixes() {
        let f = featurizer();
        let mut v = SparseVec::default();
        // (words as jieba cuts them, effective polarity)
        for (words, positive) in [
            (&["物流", "很快"][..], true),
            (&["物流", "很", "慢"], false),
            (&["一点", "也", "不慢"], true),
            (&["一点也不", "慢"], true),
            (&["没让", "我", "失望"], true),
            (&["不太", "满意"], false),
            (&["并", "不", "便宜"], false),
            (&["没有", "问题"], true),
            (&["没问题"], true),
            (&["不是", "不", "满意"], true),
        ] {
            f.extract(words, &mut v);
            let (p, n) = (lex(&f, &v, "+"), lex(&f, &v, "-"));
            assert_eq!(p > n, positive, "{words:?}: + {p}, - {n}");
        }
        // Scope ends at punctuation.
        f.extract(&["不", "贵", "，", "失望"], &mut v);
        assert!(lex(&f, &v, "+") > 0.0 && lex(&f, &v, "-") > 0.0);
        // The default spec has no "negated" keys; a spec that asks for them gets them.
        assert!(lex(&f, &v, "neg+") == 0.0 && lex(&f, &v, "neg-") == 0.0);
        let mut spec = FeatureSpec::default();
        if let Lexicon::Polarity { negated_keys, .. } = &mut spec.lexicon {
            *negated_keys = true;
        }
        let keyed = Featurizer::new(spec).unwrap();
        keyed.extract(&["不", "贵", "，", "失望"], &mut v);
        assert!(lex(&keyed, &v, "neg+") > 0.0 && lex(&keyed, &v, "neg-") == 0.0);
        assert!(lex(&keyed, &v, "+") > 0.0 && lex(&keyed, &v, "-") > 0.0);
    }

    #[test]
    fn attribute_pairs_take_their_polarity_from_both_words() {
        let f = featurizer();
        let mut v = SparseVec::default();
        // (words as jieba cuts them, effective polarity of the one lexicon match)
        for (words, positive) in [
            (&["价格", "偏高"][..], false),
            (&["价格", "也", "不", "高"], true),
            (&["性价比", "低"], false),
            (&["性价比", "不高"], false),
            (&["性价比", "很", "高"], true),
            (&["噪音", "很小"], true),
            (&["噪音", "比较", "大"], false),
            (&["续航", "短"], false),
            (&["高", "油耗"], false),
            (&["低", "延迟"], true),
            (&["电池容量", "大"], true),
            (&["耗电", "快"], false),
            (&["不是", "价格", "高"], true),
        ] {
            f.extract(words, &mut v);
            let (p, n) = v.lexicon_matches();
            assert_eq!(
                (p, n),
                if positive { (1.0, 0.0) } else { (0.0, 1.0) },
                "{words:?}"
            );
        }
        // Too far apart, or apart across a clause end: each word keeps its own polarity
        // (性价比 and 快 are lexicon words, 价格 and 高 are not).
        for (words, matches) in [
            (&["性价比", "这", "东西", "说", "高"][..], (1.0, 0.0)),
            (&["价格", "，", "高"], (0.0, 0.0)),
            (&["物流", "快"], (1.0, 0.0)),
        ] {
            f.extract(words, &mut v);
            assert_eq!(v.lexicon_matches(), matches, "{words:?}");
        }
        // A spec without pairs scores the words alone.
        let mut spec = FeatureSpec::default();
        if let Lexicon::Polarity { attributes, .. } = &mut spec.lexicon {
            *attributes = None;
        }
        let plain = Featurizer::new(spec).unwrap();
        plain.extract(&["性价比", "低"], &mut v);
        assert_eq!(v.lexicon_matches(), (1.0, 0.0));
    }

    #[test]
    fn lexicon_block_is_scaled_apart_from_ngrams() {
        let f = featurizer();
        let mut v = SparseVec::default();
        f.extract(&["满意"], &mut v);
        assert!((lex(&f, &v, "+") - DEFAULT_LEXICON_SCALE).abs() < 1e-5);
        let spec = FeatureSpec {
            lexicon: Lexicon::Off,
            ..FeatureSpec::default()
        };
        let off = Featurizer::new(spec).unwrap();
        off.extract(&["满意"], &mut v);
        assert_eq!(lex(&off, &v, "+"), 0.0);
        let norm: f32 = v.values.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn words_after_the_last_contrast_weigh_more() {
        let f = Featurizer::new(FeatureSpec {
            contrast: Contrast::Weight {
                conjunctions: strings(DEFAULT_CONTRAST),
                weight: 2.0,
            },
            ..FeatureSpec::default()
        })
        .unwrap();
        let mut v = SparseVec::default();
        f.extract(&["质量", "好", "，", "但是", "物流", "慢"], &mut v);
        let get = |parts: &[&str]| {
            let b = f.bucket(Namespace::Word, parts);
            v.values[v.indices.binary_search(&b).unwrap()]
        };
        assert!((get(&["物流"]) / get(&["质量"]) - 2.0).abs() < 1e-5);
        assert!(lex(&f, &v, "-") > lex(&f, &v, "+"));
    }

    fn bits(v: &SparseVec) -> Vec<(u32, u32)> {
        v.iter().map(|(i, x)| (i, x.to_bits())).collect()
    }

    proptest::proptest! {
        /// A span scored from the whole text's clause features is bit for bit what extracting
        /// the span's words alone gives, with unit weights (reused) and contrast weights
        /// (extracted again).
        #[test]
        fn span_features_equal_the_span_extracted_alone(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "质量", "好", "不", "很", "慢", "，", "。", "但是", "物流", "没有", "问题",
                    "（", "差", "满意", "不慢",
                ]),
                0..14,
            ),
            a in 0usize..15,
            b in 0usize..15,
            weight in proptest::sample::select(vec![1.0f32, 2.0]),
        ) {
            let f = Featurizer::new(FeatureSpec {
                contrast: Contrast::Weight { conjunctions: strings(DEFAULT_CONTRAST), weight },
                ..FeatureSpec::default()
            })
            .unwrap();
            let (a, b) = (a.min(words.len()), b.min(words.len()));
            let span = a.min(b)..a.max(b);
            let (mut whole, mut got, mut want) =
                (SparseVec::default(), SparseVec::default(), SparseVec::default());
            f.extract(&words, &mut whole);
            f.extract_span(&words, &whole, span.clone(), &mut got);
            f.extract(&words[span], &mut want);
            proptest::prop_assert_eq!(bits(&got), bits(&want));
        }
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
        let f = Featurizer::new(FeatureSpec {
            char_ngrams: Some(CharNgrams { min: 1, max: 3 }),
            lexicon: Lexicon::Off,
            ..FeatureSpec::default()
        })
        .unwrap();
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
        // The n-grams have norm 1, the lexicon block (好 is in it) the lexicon scale.
        let norm: f32 = v.values.iter().map(|x| x * x).sum();
        let expected = 1.0 + DEFAULT_LEXICON_SCALE * DEFAULT_LEXICON_SCALE;
        assert!((norm - expected).abs() < 1e-4, "{norm}");
        assert!(v.indices.windows(2).all(|w| w[0] < w[1]));
        f.extract(&[], &mut v);
        assert!(v.is_empty());
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
