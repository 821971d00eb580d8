//! Aspect (driver) detection: which clauses of a text talk about which aspect.
//!
//! Works on the text as the model segmented it (see [`crate::model::Model::analyse`]): a clause
//! ([`CLAUSES`], cut by [`crate::text::clause`]) is a run of words between punctuation tokens
//! (，。！？；、~ and their ASCII forms, line breaks, …), and a contrastive conjunction word (但是,
//! 但, 不过, 可是, 然而, 只是) starts a new one. A
//! clause is about an aspect when its text contains one of the aspect's keywords (ASCII case,
//! full/half width and, with a model that converts Traditional text, Traditional characters
//! ignored). Each such clause is scored on its own, and an aspect's per-response
//! value is 100 × the mean P(positive) of its clauses. So "物流很快，但是客服态度太差了" gives
//! 物流 the score of "物流很快" and 客服 the score of "但是客服态度太差了"; a clause naming two
//! aspects counts for both. Conjunctions are matched as words, so the 但 inside 不但 does not
//! split a clause.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};

use crate::text::clause::{clause_spans, range_in, Between, ClauseRule};
use crate::text::normalise::{normalise_text, TextNorm};

/// The configured lexicon, in aspect order (the order of slots in the windows).
#[derive(Debug, Clone)]
pub struct Lexicon {
    aspects: Vec<(String, Vec<String>)>,
    /// All keywords (as written and width-folded), found in one pass over a clause.
    matcher: AhoCorasick,
    /// The aspect of each of the matcher's patterns.
    pattern_aspect: Vec<usize>,
    /// Aspects with an empty keyword: every clause contains it.
    always: Vec<usize>,
}

/// Conjunctions that start a new clause: the sentiment after them usually differs. Fewer than the
/// feature spec's [`crate::features::DEFAULT_CONTRAST`] (no 却, 可惜, 就是): taking those would
/// cut more clauses and move aspect values (这个价格买到就是赚到 in tests/score_golden.rs).
const CONTRAST: &[&str] = &["但是", "不过", "可是", "然而", "只是", "但"];

/// Aspect clauses end at sentence punctuation and line breaks and start at a contrastive
/// conjunction (see [`crate::text::clause`]).
pub const CLAUSES: ClauseRule = ClauseRule {
    boundary: crate::text::clause::is_sentence_break,
    starters: CONTRAST,
};

impl Lexicon {
    pub fn new(aspects: Vec<(String, Vec<String>)>) -> Lexicon {
        let (mut patterns, mut pattern_aspect, mut always) = (Vec::new(), Vec::new(), Vec::new());
        let mut folded = String::new();
        for (i, (_, words)) in aspects.iter().enumerate() {
            for w in words {
                if w.is_empty() {
                    always.push(i);
                    continue;
                }
                patterns.push(w.clone());
                pattern_aspect.push(i);
                // The model's text is width-folded and, with the default spec, Simplified: ＡＰＰ in
                // the config finds app in the text, 服務 finds 服务.
                normalise_text(TextNorm::FoldWidthLowercaseSimplified, w, &mut folded);
                if folded != *w {
                    patterns.push(folded.clone());
                    pattern_aspect.push(i);
                }
            }
        }
        always.dedup();
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(&patterns)
            .expect("a few short keywords build an automaton");
        Lexicon {
            aspects,
            matcher,
            pattern_aspect,
            always,
        }
    }

    pub fn len(&self) -> usize {
        self.aspects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.aspects.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.aspects.iter().map(|(n, _)| n.as_str())
    }

    /// Calls `f(aspect index, clause)` for every clause of a segmented text that mentions an
    /// aspect, in clause order, then aspect order; a clause is a range of `words`, which are
    /// slices of `text`.
    pub fn for_each_mention(
        &self,
        text: &str,
        words: &[&str],
        mut f: impl FnMut(usize, Range<usize>),
    ) {
        if self.aspects.is_empty() {
            return;
        }
        let mut found = Vec::new();
        for clause in clause_spans(CLAUSES, Between::Text(text), words) {
            let clause_text = span_text(text, &words[clause.clone()]);
            if self.aspects.len() <= 64 {
                // One bit per aspect: no allocation, and the bits come out in aspect order.
                let mut bits = self.always.iter().fold(0u64, |b, &a| b | 1 << a);
                for m in self.matcher.find_overlapping_iter(clause_text.as_ref()) {
                    bits |= 1 << self.pattern_aspect[m.pattern().as_usize()];
                }
                while bits != 0 {
                    f(bits.trailing_zeros() as usize, clause.clone());
                    bits &= bits - 1;
                }
            } else {
                found.clear();
                found.extend_from_slice(&self.always);
                found.extend(
                    self.matcher
                        .find_overlapping_iter(clause_text.as_ref())
                        .map(|m| self.pattern_aspect[m.pattern().as_usize()]),
                );
                found.sort_unstable();
                found.dedup();
                for &a in &found {
                    f(a, clause.clone());
                }
            }
        }
    }
}

/// The text `words` cover in `text`, when they are slices of it; otherwise the words joined.
fn span_text<'t>(text: &'t str, words: &[&str]) -> std::borrow::Cow<'t, str> {
    let (Some(first), Some(last)) = (words.first(), words.last()) else {
        return "".into();
    };
    match (range_in(text, first), range_in(text, last)) {
        (Some(a), Some(b)) if a.start <= b.end => text[a.start..b.end].into(),
        _ => words.concat().into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::text::segment::Segmenter;

    static SEGMENTER: LazyLock<Segmenter> = LazyLock::new(|| Segmenter::new(None).unwrap());

    fn lexicon() -> Lexicon {
        Lexicon::new(vec![
            ("物流".into(), vec!["物流".into(), "快递".into()]),
            ("客服".into(), vec!["客服".into(), "态度".into()]),
        ])
    }

    /// (aspect, clause text) for each mention in `text`, segmented as the model does.
    fn mentions(lex: &Lexicon, text: &str) -> Vec<(usize, String)> {
        mentions_normalised(TextNorm::FoldWidthLowercase, lex, text)
    }

    fn mentions_normalised(how: TextNorm, lex: &Lexicon, text: &str) -> Vec<(usize, String)> {
        let mut norm = String::new();
        normalise_text(how, text, &mut norm);
        let mut words = Vec::new();
        SEGMENTER.cut(&norm, &mut words);
        let mut got = Vec::new();
        lex.for_each_mention(&norm, &words, |a, c| {
            got.push((a, span_text(&norm, &words[c]).into_owned()))
        });
        got
    }

    fn pairs(v: &[(usize, &str)]) -> Vec<(usize, String)> {
        v.iter().map(|&(a, c)| (a, c.to_string())).collect()
    }

    #[test]
    fn contrast_splits_a_two_aspect_sentence() {
        assert_eq!(
            mentions(&lexicon(), "物流很快但是客服态度太差了"),
            pairs(&[(0, "物流很快"), (1, "但是客服态度太差了")])
        );
        assert_eq!(
            mentions(&lexicon(), "物流很快，但是客服态度太差了"),
            pairs(&[(0, "物流很快"), (1, "但是客服态度太差了")])
        );
    }

    #[test]
    fn punctuation_splits_and_one_clause_can_name_two_aspects() {
        assert_eq!(
            mentions(&lexicon(), "包装不错。快递和客服都很好！"),
            pairs(&[(0, "快递和客服都很好"), (1, "快递和客服都很好")])
        );
    }

    #[test]
    fn a_conjunction_inside_a_word_does_not_split() {
        // 不但 is one word: its 但 is not the conjunction 但.
        assert_eq!(
            mentions(&lexicon(), "客服不但态度好而且物流快"),
            pairs(&[
                (0, "客服不但态度好而且物流快"),
                (1, "客服不但态度好而且物流快")
            ])
        );
    }

    #[test]
    fn keywords_ignore_width_and_ascii_case() {
        let lex = Lexicon::new(vec![("app".into(), vec!["ＡＰＰ".into()])]);
        assert_eq!(
            mentions(&lex, "这个App太卡了"),
            pairs(&[(0, "这个app太卡了")])
        );
        assert_eq!(mentions(&lex, "ＡＰＰ很好用").len(), 1);
    }

    #[test]
    fn traditional_keywords_find_the_simplified_text_of_the_default_model() {
        let lex = Lexicon::new(vec![("客服".into(), vec!["服務".into()])]);
        let simplified = TextNorm::FoldWidthLowercaseSimplified;
        for text in ["服務態度很差", "服务态度很差"] {
            assert_eq!(
                mentions_normalised(simplified, &lex, text),
                pairs(&[(0, "服务态度很差")]),
                "{text}"
            );
        }
        // A model that keeps Traditional text as it is still finds the keyword as written.
        assert_eq!(mentions(&lex, "服務態度很差").len(), 1);
    }

    /// The reference: a substring search per keyword in each clause's text.
    fn mentions_by_search(lex: &Lexicon, text: &str) -> Vec<(usize, String)> {
        let mut norm = String::new();
        normalise_text(TextNorm::FoldWidthLowercase, text, &mut norm);
        let mut words = Vec::new();
        SEGMENTER.cut(&norm, &mut words);
        let mut got = Vec::new();
        for clause in clause_spans(CLAUSES, Between::Text(&norm), &words) {
            let clause = span_text(&norm, &words[clause]).to_lowercase();
            for (i, (_, keywords)) in lex.aspects.iter().enumerate() {
                if keywords.iter().any(|w| clause.contains(&w.to_lowercase())) {
                    got.push((i, clause.clone()));
                }
            }
        }
        got
    }

    proptest::proptest! {
        #[test]
        fn keyword_automaton_finds_what_substring_search_finds(
            text in "[物流快递客服态度好差不过但是，。!a-cA-C ]{0,30}"
        ) {
            let lex = Lexicon::new(vec![
                ("物流".into(), vec!["物流".into(), "快递".into(), "递".into()]),
                ("客服".into(), vec!["客服".into(), "态度".into(), "快递".into()]),
                ("其他".into(), vec!["ab".into(), "A".into(), "好差".into()]),
                ("全部".into(), vec!["".into()]),
            ]);
            proptest::prop_assert_eq!(mentions(&lex, &text), mentions_by_search(&lex, &text));
        }
    }

    #[test]
    fn more_aspects_than_the_bit_set_holds_are_still_found() {
        let lex = Lexicon::new(
            (0..70)
                .map(|i| (format!("a{i}"), vec![format!("词{i}号")]))
                .collect(),
        );
        let text = "词3号不错，词69号，但是词64号差";
        assert_eq!(mentions(&lex, text), mentions_by_search(&lex, text));
        assert_eq!(mentions(&lex, text).len(), 3);
    }

    #[test]
    fn clauses_skip_empty_parts() {
        let spans = |words: &[&str]| -> Vec<Range<usize>> {
            clause_spans(CLAUSES, Between::Text(""), words).collect()
        };
        assert_eq!(spans(&["，", "，", "好", "！", "！", "不过"]), [2..3, 5..6]);
        assert!(spans(&[]).is_empty());
        let got = spans(&["但是", "好"]);
        assert_eq!(got, vec![0..2]);
    }

    #[test]
    fn line_breaks_split_although_the_segmenter_drops_them() {
        assert_eq!(
            mentions(&lexicon(), "态度\n还行\r\n物流慢"),
            pairs(&[(1, "态度"), (0, "物流慢")])
        );
    }
}
