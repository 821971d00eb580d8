//! Aspect (driver) detection: which clauses of a text talk about which aspect.
//!
//! A text is split into clauses at punctuation (，。！？；、~ and their ASCII forms, line breaks)
//! and before contrastive conjunctions (但是, 但, 不过, 可是, 然而, 只是). A clause is about an
//! aspect when it contains one of the aspect's keywords. Each such clause is scored on its own,
//! and an aspect's per-response value is 100 × the mean P(positive) of its clauses. So
//! "物流很快，但是客服态度太差了" gives 物流 the score of "物流很快" and 客服 the score of
//! "但是客服态度太差了"; a clause naming two aspects counts for both.

use aho_corasick::AhoCorasick;

/// The configured lexicon, in aspect order (the order of slots in the windows).
#[derive(Debug, Clone)]
pub struct Lexicon {
    aspects: Vec<(String, Vec<String>)>,
    /// All keywords of the first [`MAX_INDEXED`] aspects, found in one pass over a clause.
    matcher: AhoCorasick,
    /// The aspect of each of the matcher's patterns.
    pattern_aspect: Vec<usize>,
    /// Aspects with an empty keyword: every clause contains it.
    always: u64,
}

/// Conjunctions that start a new clause: the sentiment after them usually differs.
const CONTRAST: &[&str] = &["但是", "不过", "可是", "然而", "只是", "但"];

impl Lexicon {
    pub fn new(aspects: Vec<(String, Vec<String>)>) -> Lexicon {
        let (mut patterns, mut pattern_aspect, mut always) = (Vec::new(), Vec::new(), 0);
        for (i, (_, words)) in aspects.iter().enumerate().take(MAX_INDEXED) {
            for w in words {
                if w.is_empty() {
                    always |= 1 << i;
                } else {
                    patterns.push(w.as_str());
                    pattern_aspect.push(i);
                }
            }
        }
        let matcher = AhoCorasick::new(&patterns).expect("a few short keywords build an automaton");
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

    /// Calls `f(aspect index, clause)` for every clause of `text` that mentions an aspect, in
    /// clause order, then aspect order.
    pub fn for_each_mention<'t>(&self, text: &'t str, mut f: impl FnMut(usize, &'t str)) {
        if self.aspects.is_empty() {
            return;
        }
        if self.aspects.len() > MAX_INDEXED {
            for clause in clauses(text) {
                for (i, (_, words)) in self.aspects.iter().enumerate() {
                    if words.iter().any(|w| clause.contains(w.as_str())) {
                        f(i, clause);
                    }
                }
            }
            return;
        }
        for clause in clauses(text) {
            let mut found = self.mentioned(clause);
            while found != 0 {
                f(found.trailing_zeros() as usize, clause);
                found &= found - 1;
            }
        }
    }

    /// The aspects `clause` contains a keyword of, as a bit set; one pass over the clause
    /// instead of a substring search per keyword.
    fn mentioned(&self, clause: &str) -> u64 {
        self.matcher
            .find_overlapping_iter(clause)
            .fold(self.always, |found, m| {
                found | 1 << self.pattern_aspect[m.pattern().as_usize()]
            })
    }
}

/// Aspects beyond this many are matched keyword by keyword (the bit set has 64 bits).
const MAX_INDEXED: usize = 64;

fn is_break(c: char) -> bool {
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

/// Splits at punctuation and before contrastive conjunctions; empty clauses are skipped.
pub fn clauses(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_break)
        .flat_map(split_contrast)
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// The parts of `clause` before each contrastive conjunction that does not start it, then the
/// rest.
fn split_contrast(clause: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut i = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        while i < clause.len() {
            let rest = &clause[i..];
            if i > start {
                if let Some(c) = CONTRAST.iter().find(|c| rest.starts_with(*c)) {
                    let part = &clause[start..i];
                    start = i;
                    i += c.len();
                    return Some(part);
                }
            }
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
        if done {
            None
        } else {
            done = true;
            Some(&clause[start..])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        Lexicon::new(vec![
            ("物流".into(), vec!["物流".into(), "快递".into()]),
            ("客服".into(), vec!["客服".into(), "态度".into()]),
        ])
    }

    #[test]
    fn contrast_splits_a_two_aspect_sentence() {
        let mut got = Vec::new();
        lexicon().for_each_mention("物流很快但是客服态度太差了", |a, c| {
            got.push((a, c))
        });
        assert_eq!(got, [(0, "物流很快"), (1, "但是客服态度太差了")]);
    }

    #[test]
    fn punctuation_splits_and_one_clause_can_name_two_aspects() {
        let mut got = Vec::new();
        lexicon().for_each_mention("包装不错。快递和客服都很好！", |a, c| {
            got.push((a, c))
        });
        assert_eq!(got, [(0, "快递和客服都很好"), (1, "快递和客服都很好")]);
    }

    /// The reference: a substring search per keyword, as `mentioned` replaces.
    fn mentions_by_search(lex: &Lexicon, text: &str) -> Vec<(usize, String)> {
        let mut got = Vec::new();
        for clause in clauses(text) {
            for (i, (_, words)) in lex.aspects.iter().enumerate() {
                if words.iter().any(|w| clause.contains(w.as_str())) {
                    got.push((i, clause.to_string()));
                }
            }
        }
        got
    }

    fn mentions(lex: &Lexicon, text: &str) -> Vec<(usize, String)> {
        let mut got = Vec::new();
        lex.for_each_mention(text, |a, c| got.push((a, c.to_string())));
        got
    }

    proptest::proptest! {
        #[test]
        fn keyword_index_finds_what_substring_search_finds(
            text in "[物流快递客服态度好差不过但是，。!a-c ]{0,30}"
        ) {
            let lex = Lexicon::new(vec![
                ("物流".into(), vec!["物流".into(), "快递".into(), "递".into()]),
                ("客服".into(), vec!["客服".into(), "态度".into(), "快递".into()]),
                ("其他".into(), vec!["ab".into(), "a".into(), "好差".into()]),
                ("全部".into(), vec!["".into()]),
            ]);
            proptest::prop_assert_eq!(mentions(&lex, &text), mentions_by_search(&lex, &text));
        }
    }

    #[test]
    fn more_aspects_than_the_index_holds_are_still_found() {
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
        let got: Vec<_> = clauses("，，好！！ 不过  ").collect();
        assert_eq!(got, ["好", "不过"]);
    }
}
