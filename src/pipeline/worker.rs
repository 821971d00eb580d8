//! Worker threads: the CPU work of every message (decode, segment, score, window update).
//!
//! Each partition is served by exactly one worker (`partition hash % workers`), so a partition's
//! messages are applied in offset order and its offsets can be acknowledged in order. Workers
//! share nothing mutable but the window store of the partition at hand (uncontended except for a
//! scrape) and their own raw counters.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus::local::LocalHistogram;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::aggregate::dimensions::{DimensionGuard, KeyCache};
use crate::aggregate::state::{now_ms, PartitionId, SharedStore, Totals};
use crate::aggregate::windows::Applied;
use crate::decode::{decode_keeping, DecodeLimits, Keep};
use crate::ingest::Acknowledge;
use crate::model::Model;
use crate::score::aspects::Lexicon;
use crate::score::indices::IndexSettings;
use crate::score::{score, ScoreParts, Scored};
use crate::serve::Metrics;
use crate::text::segment::Segmenter;

/// Whether a message is new or re-read to rebuild window state after a restart or rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Apply, count, acknowledge.
    Live,
    /// Apply to the windows only: its counters and offset were already handled before.
    Replay,
}

/// One message handed to a worker.
pub struct Job {
    pub partition: PartitionId,
    pub offset: i64,
    pub payload: Vec<u8>,
    pub kafka_ts_ms: Option<i64>,
    pub store: SharedStore,
    pub received: Instant,
    pub mode: Mode,
}

/// What every worker reads, built once.
pub struct Shared {
    pub model: Arc<ArcSwap<Model>>,
    pub segmenter: Arc<Segmenter>,
    pub settings: IndexSettings,
    pub lexicon: Lexicon,
    pub guard: Arc<DimensionGuard>,
    pub limits: DecodeLimits,
    pub metrics: Metrics,
    pub ack: Arc<dyn Acknowledge>,
    /// Close-the-loop publisher, when `close_the_loop.topic` is set.
    pub follow_ups: Option<Arc<crate::ingest::follow_up::FollowUps>>,
}

/// Handles of the running workers.
///
/// Jobs go to a worker in batches: handing over one message at a time cost a cross-thread
/// wake-up per message (the sleeping side, worker or consumer loop, was woken each time). The
/// consumer loop calls [`Workers::flush`] whenever no message is waiting, so batching never
/// delays a message.
pub struct Workers {
    senders: Vec<mpsc::Sender<Vec<Job>>>,
    pending: Vec<Vec<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Jobs per batch at most.
const BATCH: usize = 64;
/// Batches queued per worker before the consumer loop waits (4,096 jobs): enough to hide
/// scheduling jitter, small enough that a shutdown drains in milliseconds.
const QUEUE: usize = 64;

impl Workers {
    /// Starts `n` workers; worker `i` counts into `totals[i]`.
    pub fn start(
        n: usize,
        shared: Arc<Shared>,
        totals: impl Fn(usize) -> Arc<Mutex<Totals>>,
    ) -> Workers {
        let mut senders = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            let (tx, rx) = mpsc::channel(QUEUE);
            let shared = shared.clone();
            let totals = totals(i);
            senders.push(tx);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("manyi-worker-{i}"))
                    .spawn(move || worker_loop(rx, &shared, &totals))
                    .expect("spawn worker thread"),
            );
        }
        let pending = (0..senders.len()).map(|_| Vec::new()).collect();
        Workers {
            senders,
            pending,
            threads,
        }
    }

    /// The worker that owns `partition`.
    fn route(&self, partition: &PartitionId) -> usize {
        let h = partition
            .topic
            .bytes()
            .fold(partition.partition as u64, |h, b| {
                h.wrapping_mul(31).wrapping_add(b as u64)
            });
        (h % self.senders.len() as u64) as usize
    }

    /// Queues a job for its worker; a full batch is handed over at once, waiting while the
    /// worker's queue is full.
    pub async fn submit(&mut self, job: Job) {
        let w = self.route(&job.partition);
        self.pending[w].push(job);
        if self.pending[w].len() >= BATCH {
            self.send(w).await;
        }
    }

    /// Whether jobs are queued that no worker has yet.
    pub fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| !p.is_empty())
    }

    /// Hands every queued job to its worker.
    pub async fn flush(&mut self) {
        for w in 0..self.pending.len() {
            if !self.pending[w].is_empty() {
                self.send(w).await;
            }
        }
    }

    async fn send(&mut self, w: usize) {
        let batch = std::mem::replace(&mut self.pending[w], Vec::with_capacity(BATCH));
        // A closed channel means the worker thread died, which only a panic can cause; the
        // messages are then not acknowledged and will be read again after restart.
        let _ = self.senders[w].send(batch).await;
    }

    /// Hands over what is queued, closes the queues and waits until every message has been
    /// processed. Blocking: call it off the async runtime.
    pub fn drain(mut self) {
        for (tx, batch) in self.senders.iter().zip(&mut self.pending) {
            if !batch.is_empty() {
                let _ = tx.blocking_send(std::mem::take(batch));
            }
        }
        drop(self.senders);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// A bad producer can send thousands of invalid messages a second: log one per second, count all.
static INVALID_LOG: LogLimiter = LogLimiter::new();

struct LogLimiter {
    last_second: std::sync::atomic::AtomicI64,
}

impl LogLimiter {
    const fn new() -> LogLimiter {
        LogLimiter {
            last_second: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    /// Returns true if and only if nothing was logged yet in the current second.
    fn allow(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = now_ms() / 1000;
        let last = self.last_second.load(Ordering::Relaxed);
        last != now
            && self
                .last_second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// What one worker thread keeps between messages: scoring buffers, its memo of series keys, and
/// its share of the per-message metrics, added to the shared ones after each batch (and when
/// dropped). Shared counters updated by both workers on every message cost a cache-line transfer
/// between cores each time.
pub struct WorkerState {
    scored: Scored,
    keys: KeyCache,
    applied: u64,
    late: u64,
    processing: LocalHistogram,
    metrics: Metrics,
}

impl WorkerState {
    pub fn new(metrics: &Metrics) -> WorkerState {
        WorkerState {
            scored: Scored::default(),
            keys: KeyCache::default(),
            applied: 0,
            late: 0,
            processing: metrics.processing_seconds.local(),
            metrics: metrics.clone(),
        }
    }

    /// Adds this worker's counts since the last flush to the shared metrics. The effects of the
    /// counted messages are all visible by then, so a scrape that sees a message counted also
    /// sees its windows, counters and acknowledgement.
    pub fn flush(&mut self) {
        self.processing.flush();
        self.metrics.messages_applied(
            std::mem::take(&mut self.applied),
            std::mem::take(&mut self.late),
        );
    }
}

impl Drop for WorkerState {
    fn drop(&mut self) {
        self.flush();
    }
}

fn worker_loop(mut rx: mpsc::Receiver<Vec<Job>>, shared: &Shared, totals: &Mutex<Totals>) {
    let mut state = WorkerState::new(&shared.metrics);
    while let Some(batch) = rx.blocking_recv() {
        for job in batch {
            process(job, shared, totals, &mut state);
        }
        state.flush();
    }
}

/// The whole per-message path after the consumer: decode → score → windows → acknowledge. A
/// message that fails to decode, or whose measure fields hold bad values, is dead-lettered.
pub fn process(job: Job, shared: &Shared, totals: &Mutex<Totals>, state: &mut WorkerState) {
    let scored = &mut state.scored;
    let live = job.mode == Mode::Live;
    let model = shared.model.load();
    let parts = ScoreParts {
        model: &model,
        segmenter: &shared.segmenter,
        settings: &shared.settings,
        lexicon: &shared.lexicon,
    };
    // Only the fields the measures read are kept from the message.
    let keep = Keep::Only(shared.settings.measures.fields());
    let decoded = decode_keeping(&job.payload, job.kafka_ts_ms, &shared.limits, keep)
        .and_then(|fb| score(&fb, &parts, scored).map(|()| fb));
    let fb = match decoded {
        Ok(fb) => fb,
        Err(reason) => {
            if live {
                if INVALID_LOG.allow() {
                    tracing::warn!(topic = %job.partition.topic, partition = job.partition.partition, offset = job.offset, reason = reason.code(), "invalid message (at most one logged per second; all are counted)");
                }
                // Routing may block (retrying while the dead-letter topic is unavailable): the
                // messages before this one are counted now, not when the batch ends.
                state.flush();
                // Counted once routed (dead letter acknowledged), after which the scrape also
                // sees the dead letter: a message not routed before shutdown is read and counted
                // again after restart, so it is counted only then.
                if shared
                    .ack
                    .dead_letter(&job.partition, job.offset, &job.payload, reason)
                {
                    shared.metrics.invalid(reason);
                    shared.ack.applied(&job.partition, job.offset);
                }
            }
            return;
        }
    };
    let mapped = state.keys.map(&shared.guard, &fb);
    let applied = job.store.lock().expect("partition store").apply(
        &mapped.key,
        fb.event_time_ms,
        &scored.values,
        &scored.aspects,
        &scored.measures,
        now_ms(),
    );
    if !live {
        return;
    }
    for &d in &mapped.dropped {
        shared
            .metrics
            .series_dropped
            .with_label_values(&[&shared.guard.labels()[d]])
            .inc();
    }
    {
        let mut t = totals.lock().expect("worker totals");
        t.count(
            &mapped.key,
            fb.kind,
            scored.values.nps_category,
            fb.scores.csat,
            scored.values.label,
        );
        for (&(aspect, _), &label) in scored.aspects.iter().zip(&scored.aspect_labels) {
            t.count_aspect(aspect, label);
        }
    }
    if let Some(f) = &shared.follow_ups {
        f.consider(&fb, scored, &job.partition, job.offset);
    }
    match applied {
        Applied::InWindow => state.applied += 1,
        Applied::Late => state.late += 1,
    }
    state
        .processing
        .observe(job.received.elapsed().as_secs_f64());
    shared.ack.applied(&job.partition, job.offset);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::dimensions::DimensionGuard;
    use crate::aggregate::state::LiveState;
    use crate::decode::DecodeError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts acknowledgements and dead letters.
    #[derive(Default)]
    struct Acks {
        applied: AtomicUsize,
        dead: AtomicUsize,
    }

    impl Acknowledge for Acks {
        fn applied(&self, _: &PartitionId, _: i64) {
            self.applied.fetch_add(1, Ordering::Relaxed);
        }
        fn dead_letter(&self, _: &PartitionId, _: i64, _: &[u8], _: DecodeError) -> bool {
            self.dead.fetch_add(1, Ordering::Relaxed);
            true
        }
    }

    /// The events of one process lifetime through `process` in `mode`, into a fresh state.
    fn run(payloads: &[Vec<u8>], mode: Mode) -> (LiveState, Arc<Acks>, Metrics) {
        let cfg = crate::config::Config::for_brokers("127.0.0.1:1", &["t"])
            .validate()
            .unwrap();
        let acks = Arc::new(Acks::default());
        let metrics = Metrics::new();
        let shared = Shared {
            model: Arc::new(ArcSwap::from_pointee(Model::open(&cfg.model.path).unwrap())),
            segmenter: Arc::new(Segmenter::new(None).unwrap()),
            settings: cfg.index_settings(),
            lexicon: Lexicon::new(cfg.aspects.clone()),
            guard: Arc::new(DimensionGuard::new(&cfg.dimensions)),
            limits: cfg.limits,
            metrics: metrics.clone(),
            ack: acks.clone(),
            follow_ups: None,
        };
        let state = LiveState::new(
            cfg.windows.specs.clone().into(),
            cfg.windows.buckets,
            cfg.dimensions.labels.clone(),
            cfg.aspects.iter().map(|(a, _)| a.clone()).collect(),
            cfg.measures.clone(),
            1,
        );
        let id = PartitionId {
            topic: "t".into(),
            partition: 0,
        };
        let store = state.assign(id.clone());
        let totals = state.totals(0);
        let mut ws = WorkerState::new(&metrics);
        for (offset, payload) in payloads.iter().enumerate() {
            let job = Job {
                partition: id.clone(),
                offset: offset as i64,
                payload: payload.clone(),
                kafka_ts_ms: None,
                store: store.clone(),
                received: Instant::now(),
                mode,
            };
            process(job, &shared, &totals, &mut ws);
        }
        ws.flush();
        (state, acks, metrics)
    }

    #[test]
    fn a_replay_after_restart_rebuilds_the_measures_without_counting_again() {
        let t = now_ms();
        let payloads: Vec<Vec<u8>> = [
            serde_json::json!({"id": "t1", "ts": t, "kind": "ticket", "ticket": {"first_response_s": 30, "resolution_s": 7200}, "dims": {"channel": "app"}}),
            serde_json::json!({"id": "t2", "ts": t - 1000, "kind": "ticket", "ticket": {"first_response_s": 5400}, "dims": {"channel": "app"}}),
            serde_json::json!({"id": "i1", "ts": t, "kind": "survey_invite", "dims": {"channel": "web"}}),
            serde_json::json!({"id": "s1", "ts": t, "kind": "survey", "scores": {"csat": 5}, "dims": {"channel": "web"}}),
            serde_json::json!({"id": "a1", "ts": t, "kind": "account", "account": {"status": "churned"}, "dims": {"channel": "web"}}),
            serde_json::json!({"id": "bad", "ts": t, "kind": "ticket", "ticket": {"first_response_s": "soon"}}),
        ]
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
        let (live, live_acks, live_metrics) = run(&payloads, Mode::Live);
        let (replayed, replay_acks, replay_metrics) = run(&payloads, Mode::Replay);

        let end = live.end_ms(t);
        let (a, b) = (live.snapshot(end), replayed.snapshot(end));
        assert_eq!(a, b, "the replay rebuilds exactly the live windows");
        let layout = live.layout;
        let frt = a
            .series
            .values()
            .map(|w| w[0][layout.measure(0)])
            .fold((0.0, 0), |(s, c), acc| (s + acc.sum, c + acc.count));
        assert_eq!(frt, (5430.0, 2), "first response: 30 + 5400 over 2 tickets");

        // Live: 5 applied and acknowledged, the bad one dead-lettered. Replay: nothing counted,
        // acknowledged or dead-lettered again.
        assert_eq!(live_acks.applied.load(Ordering::Relaxed), 6);
        assert_eq!(live_acks.dead.load(Ordering::Relaxed), 1);
        assert_eq!(live_metrics.consumed(), 6);
        assert_eq!(replay_acks.applied.load(Ordering::Relaxed), 0);
        assert_eq!(replay_acks.dead.load(Ordering::Relaxed), 0);
        assert_eq!(replay_metrics.consumed(), 0);
        assert!(replayed.counts().0.is_empty());
    }
}
