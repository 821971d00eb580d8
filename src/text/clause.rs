//! Clauses: the runs of a segmented text between punctuation. Negation scope, word bigrams and
//! char n-grams stay within one ([`crate::features`]), and aspects are found and scored per clause
//! ([`crate::score::aspects`]).
//!
//! There is one way to cut ([`clause_spans`]) and each caller says where with its own
//! [`ClauseRule`]. The two callers have always cut differently, and both outputs are pinned, so
//! neither rule can take the other's lists without changing scores:
//! - features end a clause at any token of punctuation, whitespace or symbols
//!   ([`is_boundary_char`]) and start none at a conjunction: the feature spec's contrastive
//!   conjunctions only weight the words after the last one. Changing this changes the features of
//!   every model: bump `FEATURE_SPEC_VERSION`;
//! - aspects end a clause at sentence punctuation and line breaks ([`is_sentence_break`]), also
//!   where the segmenter dropped them, and start one at a contrastive conjunction, so that in
//!   物流很快但是客服太差 each aspect gets its own half. Changing this changes aspect values
//!   (tests/score_golden.rs).

use std::ops::Range;

/// Where clauses end and start.
#[derive(Debug, Clone, Copy)]
pub struct ClauseRule<'a> {
    /// Returns true if and only if the char ends a clause. A token made only of such chars (and
    /// an empty token) is a boundary: it belongs to no clause.
    pub boundary: fn(char) -> bool,
    /// Tokens that start a new clause unless one starts there anyway (contrastive conjunctions).
    /// Whole tokens only, so the 但 inside 不但 does not split.
    pub starters: &'a [&'a str],
}

impl ClauseRule<'_> {
    /// Returns true if and only if `token` is a boundary, made only of boundary chars.
    pub fn is_boundary(&self, token: &str) -> bool {
        token.chars().all(self.boundary)
    }
}

/// What is known of the text between two consecutive words.
#[derive(Debug, Clone, Copy)]
pub enum Between<'t> {
    /// The words are slices of this text; boundary chars between two of them (a line break the
    /// segmenter dropped with the whitespace) end a clause too.
    Text(&'t str),
    /// Nothing: the words are all there is.
    Nothing,
}

impl Between<'_> {
    /// Returns true if and only if the text between the consecutive words `before` and `after`
    /// holds a boundary char.
    fn breaks(&self, boundary: fn(char) -> bool, before: &str, after: &str) -> bool {
        let Between::Text(text) = *self else {
            return false;
        };
        match (range_in(text, before), range_in(text, after)) {
            (Some(a), Some(b)) if a.end <= b.start => text[a.end..b.start].contains(boundary),
            _ => false,
        }
    }
}

/// Byte range of `word` in `text`, when it is a slice of it (as the segmenter returns words).
pub fn range_in(text: &str, word: &str) -> Option<Range<usize>> {
    let start = (word.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start + word.len();
    (end <= text.len()).then_some(start..end)
}

/// The clauses of segmented `words` as ranges of them, per `rule`: a boundary token ends one (and
/// belongs to none), so does a boundary in the text `between` two words, and a starter token that
/// does not start one already starts a new one. Empty clauses are skipped.
pub fn clause_spans<'w>(
    rule: ClauseRule<'w>,
    between: Between<'w>,
    words: &'w [&str],
) -> impl Iterator<Item = Range<usize>> + 'w {
    let mut start = 0;
    let mut k = 0;
    std::iter::from_fn(move || {
        while k < words.len() {
            let w = words[k];
            let at = k;
            k += 1;
            if at > start && between.breaks(rule.boundary, words[at - 1], w) {
                let clause = start..at;
                start = at;
                k = at;
                return Some(clause);
            }
            if rule.is_boundary(w) {
                let clause = start..at;
                start = k;
                if !clause.is_empty() {
                    return Some(clause);
                }
            } else if at > start && rule.starters.contains(&w) {
                let clause = start..at;
                start = at;
                return Some(clause);
            }
        }
        let clause = start..words.len();
        start = words.len();
        (!clause.is_empty()).then_some(clause)
    })
}

/// Returns true if and only if `c` is punctuation, whitespace or a symbol: the feature extractor's
/// clause boundary.
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

/// Returns true if and only if `c` ends a sentence or a part of one (，。！？；、~ and their ASCII
/// forms, line breaks, …): the aspect detector's clause boundary. Quotes, brackets, colons and
/// spaces do not end a clause here.
pub fn is_sentence_break(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '！'
            | '？'
            | '；'
            | '、'
            | '~'
            | '～'
            | ','
            | '.'
            | '!'
            | '?'
            | ';'
            | '\n'
            | '\r'
            | '…'
    )
}

#[cfg(test)]
#[allow(
    clippy::single_range_in_vec_init,
    reason = "the expected clauses are lists of ranges"
)]
mod tests {
    use super::*;

    const PUNCTUATION: ClauseRule = ClauseRule {
        boundary: is_boundary_char,
        starters: &[],
    };
    const SENTENCES: ClauseRule = ClauseRule {
        boundary: is_sentence_break,
        starters: &["但是", "不过"],
    };

    fn spans(rule: ClauseRule, between: Between, words: &[&str]) -> Vec<Range<usize>> {
        clause_spans(rule, between, words).collect()
    }

    #[test]
    fn boundary_tokens_end_clauses_and_empty_clauses_are_skipped() {
        let words = ["，", "，", "好", "！", "！", "不过"];
        assert_eq!(spans(SENTENCES, Between::Nothing, &words), [2..3, 5..6]);
        assert!(spans(SENTENCES, Between::Nothing, &[]).is_empty());
        assert_eq!(spans(PUNCTUATION, Between::Nothing, &["", "好"]), [1..2]);
    }

    #[test]
    fn starters_start_a_clause_unless_one_starts_there() {
        let words = ["质量", "好", "但是", "物流", "慢"];
        assert_eq!(spans(SENTENCES, Between::Nothing, &words), [0..2, 2..5]);
        assert_eq!(spans(SENTENCES, Between::Nothing, &["但是", "好"]), [0..2]);
        assert_eq!(spans(PUNCTUATION, Between::Nothing, &words), [0..5]);
    }

    #[test]
    fn the_rules_differ_in_which_chars_end_a_clause() {
        let words = ["物流", "（", "顺丰", "）", "：", "快"];
        assert_eq!(
            spans(PUNCTUATION, Between::Nothing, &words),
            [0..1, 2..3, 5..6]
        );
        assert_eq!(spans(SENTENCES, Between::Nothing, &words), [0..6]);
    }

    #[test]
    fn boundaries_between_the_words_of_a_text_end_clauses() {
        let text = "态度\n还行 物流慢";
        let words = [&text[0..6], &text[7..13], &text[14..20], &text[20..23]];
        assert_eq!(words, ["态度", "还行", "物流", "慢"]);
        assert_eq!(spans(SENTENCES, Between::Text(text), &words), [0..1, 1..4]);
        assert_eq!(
            spans(PUNCTUATION, Between::Text(text), &words),
            [0..1, 1..2, 2..4]
        );
        assert_eq!(spans(SENTENCES, Between::Nothing, &words), [0..4]);
    }
}
