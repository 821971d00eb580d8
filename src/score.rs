//! The scoring stage: a decoded event → its per-response values and aspect values.
//!
//! Plain functions over borrowed parts (model, segmenter, settings); the worker threads call them.

use crate::aspects::Lexicon;
use crate::decode::Feedback;
use crate::indices::{response_values, IndexSettings, Label, ResponseValues};
use crate::model::Model;
use crate::segment::Segmenter;

/// Everything the windows and counters need about one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    pub values: ResponseValues,
    pub p_positive: Option<f64>,
    /// `(aspect index, 100 × mean P(positive) of the clauses naming it)`.
    pub aspects: Vec<(usize, f64)>,
    /// Label of each entry of `aspects`.
    pub aspect_labels: Vec<Label>,
}

/// What scoring reads, built once.
pub struct ScoreParts<'a> {
    pub model: &'a Model,
    pub segmenter: &'a Segmenter,
    pub settings: &'a IndexSettings,
    pub lexicon: &'a Lexicon,
}

/// Scores `fb` into `out` (reusing its buffers).
pub fn score(fb: &Feedback, parts: &ScoreParts<'_>, out: &mut Scored) {
    out.aspects.clear();
    out.aspect_labels.clear();
    out.p_positive = fb
        .text
        .as_deref()
        .map(|t| parts.model.p_positive(parts.segmenter, t));
    out.values = response_values(fb, out.p_positive, parts.settings);
    let Some(text) = fb.text.as_deref() else {
        return;
    };
    // (aspect, sum of p, clauses); few aspects per text, so a linear scan beats a map.
    let mut acc: [(usize, f64, u32); 16] = [(usize::MAX, 0.0, 0); 16];
    let mut n = 0;
    // A clause naming two aspects, or a text that is a single clause, is scored only once.
    let whole = out.p_positive.unwrap_or(0.5);
    let mut last: Option<(*const u8, usize, f64)> = None;
    parts.lexicon.for_each_mention(text, |aspect, clause| {
        let p = match last {
            Some((ptr, len, p)) if ptr == clause.as_ptr() && len == clause.len() => p,
            _ if clause.len() == text.len() => whole,
            _ => parts.model.p_positive(parts.segmenter, clause),
        };
        last = Some((clause.as_ptr(), clause.len(), p));
        if let Some(e) = acc[..n].iter_mut().find(|(a, _, _)| *a == aspect) {
            e.1 += p;
            e.2 += 1;
        } else if n < acc.len() {
            acc[n] = (aspect, p, 1);
            n += 1;
        }
    });
    for &(aspect, sum, count) in &acc[..n] {
        let p = sum / count as f64;
        out.aspects.push((aspect, 100.0 * p));
        out.aspect_labels.push(parts.settings.thresholds.label(p));
    }
}
