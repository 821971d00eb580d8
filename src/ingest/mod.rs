//! The Kafka side: consumer construction, the rebalance signal, offset acknowledgement and the
//! dead-letter producer.
//!
//! At-least-once: `enable.auto.offset.store=false`, and a message's offset is stored only after
//! its effects are applied to the windows (or, for an invalid message, after the dead-letter
//! write is acknowledged). librdkafka's auto-commit then commits stored offsets only; shutdown
//! commits synchronously.

pub mod config;
mod dead_letter;
pub mod follow_up;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::aggregate::state::PartitionId;
use crate::decode::DecodeError;
use crate::serve::Metrics;
use config::Kafka;

pub use dead_letter::{DeadLetters, Envelope};

/// Where a worker reports a finished message. Implemented by the Kafka source (offset store,
/// dead-letter producer) and by tests.
pub trait Acknowledge: Send + Sync {
    /// The message's effects are applied: its offset may be committed.
    fn applied(&self, partition: &PartitionId, offset: i64);
    /// The message is invalid: route it (to the dead-letter topic, if configured). Blocks until
    /// routed; returns false if it could not be routed before shutdown, in which case the offset
    /// must not be acknowledged and the message will be read again.
    fn dead_letter(
        &self,
        partition: &PartitionId,
        offset: i64,
        payload: &[u8],
        reason: DecodeError,
    ) -> bool;
}

/// A partition-set change recorded by the rebalance callback, handled by the pipeline loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceSignal {
    Assigned(Vec<PartitionId>),
    Revoked(Vec<PartitionId>),
}

/// librdkafka callbacks only record what happened; the loop does the work.
pub struct SourceContext {
    signals: Mutex<Vec<RebalanceSignal>>,
    pending: AtomicBool,
    metrics: Metrics,
}

impl SourceContext {
    pub fn new(metrics: Metrics) -> SourceContext {
        SourceContext {
            signals: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            metrics,
        }
    }

    /// Removes the lag series of every partition not in `current` (topic, partition).
    fn drop_lag_except(&self, current: &[(String, String)]) {
        use prometheus::core::Collector;
        let mut stale = Vec::new();
        for family in self.metrics.consumer_lag.collect() {
            for m in family.get_metric() {
                let label = |name: &str| {
                    m.get_label()
                        .iter()
                        .find(|l| l.name() == name)
                        .map(|l| l.value().to_owned())
                        .unwrap_or_default()
                };
                let key = (label("topic"), label("partition"));
                if !current.contains(&key) {
                    stale.push(key);
                }
            }
        }
        for (topic, partition) in stale {
            let _ = self
                .metrics
                .consumer_lag
                .remove_label_values(&[&topic, &partition]);
        }
    }

    /// Takes the signals recorded since the last call.
    pub fn take_signals(&self) -> Vec<RebalanceSignal> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *self.signals.lock().expect("rebalance signals"))
    }

    fn record(&self, s: RebalanceSignal) {
        self.signals.lock().expect("rebalance signals").push(s);
        self.pending.store(true, Ordering::Release);
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<PartitionId> {
    tpl.elements()
        .iter()
        .map(|e| PartitionId {
            topic: e.topic().into(),
            partition: e.partition(),
        })
        .collect()
}

impl ClientContext for SourceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown)
        ) {
            self.metrics.ready.set(0);
        }
        tracing::warn!(%error, reason, "kafka client error");
    }

    /// Consumer lag per assigned partition and readiness, from librdkafka's statistics (no
    /// extra requests).
    fn stats(&self, stats: rdkafka::Statistics) {
        // Ready again after an outage once a broker is up and the group has rejoined, even if
        // no message arrives; not ready while no broker is up.
        let connected = stats
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        let joined = stats
            .cgrp
            .as_ref()
            .is_some_and(|g| g.state == "up" && g.join_state == "steady");
        self.metrics.ready.set(i64::from(connected && joined));
        let mut current: Vec<(String, String)> = Vec::new();
        for (topic, t) in &stats.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.desired && p.consumer_lag >= 0 {
                    let partition = partition.to_string();
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[topic, &partition])
                        .set(p.consumer_lag);
                    current.push((topic.clone(), partition));
                }
            }
        }
        // A snapshot taken before a revoke can arrive after the loop removed the partition's
        // series; the next snapshot no longer lists it, so drop every series it does not list.
        self.drop_lag_except(&current);
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _base: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => self.record(RebalanceSignal::Revoked(partitions(tpl))),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }

    fn post_rebalance(&self, _base: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.record(RebalanceSignal::Assigned(partitions(tpl)));
        }
    }
}

pub type Source = StreamConsumer<SourceContext>;

/// Builds and subscribes the consumer. Fails before anything runs if the config is unusable.
pub fn consumer(cfg: &Kafka, metrics: Metrics) -> KafkaResult<Arc<Source>> {
    let mut cc = client_config(cfg);
    cc.set("group.id", &cfg.group_id)
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("statistics.interval.ms", "5000")
        // librdkafka pauses a partition's fetching for this long once 100,000 messages wait
        // in its queue (default 1 s); at 250k msgs/s that queue drains in 0.4 s and the workers
        // starved (measured: 130k → 248k msgs/s with 2 workers).
        .set("fetch.queue.backoff.ms", "20");
    for (k, v) in &cfg.properties {
        cc.set(k, v);
    }
    cc.set("enable.auto.offset.store", "false");
    let consumer: Source = cc
        .set_log_level(RDKafkaLogLevel::Warning)
        .create_with_context(SourceContext::new(metrics))?;
    let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    Ok(Arc::new(consumer))
}

/// Settings shared by the consumer and the producers: the brokers and the client id.
pub fn client_config(cfg: &Kafka) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &cfg.brokers);
    cc.set("client.id", "manyi");
    cc
}

/// A producer's settings (dead letters, follow-ups): [`client_config`] and the user's properties
/// that apply to producers (security settings among them).
pub fn producer_config(cfg: &Kafka) -> ClientConfig {
    let mut cc = client_config(cfg);
    for (k, v) in cfg.producer_properties() {
        cc.set(k, v);
    }
    cc
}

/// The acknowledgement path used by the workers in production.
pub struct KafkaAck {
    consumer: Arc<Source>,
    dead_letters: Option<DeadLetters>,
    shutdown: Arc<AtomicBool>,
}

impl KafkaAck {
    pub fn new(
        consumer: Arc<Source>,
        dead_letters: Option<DeadLetters>,
        shutdown: Arc<AtomicBool>,
    ) -> KafkaAck {
        KafkaAck {
            consumer,
            dead_letters,
            shutdown,
        }
    }

    fn store(&self, p: &PartitionId, offset: i64) {
        // `rd_kafka_offset_store` stores `offset + 1` itself (the next offset to read): passing
        // `offset + 1` here committed one past and skipped a message after every restart.
        // Fails only for a partition revoked meanwhile: its new owner reads the message again.
        if let Err(e) = self.consumer.store_offset(&p.topic, p.partition, offset) {
            tracing::debug!(error = %e, topic = %p.topic, partition = p.partition, "offset not stored");
        }
    }
}

impl Acknowledge for KafkaAck {
    fn applied(&self, p: &PartitionId, offset: i64) {
        self.store(p, offset);
    }

    fn dead_letter(
        &self,
        p: &PartitionId,
        offset: i64,
        payload: &[u8],
        reason: DecodeError,
    ) -> bool {
        match &self.dead_letters {
            Some(dl) => {
                dl.send_until_acked(&Envelope::new(p, offset, payload, reason), &self.shutdown)
            }
            None => true,
        }
    }
}

/// Commits the stored offsets synchronously (shutdown).
pub fn commit_now(consumer: &Source) {
    match consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync) {
        Ok(()) => tracing::info!("offsets committed"),
        // Nothing stored since the last auto-commit.
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => {
            tracing::warn!(error = %e, "final commit failed; uncommitted messages will be read again")
        }
    }
}

/// Where a newly assigned partition's window state must be rebuilt from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRange {
    pub partition: PartitionId,
    /// The group's committed offset, if any.
    pub committed: Option<i64>,
    /// The first offset at or after the start of the longest window, if any.
    pub start: Option<i64>,
}

/// Committed offset and the offset of the first message at or after `since_ms` for each
/// partition (for rebuilding windows after an assignment).
pub fn replay_range(
    consumer: &Source,
    parts: &[PartitionId],
    since_ms: i64,
    timeout: Duration,
) -> KafkaResult<Vec<ReplayRange>> {
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        tpl.add_partition(&p.topic, p.partition);
    }
    let committed = consumer.committed_offsets(tpl.clone(), timeout)?;
    let mut times = TopicPartitionList::new();
    for p in parts {
        times.add_partition_offset(&p.topic, p.partition, Offset::Offset(since_ms))?;
    }
    let starts = consumer.offsets_for_times(times, timeout)?;
    Ok(parts
        .iter()
        .map(|p| {
            let c = committed
                .find_partition(&p.topic, p.partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            let s = starts
                .find_partition(&p.topic, p.partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            ReplayRange {
                partition: p.clone(),
                committed: c,
                start: s,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use prometheus::core::Collector;

    use super::SourceContext;
    use crate::serve::Metrics;

    fn lag_partitions(ctx: &SourceContext) -> Vec<String> {
        let mut out: Vec<String> = ctx
            .metrics
            .consumer_lag
            .collect()
            .iter()
            .flat_map(|f| f.get_metric().to_vec())
            .flat_map(|m| {
                m.get_label()
                    .iter()
                    .filter(|l| l.name() == "partition")
                    .map(|l| l.value().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    /// A statistics snapshot taken before a revoke and delivered after it sets the revoked
    /// partition's lag again; the next snapshot must drop it, or it is exported forever.
    #[test]
    fn lag_of_a_partition_no_longer_listed_is_dropped() {
        let ctx = SourceContext::new(Metrics::new());
        for p in ["0", "1", "2"] {
            ctx.metrics
                .consumer_lag
                .with_label_values(&["fb", p])
                .set(5);
        }
        ctx.drop_lag_except(&[("fb".into(), "0".into()), ("fb".into(), "2".into())]);
        assert_eq!(lag_partitions(&ctx), ["0", "2"]);
        ctx.drop_lag_except(&[]);
        assert!(lag_partitions(&ctx).is_empty());
    }
}
