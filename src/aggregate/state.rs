//! The live state shared by the workers (who write it) and the exporter (who reads it at scrape
//! time): the window stores of the owned partitions, and the per-worker raw counters.
//!
//! Each partition has its own store behind its own mutex; a partition is processed by exactly one
//! worker, so the only contention is a scrape reading while that worker writes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use crate::aggregate::windows::WindowSpec;
use crate::aggregate::windows::{Layout, PartitionStore, SeriesKey, Snapshot};
use crate::decode::Kind;
use crate::score::indices::{Label, NpsCategory};
use crate::score::measures::Measures;

/// A Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    pub topic: Arc<str>,
    pub partition: i32,
}

pub type SharedStore = Arc<Mutex<PartitionStore>>;

/// Monotonic counters per series, for Prometheus-native windows with `increase()`. They survive
/// rebalances (unlike window state) and are never incremented by a replay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesCounts {
    /// By `Kind::ALL` order.
    pub kind: [u64; Kind::ALL.len()],
    pub nps: [u64; 3],
    /// CSAT 1..=5 at index 0..=4.
    pub csat: [u64; 5],
    pub label: [u64; 3],
}

/// Raw counters of one worker.
#[derive(Debug, Default)]
pub struct Totals {
    pub series: HashMap<SeriesKey, SeriesCounts>,
    /// `[aspect][label]` mention counts.
    pub aspects: Vec<[u64; 3]>,
}

impl Totals {
    pub fn count(
        &mut self,
        key: &SeriesKey,
        kind: Kind,
        nps: Option<NpsCategory>,
        csat: Option<u8>,
        label: Option<Label>,
    ) {
        let c = match self.series.get_mut(key) {
            Some(c) => c,
            None => self.series.entry(key.clone()).or_default(),
        };
        c.kind[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)] += 1;
        if let Some(n) = nps {
            c.nps[n as usize] += 1;
        }
        if let Some(s) = csat {
            c.csat[usize::from(s.clamp(1, 5)) - 1] += 1;
        }
        if let Some(l) = label {
            c.label[l as usize] += 1;
        }
    }

    pub fn count_aspect(&mut self, aspect: usize, label: Label) {
        if self.aspects.len() <= aspect {
            self.aspects.resize(aspect + 1, [0; 3]);
        }
        self.aspects[aspect][label as usize] += 1;
    }
}

/// Everything the exporter reads.
#[derive(Debug)]
pub struct LiveState {
    pub windows: Arc<[WindowSpec]>,
    pub buckets: usize,
    pub layout: Layout,
    pub labels: Vec<String>,
    pub aspects: Vec<String>,
    pub measures: Arc<Measures>,
    stores: RwLock<BTreeMap<PartitionId, SharedStore>>,
    totals: Vec<Arc<Mutex<Totals>>>,
}

impl LiveState {
    pub fn new(
        windows: Arc<[WindowSpec]>,
        buckets: usize,
        labels: Vec<String>,
        aspects: Vec<String>,
        measures: Arc<Measures>,
        workers: usize,
    ) -> LiveState {
        LiveState {
            layout: Layout {
                aspects: aspects.len(),
                measures: measures.slots(),
            },
            windows,
            buckets,
            labels,
            aspects,
            measures,
            stores: RwLock::new(BTreeMap::new()),
            totals: (0..workers).map(|_| Arc::default()).collect(),
        }
    }

    /// A fresh, empty store for a newly assigned partition, registered for export.
    pub fn assign(&self, id: PartitionId) -> SharedStore {
        let store = Arc::new(Mutex::new(PartitionStore::new(
            self.windows.clone(),
            self.buckets,
            self.layout,
        )));
        self.stores
            .write()
            .expect("store registry")
            .insert(id, store.clone());
        store
    }

    /// Drops a revoked partition's window state from export.
    pub fn revoke(&self, id: &PartitionId) {
        self.stores.write().expect("store registry").remove(id);
    }

    pub fn owned(&self) -> Vec<PartitionId> {
        self.stores
            .read()
            .expect("store registry")
            .keys()
            .cloned()
            .collect()
    }

    pub fn totals(&self, worker: usize) -> Arc<Mutex<Totals>> {
        self.totals[worker % self.totals.len()].clone()
    }

    /// Window end: the wall clock, or the newest event if producers' clocks run ahead.
    pub fn end_ms(&self, now_ms: i64) -> i64 {
        let stores = self.stores.read().expect("store registry");
        stores
            .values()
            .filter_map(|s| s.lock().expect("store").newest_event_ms())
            .fold(now_ms, i64::max)
    }

    /// Newest event time over all owned partitions.
    pub fn newest_event_ms(&self) -> Option<i64> {
        let stores = self.stores.read().expect("store registry");
        stores
            .values()
            .filter_map(|s| s.lock().expect("store").newest_event_ms())
            .max()
    }

    /// Merged windows of all owned partitions at `end_ms`.
    pub fn snapshot(&self, end_ms: i64) -> Snapshot {
        let stores: Vec<SharedStore> = self
            .stores
            .read()
            .expect("store registry")
            .values()
            .cloned()
            .collect();
        let mut snap = Snapshot::default();
        for s in stores {
            s.lock().expect("store").collect_into(end_ms, &mut snap);
        }
        snap
    }

    /// Raw counters summed over workers.
    pub fn counts(&self) -> (HashMap<SeriesKey, SeriesCounts>, Vec<[u64; 3]>) {
        let mut series: HashMap<SeriesKey, SeriesCounts> = HashMap::new();
        let mut aspects = vec![[0u64; 3]; self.aspects.len()];
        for t in &self.totals {
            let t = t.lock().expect("totals");
            for (k, c) in &t.series {
                let e = series.entry(k.clone()).or_default();
                add(&mut e.kind, &c.kind);
                add(&mut e.nps, &c.nps);
                add(&mut e.csat, &c.csat);
                add(&mut e.label, &c.label);
            }
            for (a, c) in t.aspects.iter().enumerate() {
                if let Some(e) = aspects.get_mut(a) {
                    add(e, c);
                }
            }
        }
        (series, aspects)
    }
}

fn add<const N: usize>(into: &mut [u64; N], from: &[u64; N]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// Wall clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
