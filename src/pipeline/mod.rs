//! The one async loop: `select! { shutdown, message, reload, tick }`.
//!
//! The loop only moves messages: it reads from Kafka, handles rebalance signals, and hands each
//! message to the worker that owns its partition. Workers do the CPU work and acknowledge
//! offsets. On shutdown the loop stops fetching, drains the workers (so every message read is
//! applied or routed), commits, and returns.

pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use rdkafka::consumer::Consumer;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::Offset;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::aggregate::dimensions::DimensionGuard;
use crate::aggregate::state::{now_ms, LiveState, PartitionId, SharedStore};
use crate::config::ValidConfig;
use crate::ingest::follow_up::FollowUps;
use crate::ingest::{self, Acknowledge, DeadLetters, KafkaAck, RebalanceSignal, Source};
use crate::model::{Model, ModelError};
use crate::pipeline::worker::{Job, Mode, Shared, Workers};
use crate::score::aspects::Lexicon;
use crate::serve::collector::IndexCollector;
use crate::serve::Metrics;
use crate::text::segment::{SegmentError, Segmenter};

/// Why the service could not be built or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot load model {path}: {source}")]
    Model { path: PathBuf, source: ModelError },
    #[error("cannot build the segmenter: {0}")]
    Segmenter(#[from] SegmentError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("http server: {0}")]
    Http(std::io::Error),
}

/// A built service: every fallible step (model, consumer, producers, listener) has succeeded.
pub struct Pipeline {
    cfg: ValidConfig,
    metrics: Metrics,
    state: Arc<LiveState>,
    model: Arc<ArcSwap<Model>>,
    model_mtime: Option<SystemTime>,
    consumer: Arc<Source>,
    /// What every worker reads, including where it acknowledges.
    shared: Arc<Shared>,
    follow_ups: Option<Arc<FollowUps>>,
    /// Set once shutdown begins: dead-letter writes stop retrying.
    stopping: Arc<AtomicBool>,
    listener: TcpListener,
    reload: Arc<Notify>,
}

impl Pipeline {
    /// Loads the model, builds the consumer and the producers, and binds the HTTP listener.
    /// Nothing runs yet, so a failure here leaves no task behind.
    pub async fn build(cfg: ValidConfig) -> Result<Pipeline, PipelineError> {
        let metrics = Metrics::new();
        let model = Model::open(&cfg.model.path).map_err(|source| PipelineError::Model {
            path: cfg.model.path.clone(),
            source,
        })?;
        metrics.set_model_version(model.version());
        let model_mtime = std::fs::metadata(&cfg.model.path)
            .and_then(|m| m.modified())
            .ok();
        let model = Arc::new(ArcSwap::from_pointee(model));
        let segmenter = Arc::new(Segmenter::new(cfg.segmenter.user_dict.as_deref())?);
        let aspect_names: Vec<String> = cfg.aspects.iter().map(|(a, _)| a.clone()).collect();
        let state = Arc::new(LiveState::new(
            cfg.windows.specs.clone().into(),
            cfg.windows.buckets,
            cfg.dimensions.labels.clone(),
            aspect_names.clone(),
            cfg.measures.clone(),
            cfg.workers,
        ));
        metrics
            .registry
            .register(Box::new(IndexCollector::new(
                state.clone(),
                cfg.indices.min_responses,
                cfg.indices.confidence,
            )))
            .expect("index collector registers once");

        let consumer = ingest::consumer(&cfg.kafka, metrics.clone())?;
        let dead_letters = match &cfg.kafka.dead_letter_topic {
            Some(topic) => Some(DeadLetters::new(
                ingest::producer_config(&cfg.kafka),
                topic.clone(),
                metrics.clone(),
            )?),
            None => None,
        };
        let stopping = Arc::new(AtomicBool::new(false));
        let source_ack: Arc<dyn Acknowledge> = Arc::new(KafkaAck::new(
            consumer.clone(),
            dead_letters,
            stopping.clone(),
        ));
        // With close-the-loop on, follow-ups wrap the acknowledgement: an offset waits for its
        // follow-up's delivery.
        let follow_ups = match &cfg.close_the_loop.topic {
            Some(_) => Some(FollowUps::new(
                ingest::producer_config(&cfg.kafka),
                cfg.close_the_loop.clone(),
                aspect_names,
                source_ack.clone(),
                metrics.clone(),
            )?),
            None => None,
        };
        let shared = Arc::new(Shared {
            model: model.clone(),
            segmenter,
            settings: cfg.index_settings(),
            lexicon: Lexicon::new(cfg.aspects.clone()),
            guard: Arc::new(DimensionGuard::new(&cfg.dimensions)),
            limits: cfg.limits,
            metrics: metrics.clone(),
            ack: match &follow_ups {
                Some(f) => f.clone(),
                None => source_ack,
            },
            follow_ups: follow_ups.clone(),
        });

        let listener =
            TcpListener::bind(cfg.http.listen)
                .await
                .map_err(|source| PipelineError::Listen {
                    addr: cfg.http.listen,
                    source,
                })?;
        Ok(Pipeline {
            cfg,
            metrics,
            state,
            model,
            model_mtime,
            consumer,
            shared,
            follow_ups,
            stopping,
            listener,
            reload: Arc::new(Notify::new()),
        })
    }

    /// The bound metrics address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn state(&self) -> Arc<LiveState> {
        self.state.clone()
    }

    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Notify to reload the model now (wired to SIGHUP by the binary).
    pub fn reload_handle(&self) -> Arc<Notify> {
        self.reload.clone()
    }

    /// The Kafka consumer, e.g. for `manyi bench` to pause fetching while it produces.
    pub fn consumer(&self) -> Arc<Source> {
        self.consumer.clone()
    }

    /// Runs until `shutdown` completes, then drains, commits and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), PipelineError> {
        let Pipeline {
            cfg,
            metrics,
            state,
            model,
            mut model_mtime,
            consumer,
            shared,
            follow_ups,
            stopping,
            listener,
            reload,
        } = self;
        let http_stop = Arc::new(Notify::new());
        let http = {
            let stop = http_stop.clone();
            tokio::spawn(crate::serve::http::serve_with(
                listener,
                metrics.clone(),
                cfg.http.web.clone(),
                async move { stop.notified().await },
            ))
        };
        let mut workers = Workers::start(cfg.workers, shared, |i| state.totals(i));
        // Window state is rebuilt this far back on assignment (the longest window unless bounded).
        let replay_ms = cfg.windows.replay_ms;
        let mut owned: HashMap<PartitionId, Owned> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_reload_check = Instant::now();
        tokio::pin!(shutdown);
        tracing::info!(topics = ?cfg.kafka.topics, group = %cfg.kafka.group_id, workers = cfg.workers, "pipeline running");

        loop {
            // Jobs are handed to the workers in batches; once no message is waiting, the batch
            // goes at once. A waiting message is taken without the select below, which runs at
            // least once per batch, so shutdown and the tick are never starved.
            let ready = if workers.has_pending() {
                let ready = poll_once(consumer.recv());
                if ready.is_none() {
                    workers.flush().await;
                }
                ready
            } else {
                None
            };
            let msg = match ready {
                Some(msg) => msg,
                None => tokio::select! {
                    biased;
                    _ = &mut shutdown => break,
                    _ = reload.notified() => {
                        reload_model(&cfg, &model, &metrics, &mut model_mtime, ReloadWhen::Always).await;
                        continue;
                    }
                    msg = consumer.recv() => msg,
                    _ = tick.tick() => {
                        handle_signals(&consumer, &state, &metrics, &mut owned, replay_ms, Retry::Pending).await;
                        housekeeping(&state, &metrics);
                        if let Some(f) = &follow_ups {
                            f.retry();
                        }
                        if last_reload_check.elapsed() >= cfg.model.reload_interval {
                            last_reload_check = Instant::now();
                            reload_model(&cfg, &model, &metrics, &mut model_mtime, ReloadWhen::Changed).await;
                        }
                        continue;
                    }
                },
            };
            let sought = handle_signals(
                &consumer,
                &state,
                &metrics,
                &mut owned,
                replay_ms,
                Retry::No,
            )
            .await;
            let m = match msg {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "kafka receive error");
                    continue;
                }
            };
            metrics.ready.set(1);
            if let Some(job) = job_for(&m, &consumer, &state, &mut owned, &sought) {
                drop(m);
                workers.submit(job).await;
            }
        }

        stopping.store(true, Ordering::Release);
        drain(workers, follow_ups, &consumer, cfg.shutdown_timeout).await;
        metrics.ready.set(0);
        http_stop.notify_one();
        match http.await {
            Ok(r) => r.map_err(PipelineError::Http),
            Err(_) => Ok(()),
        }
    }
}

/// The end of a run, within `timeout` for each wait: every message read is applied or routed,
/// follow-ups are delivered, and the offsets are committed; what did not make it in time is
/// read again by the next owner.
async fn drain(
    workers: Workers,
    follow_ups: Option<Arc<FollowUps>>,
    consumer: &Arc<Source>,
    timeout: Duration,
) {
    tracing::info!("shutting down: draining workers");
    let drained = tokio::task::spawn_blocking(move || workers.drain());
    if tokio::time::timeout(timeout, drained).await.is_err() {
        tracing::warn!("workers did not drain within pipeline.shutdown_timeout; unapplied messages will be read again");
    }
    if let Some(f) = follow_ups {
        let _ = tokio::task::spawn_blocking(move || f.flush(timeout)).await;
    }
    let c = consumer.clone();
    let _ = tokio::task::spawn_blocking(move || ingest::commit_now(&c)).await;
    consumer.unsubscribe();
}

/// The worker job for a received message, or None when it must not be applied now: its
/// partition was just sought by a window rebuild (the seek delivers it again), is not ours, or
/// the message was already applied or is held back until the rebuild. One scan of the owned
/// partitions per message.
fn job_for(
    m: &BorrowedMessage<'_>,
    consumer: &Source,
    state: &LiveState,
    owned: &mut HashMap<PartitionId, Owned>,
    sought: &[PartitionId],
) -> Option<Job> {
    let (topic, partition, offset) = (m.topic(), m.partition(), m.offset());
    let is_this = |p: &PartitionId| p.partition == partition && &*p.topic == topic;
    if sought.iter().any(is_this) {
        // Fetched before the rebuild's seek, which delivers it again. (Rebalance callbacks run
        // inside `recv`, so a message is never older than a revoke.)
        return None;
    }
    let (id, own) = match owned.iter_mut().find(|(p, _)| is_this(p)) {
        Some((id, own)) => (id.clone(), own),
        None => {
            // The assignment signal has not been handled yet. Own the partition now only if it
            // is really assigned (not a stale message of a revoked one); its window rebuild
            // follows with the signal or the next tick.
            let id = PartitionId {
                topic: topic.into(),
                partition,
            };
            if !is_assigned(consumer, &id) {
                return None;
            }
            let own = owned
                .entry(id.clone())
                .or_insert_with(|| Owned::new(state.assign(id.clone())));
            (id, own)
        }
    };
    // None: already applied since this assignment (a seek re-delivered it), or held back.
    let mode = own.admit(offset)?;
    Some(Job {
        partition: id,
        offset,
        payload: m.payload().unwrap_or_default().to_vec(),
        kafka_ts_ms: m.timestamp().to_millis(),
        store: own.store.clone(),
        received: Instant::now(),
        mode,
    })
}

/// Polls `f` once: its output if it is ready now, else None (`f` is dropped; `recv` is
/// cancel-safe).
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// Per-partition bookkeeping of the loop.
///
/// After an assignment, messages are held back (not applied, not acknowledged) until the window
/// rebuild has sought the partition: to the start of the longest window when there is something
/// to replay, else to the first held-back offset. The seek's version barrier in librdkafka drops
/// what was fetched before it, so from then on the partition is read once, in order:
/// `[start, committed)` is replayed into the windows only and `[committed, ..)` is live. Live
/// messages must not run ahead of the rebuild: librdkafka's own fetch position may be past the
/// committed offset the rebuild looked up (a commit in flight during the rebalance), and the gap
/// would be lost.
struct Owned {
    store: SharedStore,
    /// Whether the window state has been rebuilt (or needs no rebuild).
    rebuilt: bool,
    /// The lowest offset held back while waiting for the rebuild.
    held_from: Option<i64>,
    /// Offsets below this are replayed into the windows only (already counted and committed).
    replay_until: Option<i64>,
    /// Next replay offset expected; lower ones are duplicates.
    replay_next: Option<i64>,
    /// Next live offset expected; lower ones are duplicates.
    live_next: Option<i64>,
}

impl Owned {
    fn new(store: SharedStore) -> Owned {
        Owned {
            store,
            rebuilt: false,
            held_from: None,
            replay_until: None,
            replay_next: None,
            live_next: None,
        }
    }

    /// How to process the message at `offset`, or None if it was already applied or is held
    /// back until the rebuild.
    fn admit(&mut self, offset: i64) -> Option<Mode> {
        if !self.rebuilt {
            self.held_from = Some(self.held_from.map_or(offset, |h| h.min(offset)));
            return None;
        }
        let (mode, next) = match self.replay_until {
            Some(until) if offset < until => (Mode::Replay, &mut self.replay_next),
            _ => (Mode::Live, &mut self.live_next),
        };
        if next.is_some_and(|n| offset < n) {
            return None;
        }
        *next = Some(offset + 1);
        Some(mode)
    }
}

fn is_assigned(consumer: &Source, p: &PartitionId) -> bool {
    consumer
        .assignment()
        .is_ok_and(|a| a.find_partition(&p.topic, p.partition).is_some())
}

/// Revoked partitions lose their window state (the next owner rebuilds it); assigned ones get a
/// fresh store, rebuilt by replaying the events of the longest window up to the committed offset.
/// Returns the partitions sought for a rebuild: a message fetched before is delivered again.
async fn handle_signals(
    consumer: &Arc<Source>,
    state: &LiveState,
    metrics: &Metrics,
    owned: &mut HashMap<PartitionId, Owned>,
    replay_ms: i64,
    retry: Retry,
) -> Vec<PartitionId> {
    let mut assigned = false;
    for signal in consumer.context().take_signals() {
        match signal {
            RebalanceSignal::Revoked(parts) => {
                for p in parts {
                    owned.remove(&p);
                    state.revoke(&p);
                    let _ = metrics
                        .consumer_lag
                        .remove_label_values(&[&*p.topic, &p.partition.to_string()]);
                }
                tracing::info!(owned = owned.len(), "partitions revoked");
            }
            RebalanceSignal::Assigned(parts) => {
                for p in parts {
                    if !owned.contains_key(&p) {
                        owned.insert(p.clone(), Owned::new(state.assign(p)));
                    }
                }
                assigned = true;
                metrics.ready.set(1);
                tracing::info!(owned = owned.len(), "partitions assigned");
            }
        }
    }
    if assigned || retry == Retry::Pending {
        return rebuild_windows(consumer, owned, replay_ms).await;
    }
    Vec::new()
}

/// Whether to retry window rebuilds that failed earlier (once per tick, not per message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    No,
    Pending,
}

/// Seeks newly assigned partitions back to the start of the longest window so their window state
/// is rebuilt exactly; messages before the committed offset are replayed without counting. With
/// nothing to replay, a partition is sought to its first held-back message, if any. A partition
/// whose lookup or seek fails keeps holding back and is retried on the next tick. Returns the
/// partitions sought.
async fn rebuild_windows(
    consumer: &Arc<Source>,
    owned: &mut HashMap<PartitionId, Owned>,
    replay_ms: i64,
) -> Vec<PartitionId> {
    let pending: Vec<PartitionId> = owned
        .iter()
        .filter(|(_, o)| !o.rebuilt)
        .map(|(p, _)| p.clone())
        .collect();
    if pending.is_empty() {
        return Vec::new();
    }
    let since = now_ms() - replay_ms;
    let c = consumer.clone();
    let parts = pending.clone();
    let ranges = tokio::task::spawn_blocking(move || {
        ingest::replay_range(&c, &parts, since, Duration::from_secs(10))
    })
    .await;
    let ranges = match ranges {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot look up replay offsets; retrying");
            return Vec::new();
        }
        Err(_) => return Vec::new(),
    };
    let mut sought = Vec::new();
    for ingest::ReplayRange {
        partition: p,
        committed,
        start,
    } in ranges
    {
        let Some(own) = owned.get_mut(&p) else {
            continue;
        };
        // Nothing committed (a new group) or nothing in the window: nothing to replay.
        let replay = match (start, committed) {
            (Some(start), Some(committed)) if start < committed => Some((start, committed)),
            _ => None,
        };
        if let Some(to) = replay.map(|(start, _)| start).or(own.held_from) {
            if let Err(e) = consumer.seek(
                &p.topic,
                p.partition,
                Offset::Offset(to),
                Duration::from_secs(10),
            ) {
                tracing::warn!(error = %e, topic = %p.topic, partition = p.partition, "seek for window rebuild failed; retrying");
                continue;
            }
            sought.push(p.clone());
        }
        own.rebuilt = true;
        own.held_from = None;
        own.replay_next = None;
        // Offsets below the committed one were counted by an earlier owner.
        own.replay_until = replay.map(|(_, committed)| committed);
        own.live_next = replay.map(|(_, committed)| committed);
        if let Some((start, committed)) = replay {
            tracing::info!(topic = %p.topic, partition = p.partition, from = start, until = committed, "rebuilding windows by replay");
        }
    }
    sought
}

fn housekeeping(state: &LiveState, metrics: &Metrics) {
    if let Some(newest) = state.newest_event_ms() {
        metrics
            .last_event_timestamp_seconds
            .set(newest as f64 / 1000.0);
        metrics
            .event_lag_seconds
            .set(((now_ms() - newest) as f64 / 1000.0).max(0.0));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReloadWhen {
    Always,
    Changed,
}

/// Loads the model file again and swaps it in atomically: a message is scored entirely by the
/// old or entirely by the new model. A broken file keeps the old model and is counted.
async fn reload_model(
    cfg: &ValidConfig,
    model: &ArcSwap<Model>,
    metrics: &Metrics,
    mtime: &mut Option<SystemTime>,
    when: ReloadWhen,
) {
    let path = cfg.model.path.clone();
    let current = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if when == ReloadWhen::Changed && (current.is_none() || current == *mtime) {
        return;
    }
    *mtime = current;
    match tokio::task::spawn_blocking(move || Model::load(&path)).await {
        Ok(Ok(m)) => {
            tracing::info!(model_version = m.version(), "model reloaded");
            metrics.set_model_version(m.version());
            model.store(Arc::new(m));
            metrics.model_reloads.with_label_values(&["ok"]).inc();
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "model reload failed; keeping the running model");
            metrics.model_reloads.with_label_values(&["error"]).inc();
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::windows::WindowSpec;

    fn owned() -> Owned {
        let windows: Arc<[WindowSpec]> = Arc::from(vec![WindowSpec {
            label: "5m".into(),
            length_ms: 300_000,
        }]);
        let state = LiveState::new(windows, 4, vec![], vec![], Default::default(), 1);
        Owned::new(state.assign(PartitionId {
            topic: "t".into(),
            partition: 0,
        }))
    }

    #[test]
    fn messages_are_held_back_until_the_rebuild() {
        let mut o = owned();
        assert_eq!(o.admit(120), None);
        assert_eq!(o.admit(121), None);
        assert_eq!(o.admit(119), None);
        assert_eq!(o.held_from, Some(119));
    }

    #[test]
    fn after_a_replay_seek_each_offset_is_admitted_once_in_its_mode() {
        let mut o = owned();
        o.rebuilt = true;
        o.replay_until = Some(100);
        o.live_next = Some(100);
        assert_eq!(o.admit(98), Some(Mode::Replay));
        assert_eq!(o.admit(99), Some(Mode::Replay));
        assert_eq!(o.admit(99), None);
        assert_eq!(o.admit(100), Some(Mode::Live));
        assert_eq!(o.admit(101), Some(Mode::Live));
        assert_eq!(o.admit(100), None);
    }

    #[test]
    fn without_a_replay_everything_is_live() {
        let mut o = owned();
        o.rebuilt = true;
        assert_eq!(o.admit(5), Some(Mode::Live));
        assert_eq!(o.admit(6), Some(Mode::Live));
        assert_eq!(o.admit(6), None);
    }
}
