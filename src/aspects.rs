//! Aspect (driver) detection: which clauses of a text talk about which aspect.
//!
//! A text is split into clauses at punctuation (，。！？；、~ and their ASCII forms, line breaks)
//! and before contrastive conjunctions (但是, 但, 不过, 可是, 然而, 只是). A clause is about an
//! aspect when it contains one of the aspect's keywords. Each such clause is scored on its own,
//! and an aspect's per-response value is 100 × the mean P(positive) of its clauses. So
//! "物流很快，但是客服态度太差了" gives 物流 the score of "物流很快" and 客服 the score of
//! "但是客服态度太差了"; a clause naming two aspects counts for both.

/// The configured lexicon, in aspect order (the order of slots in the windows).
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    aspects: Vec<(String, Vec<String>)>,
}

/// Conjunctions that start a new clause: the sentiment after them usually differs.
const CONTRAST: &[&str] = &["但是", "不过", "可是", "然而", "只是", "但"];

impl Lexicon {
    pub fn new(aspects: Vec<(String, Vec<String>)>) -> Lexicon {
        Lexicon { aspects }
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

    /// Calls `f(aspect index, clause)` for every clause of `text` that mentions an aspect.
    pub fn for_each_mention<'t>(&self, text: &'t str, mut f: impl FnMut(usize, &'t str)) {
        if self.aspects.is_empty() {
            return;
        }
        for clause in clauses(text) {
            for (i, (_, words)) in self.aspects.iter().enumerate() {
                if words.iter().any(|w| clause.contains(w.as_str())) {
                    f(i, clause);
                }
            }
        }
    }
}

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

fn split_contrast(clause: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < clause.len() {
        let rest = &clause[i..];
        if i > start {
            if let Some(c) = CONTRAST.iter().find(|c| rest.starts_with(*c)) {
                out.push(&clause[start..i]);
                start = i;
                i += c.len();
                continue;
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out.push(&clause[start..]);
    out
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

    #[test]
    fn clauses_skip_empty_parts() {
        let got: Vec<_> = clauses("，，好！！ 不过  ").collect();
        assert_eq!(got, ["好", "不过"]);
    }
}
