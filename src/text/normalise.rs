//! Text normalisation before segmentation: full-width folded to half-width, ASCII lower-cased and,
//! when asked, Traditional converted to Simplified. Which of these a model's text gets is part of
//! its feature spec ([`crate::features::FeatureSpec::text`]).

use serde::{Deserialize, Serialize};

use super::simplify;

/// How a text is normalised before segmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextNorm {
    /// Full-width ASCII folded to half-width, ASCII lower-cased.
    FoldWidthLowercase,
    /// As `FoldWidthLowercase`, then a text holding Traditional characters converted to
    /// Simplified ([`crate::text::simplify`]), so 態度很好 counts as 态度很好.
    FoldWidthLowercaseSimplified,
    Raw,
}

/// Writes the normalised form of `text` into `out` (cleared first), per `norm`.
pub fn normalise_text(norm: TextNorm, text: &str, out: &mut String) {
    out.clear();
    match norm {
        TextNorm::Raw => out.push_str(text),
        TextNorm::FoldWidthLowercase | TextNorm::FoldWidthLowercaseSimplified => {
            // Runs of chars that stay as they are are copied as slices.
            let mut copied = 0;
            for (at, c) in text.char_indices() {
                let folded = match c {
                    '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                    '\u{3000}' => ' ',
                    _ => c,
                }
                .to_ascii_lowercase();
                if folded != c {
                    out.push_str(&text[copied..at]);
                    out.push(folded);
                    copied = at + c.len_utf8();
                }
            }
            out.push_str(&text[copied..]);
            if norm == TextNorm::FoldWidthLowercaseSimplified {
                simplify::simplify_in_place(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_normalisation_folds_width_and_case() {
        let mut s = String::new();
        normalise_text(TextNorm::FoldWidthLowercase, "ＯＫ！Good　好", &mut s);
        assert_eq!(s, "ok!good 好");
    }

    #[test]
    fn text_normalisation_simplifies_only_when_the_spec_asks() {
        let mut s = String::new();
        normalise_text(
            TextNorm::FoldWidthLowercaseSimplified,
            "ＯＫ！服務態度很好",
            &mut s,
        );
        assert_eq!(s, "ok!服务态度很好");
        normalise_text(TextNorm::FoldWidthLowercase, "服務態度很好", &mut s);
        assert_eq!(s, "服務態度很好");
    }

    proptest::proptest! {
        /// Copying unchanged runs gives what folding char by char gives.
        #[test]
        fn text_normalisation_matches_char_by_char_folding(text in "[a-zA-Z好，！　\u{FF01}-\u{FF5E}\\PC]{0,20}") {
            let mut s = String::new();
            normalise_text(TextNorm::FoldWidthLowercase, &text, &mut s);
            let by_char: String = text
                .chars()
                .map(|c| match c {
                    '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                    '\u{3000}' => ' ',
                    _ => c,
                })
                .map(|c| c.to_ascii_lowercase())
                .collect();
            proptest::prop_assert_eq!(s, by_char);
        }
    }
}
