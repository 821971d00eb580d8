//! Traditional Chinese to Simplified, before segmentation.
//!
//! The training corpus, the lexicons and jieba's dictionary are Simplified, so a review written
//! in Traditional characters (態度很好, 沒有問題) would otherwise miss most of them. The conversion
//! is OpenCC's `t2s` (phrases first, then characters), through the pure-Rust `ferrous-opencc`.
//!
//! It runs only on texts holding at least one character that `t2s` changes on its own: a
//! Simplified text is left as it is, byte for byte, and costs one bit test per character.

use std::sync::OnceLock;

use ferrous_opencc::{config::BuiltinConfig, OpenCC};

/// The CJK blocks scanned for characters `t2s` changes: Extension A, the Unified Ideographs and
/// the Compatibility Ideographs. Characters outside them never trigger a conversion.
const BLOCKS: [(u32, u32); 3] = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)];

/// One bit per code point from `BLOCKS[0].0` to the end of the last block.
const SPAN: usize = (BLOCKS[2].1 - BLOCKS[0].0 + 1) as usize;

struct Simplifier {
    opencc: OpenCC,
    traditional: Vec<u64>,
}

fn simplifier() -> &'static Simplifier {
    static SIMPLIFIER: OnceLock<Simplifier> = OnceLock::new();
    SIMPLIFIER.get_or_init(|| {
        let opencc =
            OpenCC::from_config(BuiltinConfig::T2s).expect("the built-in t2s dictionaries load");
        let mut traditional = vec![0u64; SPAN.div_ceil(64)];
        let mut buf = [0u8; 4];
        for (first, last) in BLOCKS {
            for c in (first..=last).filter_map(char::from_u32) {
                let s = c.encode_utf8(&mut buf);
                if opencc.convert(s) != *s {
                    let bit = (c as u32 - BLOCKS[0].0) as usize;
                    traditional[bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        Simplifier {
            opencc,
            traditional,
        }
    })
}

/// Loads the dictionaries and builds the character table (a few milliseconds, once per process),
/// so the first review scored does not pay for it.
pub fn init() {
    simplifier();
}

/// Returns true if and only if OpenCC's `t2s` changes `c` on its own (們, 後, 裡; not 著, which
/// stays in 著名).
pub fn is_traditional(c: char) -> bool {
    simplifier().is_traditional(c)
}

/// Converts `text` in place to Simplified if it holds a Traditional character; returns true if
/// it did. Texts without one are not touched.
pub fn simplify_in_place(text: &mut String) -> bool {
    let simplifier = simplifier();
    if !text.chars().any(|c| simplifier.is_traditional(c)) {
        return false;
    }
    *text = simplifier.opencc.convert(text);
    true
}

impl Simplifier {
    fn is_traditional(&self, c: char) -> bool {
        let Some(bit) = (c as u32).checked_sub(BLOCKS[0].0) else {
            return false;
        };
        let bit = bit as usize;
        bit < SPAN && self.traditional[bit / 64] & (1 << (bit % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simplified(text: &str) -> String {
        let mut s = text.to_string();
        simplify_in_place(&mut s);
        s
    }

    #[test]
    fn traditional_reviews_become_simplified() {
        assert_eq!(
            simplified("這家店的服務態度很好，送餐很快"),
            "这家店的服务态度很好，送餐很快"
        );
        assert_eq!(simplified("沒有問題，不會再買了"), "没有问题，不会再买了");
        // Phrases before characters: 乾 is 干 in 乾燥 but stays in 乾隆.
        assert_eq!(simplified("乾燥的乾隆"), "干燥的乾隆");
    }

    #[test]
    fn simplified_text_is_left_alone() {
        for text in ["著名作家，显著", "头发干了", "没有问题", "OK 好评 👍", ""]
        {
            let mut s = text.to_string();
            assert!(!simplify_in_place(&mut s), "{text}");
            assert_eq!(s, text);
        }
    }

    #[test]
    fn the_gate_knows_traditional_characters_only() {
        for c in ['們', '後', '裡', '麼', '沒', '態'] {
            assert!(is_traditional(c), "{c}");
        }
        for c in ['们', '后', '里', '么', '著', 'a', '，', '😀', '\u{20000}'] {
            assert!(!is_traditional(c), "{c}");
        }
    }
}
