//! `manyi backfill`: replays past feedback from Kafka into OpenMetrics text with timestamps, for
//! `promtool tsdb create-blocks-from openmetrics`, so a new index or model shows past weeks in
//! Grafana at once.
//!
//! The events go through the same decode → score → dimensions → windows code as `manyi run`, but
//! with explicit times instead of the wall clock: the events read are sorted by event time, and at
//! every step `T` from `--from` to `--until` the events up to `T` are applied and the index
//! families are collected as the exporter would have served them at `T`.
//!
//! Reading starts at `offsets_for_times(from − longest window)`, so the first samples already
//! hold a full window, and stops per partition at `offsets_for_times(until)` (Kafka message
//! time), or at the end offset seen at start.
//!
//! Only the index gauges are written (`manyi_index`, `_sum`, `_count`, Wilson bounds,
//! `_low_sample`): the raw counters and pipeline metrics describe a running process, not the
//! past. All samples stay in memory until the file is written, because OpenMetrics wants each
//! family in one piece and each series in time order: about 16 bytes per sample.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prometheus::proto::MetricType;
use rdkafka::message::{BorrowedMessage, Message};

use crate::aggregate::dimensions::DimensionGuard;
use crate::aggregate::state::{LiveState, PartitionId};
use crate::aggregate::windows::SeriesKey;
use crate::config::ValidConfig;
use crate::decode::{decode_keeping, DecodeLimits, Keep};
use crate::model::{Model, ModelError};
use crate::score::aspects::Lexicon;
use crate::score::indices::{IndexSettings, ResponseValues};
use crate::score::{score, ScoreParts, Scored};
use crate::serve::collector::IndexCollector;
use crate::text::segment::{SegmentError, Segmenter};

use super::history::{self, parse_time, BadTime, HistoryError, Progress};

/// Why a backfill could not run.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Time(#[from] BadTime),
    #[error("--step: {0}")]
    Step(String),
    #[error("--from must be before --until")]
    Range,
    #[error("cannot load model {path}: {source}")]
    Model { path: PathBuf, source: ModelError },
    #[error("cannot build the segmenter: {0}")]
    Segmenter(#[from] SegmentError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to replay and how densely to sample it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from_ms: i64,
    pub until_ms: i64,
    pub step_ms: i64,
}

impl Range {
    /// Parses the command-line values (`until` missing: now).
    pub fn parse(from: &str, until: Option<&str>, step: &str) -> Result<Range, BackfillError> {
        let from_ms = parse_time("--from", from)?;
        let until_ms = match until {
            Some(u) => parse_time("--until", u)?,
            None => crate::aggregate::state::now_ms(),
        };
        let step = humantime::parse_duration(step)
            .map_err(|e| BackfillError::Step(format!("{step:?}: {e}")))?;
        let step_ms = step.as_millis() as i64;
        if step_ms < 1000 {
            return Err(BackfillError::Step(format!(
                "{step:?} is shorter than one second"
            )));
        }
        if from_ms >= until_ms {
            return Err(BackfillError::Range);
        }
        Ok(Range {
            from_ms,
            until_ms,
            step_ms,
        })
    }

    /// The sample times: `from`, `from + step`, … up to and including `until`.
    pub fn steps(&self) -> impl Iterator<Item = i64> + '_ {
        (0..)
            .map(|i| self.from_ms + i * self.step_ms)
            .take_while(|t| *t <= self.until_ms)
    }
}

/// Counts for the final report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub messages: u64,
    pub invalid: u64,
    /// Events outside `[from − longest window, until]`.
    pub outside: u64,
    pub applied: u64,
    pub steps: u64,
    pub series: u64,
    pub samples: u64,
}

/// One scored event, waiting to be applied at its time.
struct Event {
    ms: i64,
    key: SeriesKey,
    values: ResponseValues,
    aspects: Vec<(usize, f64)>,
    measures: Vec<crate::score::measures::Contribution>,
}

/// Replays, samples and writes `out`. Progress goes to stderr (a bar on a terminal, and a closing
/// line per phase).
pub fn run(cfg: &ValidConfig, range: Range, out: &Path) -> Result<Summary, BackfillError> {
    let longest_ms = cfg
        .windows
        .specs
        .iter()
        .map(|w| w.length_ms)
        .max()
        .unwrap_or(0);
    let mut summary = Summary::default();
    let mut events = read_events(cfg, range, longest_ms, &mut summary)?;
    events.sort_by_key(|e| e.ms);
    summary.applied = events.len() as u64;

    let state = Arc::new(LiveState::new(
        cfg.windows.specs.clone().into(),
        cfg.windows.buckets,
        cfg.dimensions.labels.clone(),
        cfg.aspects.iter().map(|(a, _)| a.clone()).collect(),
        cfg.measures.clone(),
        1,
    ));
    let store = state.assign(PartitionId {
        topic: "backfill".into(),
        partition: 0,
    });
    let collector = IndexCollector::new(
        state.clone(),
        cfg.indices.min_responses,
        cfg.indices.confidence,
    );
    let mut samples = Samples::default();
    let total_steps = range.steps().count() as u64;
    let progress = Progress::new("sampling", total_steps, "step {pos}/{len}");
    let mut next = 0;
    for t in range.steps() {
        {
            let mut store = store.lock().expect("backfill store");
            while let Some(e) = events.get(next).filter(|e| e.ms <= t) {
                store.apply(&e.key, e.ms, &e.values, &e.aspects, &e.measures, t);
                next += 1;
            }
        }
        for family in collector.collect_at(t) {
            if family.get_field_type() == MetricType::GAUGE {
                samples.add(t, &family);
            }
        }
        summary.steps += 1;
        progress.bar.inc(1);
    }
    progress.done(&format!("{} steps", summary.steps));
    let (series, count) = samples.write(out).map_err(|source| BackfillError::Write {
        path: out.to_owned(),
        source,
    })?;
    summary.series = series;
    summary.samples = count;
    Ok(summary)
}

/// Reads, decodes and scores every message of the configured topics in the replay range.
fn read_events(
    cfg: &ValidConfig,
    range: Range,
    longest_ms: i64,
    summary: &mut Summary,
) -> Result<Vec<Event>, BackfillError> {
    let scorer = Scorer::new(cfg)?;
    let since = range.from_ms - longest_ms;
    let times = since..=range.until_ms;
    let mut events = Vec::new();
    let mut scored = Scored::default();
    history::read(cfg, "backfill", since, range.until_ms, |msg| {
        summary.messages += 1;
        events.extend(scorer.event(msg, &times, summary, &mut scored));
    })?;
    Ok(events)
}

/// What turns a message into an [`Event`], as `manyi run` would score it.
struct Scorer {
    model: Model,
    segmenter: Segmenter,
    settings: IndexSettings,
    lexicon: Lexicon,
    guard: DimensionGuard,
    limits: DecodeLimits,
}

impl Scorer {
    fn new(cfg: &ValidConfig) -> Result<Scorer, BackfillError> {
        let model = Model::open(&cfg.model.path).map_err(|source| BackfillError::Model {
            path: cfg.model.path.clone(),
            source,
        })?;
        Ok(Scorer {
            model,
            segmenter: Segmenter::new(cfg.segmenter.user_dict.as_deref())?,
            settings: cfg.index_settings(),
            lexicon: Lexicon::new(cfg.aspects.clone()),
            guard: DimensionGuard::new(&cfg.dimensions),
            limits: cfg.limits,
        })
    }

    /// The event of one message, if it decodes and its event time is within `times`; counts
    /// the invalid ones and those outside in `summary`.
    fn event(
        &self,
        msg: &BorrowedMessage<'_>,
        times: &RangeInclusive<i64>,
        summary: &mut Summary,
        scored: &mut Scored,
    ) -> Option<Event> {
        let payload = msg.payload().unwrap_or_default();
        let keep = Keep::Only(self.settings.measures.fields());
        let Ok(fb) = decode_keeping(payload, msg.timestamp().to_millis(), &self.limits, keep)
        else {
            summary.invalid += 1;
            return None;
        };
        if !times.contains(&fb.event_time_ms) {
            summary.outside += 1;
            return None;
        }
        let parts = ScoreParts {
            model: &self.model,
            segmenter: &self.segmenter,
            settings: &self.settings,
            lexicon: &self.lexicon,
        };
        if score(&fb, &parts, scored).is_err() {
            summary.invalid += 1;
            return None;
        }
        Some(Event {
            ms: fb.event_time_ms,
            key: self.guard.map(&fb).key,
            values: scored.values,
            aspects: scored.aspects.clone(),
            measures: scored.measures.clone(),
        })
    }
}

/// Series labels in OpenMetrics syntax → `(time ms, value)` samples in time order.
type Series = BTreeMap<String, Vec<(i64, f64)>>;

/// Samples per family and series, in time order (steps are visited in order).
#[derive(Default)]
struct Samples {
    /// Family name → (help, series).
    families: BTreeMap<String, (String, Series)>,
}

impl Samples {
    fn add(&mut self, t: i64, family: &prometheus::proto::MetricFamily) {
        let (_, series) = self
            .families
            .entry(family.name().to_owned())
            .or_insert_with(|| (family.help().to_owned(), BTreeMap::new()));
        for m in family.get_metric() {
            let labels: Vec<String> = m
                .get_label()
                .iter()
                .map(|l| format!("{}=\"{}\"", l.name(), escape(l.value())))
                .collect();
            series
                .entry(labels.join(","))
                .or_default()
                .push((t, m.get_gauge().get_value()));
        }
    }

    /// Writes OpenMetrics text; returns (series, samples).
    fn write(&self, path: &Path) -> std::io::Result<(u64, u64)> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        let (mut series_count, mut sample_count) = (0, 0);
        for (name, (help, series)) in &self.families {
            writeln!(w, "# HELP {name} {}", escape(help))?;
            writeln!(w, "# TYPE {name} gauge")?;
            for (labels, samples) in series {
                series_count += 1;
                for &(t, v) in samples {
                    sample_count += 1;
                    writeln!(
                        w,
                        "{name}{{{labels}}} {} {}.{:03}",
                        number(v),
                        t.div_euclid(1000),
                        t.rem_euclid(1000)
                    )?;
                }
            }
        }
        writeln!(w, "# EOF")?;
        w.flush()?;
        Ok((series_count, sample_count))
    }
}

/// OpenMetrics escaping of label values and help text.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_parses_rfc3339_and_names_the_bad_flag() {
        let r = Range::parse(
            "2026-11-23T10:00:00+08:00",
            Some("2026-11-23T02:05:00Z"),
            "1m",
        )
        .unwrap();
        assert_eq!(r.until_ms - r.from_ms, 5 * 60_000);
        assert_eq!(r.steps().count(), 6);
        let e = Range::parse("yesterday", None, "1m")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--from:"), "{e}");
        let e = Range::parse("2026-11-23T10:00:00Z", Some("2026-11-23T09:00:00Z"), "1m")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--from must be before --until"), "{e}");
        assert!(Range::parse("2026-11-23T10:00:00Z", None, "10ms").is_err());
    }

    #[test]
    fn samples_are_grouped_per_family_in_time_order() {
        let mut s = Samples::default();
        s.families.insert(
            "manyi_index".into(),
            (
                "help \"q\"".into(),
                BTreeMap::from([(
                    "index=\"csat\",channel=\"a\\\"b\"".to_owned(),
                    vec![(1_000, 25.0), (61_500, 81.25)],
                )]),
            ),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.om");
        assert_eq!(s.write(&path).unwrap(), (1, 2));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# HELP manyi_index help \\\"q\\\"\n# TYPE manyi_index gauge\n\
             manyi_index{index=\"csat\",channel=\"a\\\"b\"} 25 1.000\n\
             manyi_index{index=\"csat\",channel=\"a\\\"b\"} 81.25 61.500\n# EOF\n"
        );
    }
}
