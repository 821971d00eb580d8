//! Word segmentation: one `jieba_rs::Jieba` with the default dictionary plus an optional user
//! dictionary, built once and shared (callers wrap it in an `Arc`). Segmentation itself is a pure
//! function of the text; the features stage decides what the words mean.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use jieba_rs::Jieba;

/// Whether jieba's HMM guesses words that are not in the dictionary. Enabled: names and new
/// product words come out whole instead of as single characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hmm {
    Enabled,
    Disabled,
}

/// A jieba segmenter with its dictionaries loaded.
pub struct Segmenter {
    jieba: Jieba,
    hmm: Hmm,
}

/// Errors building a [`Segmenter`]; each names the user dictionary file and, for bad entries, the line.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("cannot read user dictionary {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("user dictionary {path}, line {line}: {reason}")]
    Entry {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl Segmenter {
    /// Default dictionary, plus an optional user dictionary file in jieba format
    /// (`word [freq [tag]]` per line, `#` comments and blank lines allowed).
    pub fn new(user_dict: Option<&Path>) -> Result<Segmenter, SegmentError> {
        let mut jieba = Jieba::new();
        if let Some(path) = user_dict {
            for (word, freq, tag) in read_user_dict(path)? {
                jieba.add_word(&word, freq, tag.as_deref());
            }
        }
        Ok(Segmenter {
            jieba,
            hmm: Hmm::Enabled,
        })
    }

    /// Appends the words of `text` to `out` (cleared first). Whitespace-only tokens are dropped.
    pub fn cut<'a>(&self, text: &'a str, out: &mut Vec<&'a str>) {
        out.clear();
        // jieba allocates its token vector internally; only the caller's buffer is reused.
        for token in self.jieba.cut(text, self.hmm == Hmm::Enabled) {
            if !token.word.chars().all(char::is_whitespace) {
                out.push(token.word);
            }
        }
    }
}

type DictEntry = (String, Option<usize>, Option<String>);

/// Parses a jieba-format user dictionary, validating every line before any word is added, so a
/// bad file leaves no half-loaded segmenter behind.
fn read_user_dict(path: &Path) -> Result<Vec<DictEntry>, SegmentError> {
    let io_err = |source| SegmentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut entries = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err)?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let word = parts.next().unwrap_or_default().to_string();
        let freq = match parts.next() {
            None => None,
            Some(f) => Some(f.parse::<usize>().map_err(|_| SegmentError::Entry {
                path: path.to_path_buf(),
                line: i + 1,
                reason: format!("frequency `{f}` is not a non-negative integer"),
            })?),
        };
        let tag = parts.next().map(str::to_string);
        if parts.next().is_some() {
            return Err(SegmentError::Entry {
                path: path.to_path_buf(),
                line: i + 1,
                reason: "expected `word [freq [tag]]`".to_string(),
            });
        }
        entries.push((word, freq, tag));
    }
    Ok(entries)
}

/// `[segmenter]`: word segmentation settings. It has no other form once checked.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmenterConfig {
    /// Optional jieba user dictionary (one `word [freq] [tag]` per line) for brand and product names.
    #[serde(default)]
    pub user_dict: Option<PathBuf>,
}

impl SegmenterConfig {
    pub fn validate(self) -> Result<SegmenterConfig, crate::invalid::Invalid> {
        if let Some(p) = &self.user_dict {
            if !p.is_file() {
                return Err(crate::invalid::invalid(
                    "segmenter.user_dict",
                    format!("{} is not a readable file", p.display()),
                ));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cuts_words_and_drops_whitespace() {
        let seg = Segmenter::new(None).unwrap();
        let mut out = vec!["stale"];
        seg.cut("我很不高兴 真的", &mut out);
        assert!(!out.contains(&"stale"));
        assert!(out.iter().all(|w| !w.trim().is_empty()));
        assert_eq!(out.concat(), "我很不高兴真的");
    }

    #[test]
    fn user_dictionary_adds_words() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "# product names\n满意度指数 1000 n").unwrap();
        let seg = Segmenter::new(Some(f.path())).unwrap();
        let mut out = Vec::new();
        seg.cut("满意度指数上升", &mut out);
        assert_eq!(out[0], "满意度指数");
    }

    #[test]
    fn bad_user_dictionary_names_file_and_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "好评 10\n差评 many").unwrap();
        let err = Segmenter::new(Some(f.path())).err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains(&f.path().display().to_string()), "{msg}");
        let missing = Segmenter::new(Some(Path::new("/nonexistent/dict.txt")))
            .err()
            .unwrap();
        assert!(matches!(missing, SegmentError::Io { .. }));
    }
}
