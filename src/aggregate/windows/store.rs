//! The bucket rings of one partition, and the merge of many partitions into a [`Snapshot`].

use std::collections::HashMap;
use std::sync::Arc;

use super::WindowSpec;
use crate::score::indices::{Index, NpsCategory, ResponseValues, N_INDICES};
use crate::score::measures::Contribution;

/// Dimension label values of a series, in the order of `dimensions.labels`.
pub type SeriesKey = Arc<[Box<str>]>;

/// Running sum and count of per-response values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Acc {
    pub sum: f64,
    pub count: u64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
    }
    fn add_parts(&mut self, sum: f64, count: u64) {
        self.sum += sum;
        self.count += count;
    }
    fn merge(&mut self, other: &Acc) {
        self.sum += other.sum;
        self.count += other.count;
    }
    /// The mean, or `None` for an empty accumulator.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Which accumulator slot holds what: the indices, then NPS promoters and detractors (counts, for
/// the NPS Wilson bounds), then one per aspect, then the measures' slots
/// (`score::measures::Measures::slots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub aspects: usize,
    pub measures: usize,
}

impl Layout {
    pub const PROMOTERS: usize = N_INDICES;
    pub const DETRACTORS: usize = N_INDICES + 1;

    pub fn len(&self) -> usize {
        N_INDICES + 2 + self.aspects + self.measures
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn aspect(&self, i: usize) -> usize {
        N_INDICES + 2 + i
    }
    /// Slot `i` of the measures' region.
    pub fn measure(&self, i: usize) -> usize {
        N_INDICES + 2 + self.aspects + i
    }
}

/// One window's ring of buckets for one series.
#[derive(Debug, Clone)]
struct Ring {
    /// Bucket epoch (event time / bucket width) held by each slot; `i64::MIN` when unused.
    epochs: Box<[i64]>,
    /// `buckets × layout.len()` accumulators, slot-major.
    accs: Box<[Acc]>,
}

/// What happened to an applied event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Added to every window that covers its event time.
    InWindow,
    /// Older than the longest window: counted, not added.
    Late,
}

/// All series of one partition.
#[derive(Debug)]
pub struct PartitionStore {
    /// Bucket width of each window, in config order.
    widths: Box<[i64]>,
    /// Bucket width of the longest window.
    longest_width: i64,
    buckets: usize,
    layout: Layout,
    series: HashMap<SeriesKey, Vec<Ring>>,
    newest_event_ms: i64,
}

impl PartitionStore {
    pub fn new(windows: Arc<[WindowSpec]>, buckets: usize, layout: Layout) -> PartitionStore {
        let widths: Box<[i64]> = windows
            .iter()
            .map(|w| w.length_ms / buckets as i64)
            .collect();
        let longest_width = widths.iter().copied().max().unwrap_or(1);
        PartitionStore {
            widths,
            longest_width,
            buckets,
            layout,
            series: HashMap::new(),
            newest_event_ms: i64::MIN,
        }
    }

    /// Newest event time applied to this store, if any.
    pub fn newest_event_ms(&self) -> Option<i64> {
        (self.newest_event_ms != i64::MIN).then_some(self.newest_event_ms)
    }

    /// Adds one response. `now_ms` is the wall clock; `aspects` are `(aspect slot, value)` pairs;
    /// `measures` what the event adds to the measures' slots.
    pub fn apply(
        &mut self,
        key: &SeriesKey,
        event_ms: i64,
        values: &ResponseValues,
        aspects: &[(usize, f64)],
        measures: &[Contribution],
        now_ms: i64,
    ) -> Applied {
        let end = now_ms.max(self.newest_event_ms).max(event_ms);
        let width = self.longest_width;
        let oldest_epoch = end.div_euclid(width) - self.buckets as i64 + 1;
        if event_ms.div_euclid(width) < oldest_epoch {
            return Applied::Late;
        }
        self.newest_event_ms = self.newest_event_ms.max(event_ms);

        let (buckets, layout) = (self.buckets, self.layout);
        let widths = &self.widths;
        let rings = match self.series.get_mut(key) {
            Some(r) => r,
            None => self.series.entry(key.clone()).or_insert_with(|| {
                (0..widths.len())
                    .map(|_| Ring {
                        epochs: vec![i64::MIN; buckets].into_boxed_slice(),
                        accs: vec![Acc::default(); buckets * layout.len()].into_boxed_slice(),
                    })
                    .collect()
            }),
        };
        for (ring, &width) in rings.iter_mut().zip(widths.iter()) {
            let epoch = event_ms.div_euclid(width);
            let slot = epoch.rem_euclid(buckets as i64) as usize;
            let accs = &mut ring.accs[slot * layout.len()..(slot + 1) * layout.len()];
            if ring.epochs[slot] < epoch {
                ring.epochs[slot] = epoch;
                accs.fill(Acc::default());
            } else if ring.epochs[slot] > epoch {
                // The slot already holds a bucket a full window newer: this event is outside this window.
                continue;
            }
            for index in Index::ALL {
                if let Some(v) = values.get(index) {
                    accs[index as usize].add(v);
                }
            }
            match values.nps_category {
                Some(NpsCategory::Promoter) => accs[Layout::PROMOTERS].add(1.0),
                Some(NpsCategory::Detractor) => accs[Layout::DETRACTORS].add(1.0),
                _ => {}
            }
            for &(aspect, v) in aspects {
                accs[layout.aspect(aspect)].add(v);
            }
            for c in measures {
                accs[layout.measure(c.slot)].add_parts(c.sum, c.count);
            }
        }
        Applied::InWindow
    }

    /// Adds this store's window totals at time `end_ms` into `into`, and forgets series whose
    /// buckets have all left every window.
    pub fn collect_into(&mut self, end_ms: i64, into: &mut Snapshot) {
        let (buckets, layout) = (self.buckets as i64, self.layout);
        let widths = &self.widths;
        self.series.retain(|key, rings| {
            let mut live = false;
            let mut totals = vec![vec![Acc::default(); layout.len()]; widths.len()];
            for ((ring, width), out) in rings.iter().zip(widths.iter()).zip(totals.iter_mut()) {
                let last = end_ms.div_euclid(*width);
                for (slot, &epoch) in ring.epochs.iter().enumerate() {
                    if epoch > last - buckets && epoch <= last {
                        live = true;
                        let accs = &ring.accs[slot * layout.len()..(slot + 1) * layout.len()];
                        for (o, a) in out.iter_mut().zip(accs) {
                            o.merge(a);
                        }
                    }
                }
            }
            if live {
                match into.series.get_mut(key) {
                    Some(entry) => {
                        for (e, t) in entry.iter_mut().zip(&totals) {
                            for (a, b) in e.iter_mut().zip(t) {
                                a.merge(b);
                            }
                        }
                    }
                    None => {
                        into.series.insert(key.clone(), totals);
                    }
                }
            }
            live
        });
    }

    /// Number of live series (for tests and the memory guard).
    pub fn series_count(&self) -> usize {
        self.series.len()
    }
}

/// Merged window totals: for each series, for each window (config order), the accumulators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub series: HashMap<SeriesKey, Vec<Vec<Acc>>>,
}

/// One series' totals in one window.
pub type WindowSnapshot<'a> = &'a [Acc];

/// Merges all stores at time `end_ms` (normally `max(wall clock, newest event time)`).
pub fn merge<'a>(
    stores: impl IntoIterator<Item = &'a mut PartitionStore>,
    end_ms: i64,
) -> Snapshot {
    let mut snap = Snapshot::default();
    for s in stores {
        s.collect_into(end_ms, &mut snap);
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Feedback, Kind, Scores};
    use crate::score::indices::{response_values, IndexSettings};

    const MIN: i64 = 60_000;

    fn specs() -> Arc<[WindowSpec]> {
        vec![
            WindowSpec {
                label: "5m".into(),
                length_ms: 5 * MIN,
            },
            WindowSpec {
                label: "1h".into(),
                length_ms: 60 * MIN,
            },
        ]
        .into()
    }

    fn key(v: &str) -> SeriesKey {
        vec![v.to_owned().into_boxed_str()].into()
    }

    fn nps(n: u8) -> ResponseValues {
        let fb = Feedback {
            id: "x".into(),
            event_time_ms: 0,
            kind: Kind::Survey,
            text: None,
            scores: Scores {
                nps: Some(n),
                ..Default::default()
            },
            dims: vec![],
            fields: vec![],
        };
        response_values(&fb, None, &IndexSettings::default())
    }

    fn nps_acc(snap: &Snapshot, k: &str, w: usize) -> Acc {
        snap.series
            .get(&key(k))
            .map(|s| s[w][Index::Nps as usize])
            .unwrap_or_default()
    }

    #[test]
    fn three_promoters_one_passive_one_detractor_is_nps_40() {
        let mut store = PartitionStore::new(
            specs(),
            60,
            Layout {
                aspects: 0,
                measures: 0,
            },
        );
        let t0 = 1_000 * 60 * MIN;
        for (i, n) in [9, 10, 9, 7, 3].into_iter().enumerate() {
            assert_eq!(
                store.apply(&key("app"), t0 + i as i64 * 1000, &nps(n), &[], &[], t0),
                Applied::InWindow
            );
        }
        let snap = merge([&mut store], t0 + 10_000);
        let acc = nps_acc(&snap, "app", 0);
        assert_eq!((acc.sum, acc.count), (200.0, 5));
        assert_eq!(acc.mean(), Some(40.0));
        assert_eq!(snap.series[&key("app")][0][Layout::PROMOTERS].count, 3);
        assert_eq!(snap.series[&key("app")][0][Layout::DETRACTORS].count, 1);
    }

    #[test]
    fn windows_slide_with_the_clock_and_quiet_series_disappear() {
        let mut store = PartitionStore::new(
            specs(),
            60,
            Layout {
                aspects: 0,
                measures: 0,
            },
        );
        let t0 = 1_000 * 60 * MIN;
        store.apply(&key("app"), t0, &nps(10), &[], &[], t0);
        // 4 min later: in both windows.
        let snap = merge([&mut store], t0 + 4 * MIN);
        assert_eq!(nps_acc(&snap, "app", 0).count, 1);
        // 6 min later: out of 5m, still in 1h.
        let snap = merge([&mut store], t0 + 6 * MIN);
        assert_eq!(nps_acc(&snap, "app", 0).count, 0);
        assert_eq!(nps_acc(&snap, "app", 1).count, 1);
        // 61 min later: gone entirely, and the series is forgotten.
        let snap = merge([&mut store], t0 + 61 * MIN);
        assert!(snap.series.is_empty());
        assert_eq!(store.series_count(), 0);
    }

    #[test]
    fn out_of_order_events_land_in_their_own_bucket_and_old_ones_are_late() {
        let mut store = PartitionStore::new(
            specs(),
            60,
            Layout {
                aspects: 0,
                measures: 0,
            },
        );
        let t0 = 1_000 * 60 * MIN;
        store.apply(&key("app"), t0, &nps(10), &[], &[], t0);
        // 10 minutes older than the newest event: outside 5m, inside 1h.
        assert_eq!(
            store.apply(&key("app"), t0 - 10 * MIN, &nps(0), &[], &[], t0),
            Applied::InWindow
        );
        let snap = merge([&mut store], t0);
        assert_eq!(nps_acc(&snap, "app", 0).count, 1);
        assert_eq!(nps_acc(&snap, "app", 1).count, 2);
        // Two hours older: late for every window.
        assert_eq!(
            store.apply(&key("app"), t0 - 120 * MIN, &nps(0), &[], &[], t0),
            Applied::Late
        );
        assert_eq!(nps_acc(&merge([&mut store], t0), "app", 1).count, 2);
    }

    #[test]
    fn partitions_merge_exactly() {
        let t0 = 1_000 * 60 * MIN;
        let mut a = PartitionStore::new(
            specs(),
            60,
            Layout {
                aspects: 0,
                measures: 0,
            },
        );
        let mut b = PartitionStore::new(
            specs(),
            60,
            Layout {
                aspects: 0,
                measures: 0,
            },
        );
        a.apply(&key("app"), t0, &nps(10), &[], &[], t0);
        b.apply(&key("app"), t0, &nps(0), &[], &[], t0);
        b.apply(&key("web"), t0, &nps(8), &[], &[], t0);
        let snap = merge([&mut a, &mut b], t0);
        assert_eq!(nps_acc(&snap, "app", 0), Acc { sum: 0.0, count: 2 });
        assert_eq!(nps_acc(&snap, "web", 0), Acc { sum: 0.0, count: 1 });
    }

    #[test]
    fn aspects_have_their_own_slots() {
        let mut store = PartitionStore::new(
            specs(),
            60,
            Layout {
                aspects: 2,
                measures: 0,
            },
        );
        let t0 = 1_000 * 60 * MIN;
        store.apply(&key("app"), t0, &nps(10), &[(1, 20.0)], &[], t0);
        store.apply(&key("app"), t0, &nps(10), &[(1, 40.0), (0, 90.0)], &[], t0);
        let snap = merge([&mut store], t0);
        let w = &snap.series[&key("app")][0];
        assert_eq!(
            w[Layout {
                aspects: 2,
                measures: 0
            }
            .aspect(1)],
            Acc {
                sum: 60.0,
                count: 2
            }
        );
        assert_eq!(
            w[Layout {
                aspects: 2,
                measures: 0
            }
            .aspect(0)],
            Acc {
                sum: 90.0,
                count: 1
            }
        );
    }

    #[test]
    fn measures_add_their_parts_in_their_own_slots_and_merge_exactly() {
        let layout = Layout {
            aspects: 1,
            measures: 3,
        };
        let t0 = 1_000 * 60 * MIN;
        let mut a = PartitionStore::new(specs(), 60, layout);
        let mut b = PartitionStore::new(specs(), 60, layout);
        let c = |slot, sum, count| Contribution { slot, sum, count };
        a.apply(
            &key("app"),
            t0,
            &nps(10),
            &[],
            &[c(0, 30.0, 1), c(2, 0.0, 1)],
            t0,
        );
        b.apply(
            &key("app"),
            t0,
            &nps(10),
            &[],
            &[c(0, 600.0, 1), c(1, 100.0, 0)],
            t0,
        );
        let snap = merge([&mut a, &mut b], t0);
        let w = &snap.series[&key("app")][0];
        assert_eq!(
            w[layout.measure(0)],
            Acc {
                sum: 630.0,
                count: 2
            }
        );
        assert_eq!(
            w[layout.measure(1)],
            Acc {
                sum: 100.0,
                count: 0
            }
        );
        assert_eq!(w[layout.measure(2)], Acc { sum: 0.0, count: 1 });
        assert_eq!(w[layout.aspect(0)], Acc::default());
    }
}
