//! The bundled lexicons (models/sentiment-lexicon.txt, models/attribute-lexicon.txt, compiled in)
//! and their parsers: the word lists of the default spec's [`Lexicon`].

use super::spec::{Attributes, Lexicon};

/// The hand-written lexicon, `word polarity` lines (1 or -1); see the file's header.
pub const DEFAULT_LEXICON: &str = include_str!("../../models/sentiment-lexicon.txt");

/// Parses lexicon text (`word polarity` per line, `#` comments) into (positive, negative) lists.
pub fn parse_lexicon(text: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            [w, "1"] => pos.push(w.to_string()),
            [w, "-1"] => neg.push(w.to_string()),
            _ => {
                return Err(format!(
                    "lexicon line {}: expected `word 1` or `word -1`",
                    i + 1
                ))
            }
        }
    }
    Ok((pos, neg))
}

/// The hand-written attribute lexicon, `word role` lines; see the file's header.
pub const DEFAULT_ATTRIBUTES: &str = include_str!("../../models/attribute-lexicon.txt");

/// Tokens allowed between an attribute and its magnitude word in the default spec.
pub const DEFAULT_ATTRIBUTE_GAP: u8 = 3;

/// Parses attribute-lexicon text (`word role` per line, `#` comments; roles `better`, `worse`,
/// `more`, `less`, `prefix`, `filler`).
pub fn parse_attributes(text: &str, max_gap: u8) -> Result<Attributes, String> {
    let mut a = Attributes {
        max_gap,
        ..Attributes::default()
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let list = match line.split_whitespace().collect::<Vec<_>>()[..] {
            [w, role] => match role {
                "better" => Some((&mut a.more_is_better, w)),
                "worse" => Some((&mut a.more_is_worse, w)),
                "more" => Some((&mut a.more, w)),
                "less" => Some((&mut a.less, w)),
                "prefix" => Some((&mut a.prefixes, w)),
                "filler" => Some((&mut a.fillers, w)),
                _ => None,
            },
            _ => None,
        };
        let Some((list, w)) = list else {
            return Err(format!(
                "attribute lexicon line {}: expected `word better|worse|more|less|prefix|filler`",
                i + 1
            ));
        };
        list.push(w.to_string());
    }
    Ok(a)
}

/// The compiled-in lexicon with the given scale, and the compiled-in attribute pairs.
pub fn default_lexicon(scale: f32) -> Lexicon {
    let (positive, negative) = parse_lexicon(DEFAULT_LEXICON).expect("the bundled lexicon parses");
    let attributes = parse_attributes(DEFAULT_ATTRIBUTES, DEFAULT_ATTRIBUTE_GAP)
        .expect("the bundled attribute lexicon parses");
    Lexicon::Polarity {
        positive,
        negative,
        scale,
        negated_keys: false,
        attributes: Some(Box::new(attributes)),
        cues_yield: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_lexicon_parses_and_bad_lines_are_named() {
        let (pos, neg) = parse_lexicon(DEFAULT_LEXICON).unwrap();
        assert!(
            pos.len() > 150 && neg.len() > 150,
            "{} {}",
            pos.len(),
            neg.len()
        );
        assert!(pos.iter().any(|w| w == "满意") && neg.iter().any(|w| w == "失望"));
        let err = parse_lexicon("好 1\n差 bad\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn bundled_attribute_lexicon_parses_and_bad_lines_are_named() {
        let a = parse_attributes(DEFAULT_ATTRIBUTES, DEFAULT_ATTRIBUTE_GAP).unwrap();
        assert!(a.more_is_better.iter().any(|w| w == "续航"));
        assert!(a.more_is_worse.iter().any(|w| w == "价格"));
        assert!(a.more.iter().any(|w| w == "高") && a.less.iter().any(|w| w == "低"));
        let err = parse_attributes("价格 worse\n高 higher\n", 3).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
