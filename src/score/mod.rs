//! The scoring stage: a decoded event → its per-response values and aspect values.
//!
//! Plain functions over borrowed parts (model, segmenter, settings); the worker threads call them.

pub mod aspects;
pub mod config;
pub mod indices;
pub mod measures;

use crate::decode::{DecodeError, Feedback};
use crate::model::Model;
use crate::score::aspects::Lexicon;
use crate::score::indices::{response_values, IndexSettings, Label, ResponseValues};
use crate::text::segment::Segmenter;

/// Everything the windows and counters need about one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    pub values: ResponseValues,
    pub p_positive: Option<f64>,
    /// `(aspect index, 100 × mean P(positive) of the clauses naming it)`.
    pub aspects: Vec<(usize, f64)>,
    /// Label of each entry of `aspects`.
    pub aspect_labels: Vec<Label>,
    /// What the event adds to the measures' window slots.
    pub measures: Vec<measures::Contribution>,
}

/// What scoring reads, built once.
pub struct ScoreParts<'a> {
    pub model: &'a Model,
    pub segmenter: &'a Segmenter,
    pub settings: &'a IndexSettings,
    pub lexicon: &'a Lexicon,
}

/// Scores `fb` into `out` (reusing its buffers). The text is segmented and featurised once; each
/// aspect clause is scored from its own words of that segmentation.
///
/// Fails with [`DecodeError::BadFieldValue`] when a field a measure reads has a bad value; the
/// event must then not be applied (it is checked before the text is scored).
pub fn score(fb: &Feedback, parts: &ScoreParts<'_>, out: &mut Scored) -> Result<(), DecodeError> {
    let measured = parts.settings.measures.evaluate(fb, &mut out.measures)?;
    out.aspects.clear();
    out.aspect_labels.clear();
    // (aspect, sum of p, clauses); few aspects per text, so a linear scan beats a map.
    let mut acc: [(usize, f64, u32); 16] = [(usize::MAX, 0.0, 0); 16];
    let mut n = 0;
    out.p_positive = match fb.text.as_deref() {
        None => None,
        Some(text) if text.trim().is_empty() => Some(0.5),
        Some(text) => Some(parts.model.analyse(parts.segmenter, text, |a| {
            let mut scorer = a.scorer;
            // A clause naming two aspects is scored only once.
            let mut last: Option<(std::ops::Range<usize>, f64)> = None;
            parts
                .lexicon
                .for_each_mention(a.text, a.words, |aspect, clause| {
                    let p = match &last {
                        Some((span, p)) if *span == clause => *p,
                        _ => scorer.p_span(clause.clone()),
                    };
                    last = Some((clause, p));
                    if let Some(e) = acc[..n].iter_mut().find(|(a, _, _)| *a == aspect) {
                        e.1 += p;
                        e.2 += 1;
                    } else if n < acc.len() {
                        acc[n] = (aspect, p, 1);
                        n += 1;
                    }
                });
            scorer.p_text()
        })),
    };
    out.values = response_values(fb, out.p_positive, parts.settings);
    out.values.add_to_composite(measured);
    for &(aspect, sum, count) in &acc[..n] {
        let p = sum / count as f64;
        out.aspects.push((aspect, 100.0 * p));
        out.aspect_labels.push(parts.settings.thresholds.label(p));
    }
    Ok(())
}
