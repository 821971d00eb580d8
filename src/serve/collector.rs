//! The index families, computed at scrape time from the merged windows of all owned partitions.
//!
//! Exported per series (dimension labels), window and index:
//! - `manyi_index` — the mean; absent when the window has no responses.
//! - `manyi_index_sum`, `manyi_index_count` — exported while the series knows the index (it has
//!   responses in the longest window), 0 when the shorter window is empty. Summing them across
//!   replicas gives the exact global index.
//! - `manyi_index_wilson_lower`, `manyi_index_wilson_upper` — Wilson bounds for share indices;
//!   for nps, the promoter-share bounds minus the detractor-share bounds (conservative).
//! - `manyi_index_low_sample` — 1 when the window has fewer than `indices.min_responses`.
//!
//! The same families carry the configured measures (`index` = the measure's name), and each
//! distribution measure is also a histogram per series and window, `manyi_measure_seconds`
//! (`_bucket{le}`, `_sum`, `_count`): the windowed counts themselves, so `histogram_quantile`
//! over `sum by (le)` of the buckets of all replicas is their exact merge (no `rate()` needed).
//!
//! And monotonic raw counters per series: responses by kind, NPS category, CSAT score, sentiment
//! label; aspect mentions by label.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use crate::aggregate::state::{now_ms, LiveState};
use crate::aggregate::windows::{Acc, Layout, SeriesKey};
use crate::decode::Kind;
use crate::score::indices::{wilson_bounds, Index, Label, NpsCategory};

/// The samples of one scrape, one vector per family.
#[derive(Default)]
struct Samples {
    index: Vec<Metric>,
    index_sum: Vec<Metric>,
    index_count: Vec<Metric>,
    wilson_lower: Vec<Metric>,
    wilson_upper: Vec<Metric>,
    low_sample: Vec<Metric>,
    measure_seconds: Vec<Metric>,
    responses: Vec<Metric>,
    nps_responses: Vec<Metric>,
    csat_responses: Vec<Metric>,
    sentiment_responses: Vec<Metric>,
    aspect_mentions: Vec<Metric>,
}

/// Name, help and type of a family.
type FamilyDef = (&'static str, &'static str, MetricType);

impl Samples {
    /// Each family with its samples, in exposition order: the one list of the families.
    fn by_family(self) -> [(FamilyDef, Vec<Metric>); 12] {
        use MetricType::{COUNTER, GAUGE, HISTOGRAM};
        let Samples {
            index,
            index_sum,
            index_count,
            wilson_lower,
            wilson_upper,
            low_sample,
            measure_seconds,
            responses,
            nps_responses,
            csat_responses,
            sentiment_responses,
            aspect_mentions,
        } = self;
        [
            (("manyi_index", "Satisfaction index: mean of per-response values in the window.", GAUGE), index),
            (("manyi_index_sum", "Sum of per-response values in the window (sum across replicas, then divide by manyi_index_count).", GAUGE), index_sum),
            (("manyi_index_count", "Responses in the window that count towards the index.", GAUGE), index_count),
            (("manyi_index_wilson_lower", "Wilson lower bound of a share index at indices.confidence, in percent.", GAUGE), wilson_lower),
            (("manyi_index_wilson_upper", "Wilson upper bound of a share index at indices.confidence, in percent.", GAUGE), wilson_upper),
            (("manyi_index_low_sample", "1 when the window has fewer responses than indices.min_responses.", GAUGE), low_sample),
            (("manyi_measure_seconds", "Distribution measures in the window (counts of the window, not since start; sum by le across replicas).", HISTOGRAM), measure_seconds),
            (("manyi_responses_total", "Applied responses by kind.", COUNTER), responses),
            (("manyi_nps_responses_total", "Applied NPS answers by category.", COUNTER), nps_responses),
            (("manyi_csat_responses_total", "Applied CSAT answers by score.", COUNTER), csat_responses),
            (("manyi_sentiment_responses_total", "Applied texts by sentiment label.", COUNTER), sentiment_responses),
            (("manyi_aspect_mentions_total", "Aspect mentions by sentiment label of the mentioning clauses.", COUNTER), aspect_mentions),
        ]
    }
}

/// Computes the index families from [`LiveState`] on every scrape.
pub struct IndexCollector {
    state: Arc<LiveState>,
    descs: Vec<Desc>,
    min_responses: u64,
    z: f64,
}

impl IndexCollector {
    pub fn new(state: Arc<LiveState>, min_responses: u64, confidence: f64) -> IndexCollector {
        let descs = Samples::default()
            .by_family()
            .into_iter()
            .map(|((name, help, _), _)| {
                Desc::new(name.to_string(), help.to_string(), vec![], HashMap::new())
                    .expect("valid metric name")
            })
            .collect();
        IndexCollector {
            state,
            descs,
            min_responses,
            z: crate::score::indices::z_for_confidence(confidence),
        }
    }

    /// The families at an explicit time (tests, backfill).
    pub fn collect_at(&self, now_ms: i64) -> Vec<MetricFamily> {
        let st = &self.state;
        let end = st.end_ms(now_ms);
        let snap = st.snapshot(end);
        let mut out = Samples::default();
        let longest = (0..st.windows.len())
            .max_by_key(|&w| st.windows[w].length_ms)
            .unwrap_or(0);

        let mut keys: Vec<_> = snap.series.keys().cloned().collect();
        keys.sort();
        for key in &keys {
            let windows = &snap.series[key];
            let dims = dimension_labels(&st.labels, key);
            let known = &windows[longest];
            for (w, accs) in windows.iter().enumerate() {
                let wl = st.windows[w].label.as_str();
                for index in Index::ALL {
                    let slot = index as usize;
                    if known[slot].count == 0 {
                        continue;
                    }
                    let mut labels = vec![("index", index.name()), ("window", wl)];
                    labels.extend(&dims);
                    self.push_index(&mut out, &labels, &accs[slot]);
                    let bounds = if index.is_share() {
                        wilson_bounds(accs[slot].sum / 100.0, accs[slot].count as f64, self.z)
                    } else if index == Index::Nps {
                        let n = accs[slot].count as f64;
                        let p = wilson_bounds(accs[Layout::PROMOTERS].count as f64, n, self.z);
                        let d = wilson_bounds(accs[Layout::DETRACTORS].count as f64, n, self.z);
                        p.zip(d).map(|((pl, pu), (dl, du))| (pl - du, pu - dl))
                    } else {
                        None
                    };
                    if let Some((lo, hi)) = bounds {
                        out.wilson_lower.push(gauge(&labels, lo));
                        out.wilson_upper.push(gauge(&labels, hi));
                    }
                }
                for (m, measure) in st.measures.list().iter().enumerate() {
                    let slot = st.layout.measure(m);
                    if known[slot].count == 0 {
                        continue;
                    }
                    let mut labels = vec![("index", measure.name.as_str()), ("window", wl)];
                    labels.extend(&dims);
                    let acc = &accs[slot];
                    self.push_index(&mut out, &labels, acc);
                    if measure.is_share() {
                        if let Some((lo, hi)) =
                            wilson_bounds(acc.sum / 100.0, acc.count as f64, self.z)
                        {
                            out.wilson_lower.push(gauge(&labels, lo));
                            out.wilson_upper.push(gauge(&labels, hi));
                        }
                    }
                    if let Some(bounds) = measure.buckets() {
                        let mut cumulative = 0;
                        let buckets = bounds
                            .iter()
                            .enumerate()
                            .map(|(b, &le)| {
                                cumulative +=
                                    accs[st.layout.measure(st.measures.bucket_slot(m, b))].count;
                                let mut bucket = Bucket::default();
                                bucket.set_upper_bound(le);
                                bucket.set_cumulative_count(cumulative);
                                bucket
                            })
                            .collect();
                        out.measure_seconds.push(histogram(&labels, acc, buckets));
                    }
                }
                for (a, name) in st.aspects.iter().enumerate() {
                    let slot = st.layout.aspect(a);
                    if known[slot].count == 0 {
                        continue;
                    }
                    let mut labels = vec![
                        ("index", "aspect_sentiment"),
                        ("aspect", name.as_str()),
                        ("window", wl),
                    ];
                    labels.extend(&dims);
                    self.push_index(&mut out, &labels, &accs[slot]);
                }
            }
        }

        let (counts, aspects) = st.counts();
        let mut keys: Vec<_> = counts.keys().cloned().collect();
        keys.sort();
        for key in &keys {
            let c = &counts[key];
            let dims = dimension_labels(&st.labels, key);
            let with = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
                let mut l = vec![(name, value)];
                l.extend(&dims);
                l
            };
            for (i, k) in Kind::ALL.iter().enumerate() {
                out.responses
                    .push(counter(&with("kind", k.as_str()), c.kind[i]));
            }
            for (i, cat) in NpsCategory::ALL.iter().enumerate() {
                out.nps_responses
                    .push(counter(&with("category", cat.as_str()), c.nps[i]));
            }
            for (i, score) in ["1", "2", "3", "4", "5"].iter().enumerate() {
                out.csat_responses
                    .push(counter(&with("score", score), c.csat[i]));
            }
            for (i, l) in Label::ALL.iter().enumerate() {
                out.sentiment_responses
                    .push(counter(&with("label", l.as_str()), c.label[i]));
            }
        }
        for (a, name) in st.aspects.iter().enumerate() {
            for (i, l) in Label::ALL.iter().enumerate() {
                out.aspect_mentions.push(counter(
                    &[("aspect", name.as_str()), ("label", l.as_str())],
                    aspects[a][i],
                ));
            }
        }

        out.by_family()
            .into_iter()
            .filter(|(_, metrics)| !metrics.is_empty())
            .map(|((name, help, kind), metrics)| {
                let mut mf = MetricFamily::default();
                mf.set_name(name.to_string());
                mf.set_help(help.to_string());
                mf.set_field_type(kind);
                mf.set_metric(metrics);
                mf
            })
            .collect()
    }

    /// The mean, sum, count and low-sample flag of one index in one window.
    fn push_index(&self, out: &mut Samples, labels: &[(&str, &str)], acc: &Acc) {
        if let Some(mean) = acc.mean() {
            out.index.push(gauge(labels, mean));
        }
        out.index_sum.push(gauge(labels, acc.sum));
        out.index_count.push(gauge(labels, acc.count as f64));
        out.low_sample.push(gauge(
            labels,
            if acc.count < self.min_responses {
                1.0
            } else {
                0.0
            },
        ));
    }
}

impl Collector for IndexCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.collect_at(now_ms())
    }
}

/// `(label name, value)` pairs of a series key.
fn dimension_labels<'a>(labels: &'a [String], key: &'a SeriesKey) -> Vec<(&'a str, &'a str)> {
    labels
        .iter()
        .map(String::as_str)
        .zip(key.iter().map(|v| &**v))
        .collect()
}

fn label_pairs(labels: &[(&str, &str)]) -> Vec<LabelPair> {
    labels
        .iter()
        .map(|(n, v)| {
            let mut p = LabelPair::default();
            p.set_name(n.to_string());
            p.set_value(v.to_string());
            p
        })
        .collect()
}

fn gauge(labels: &[(&str, &str)], v: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(v);
    let mut m = Metric::from_gauge(g);
    m.set_label(label_pairs(labels));
    m
}

/// A histogram sample; the encoder adds the `+Inf` bucket from the count.
fn histogram(labels: &[(&str, &str)], acc: &Acc, buckets: Vec<Bucket>) -> Metric {
    let mut h = Histogram::default();
    h.set_sample_sum(acc.sum);
    h.set_sample_count(acc.count);
    h.set_bucket(buckets);
    let mut m = Metric::default();
    m.set_histogram(h);
    m.set_label(label_pairs(labels));
    m
}

fn counter(labels: &[(&str, &str)], v: u64) -> Metric {
    let mut c = Counter::default();
    c.set_value(v as f64);
    let mut m = Metric::default();
    m.set_counter(c);
    m.set_label(label_pairs(labels));
    m
}
