//! The dead-letter producer: an invalid message is written to the dead-letter topic, wrapped in
//! an [`Envelope`] that keeps the original bytes and where they came from. Its offset is stored
//! only after the broker acknowledges the write; while the topic is unavailable the worker retries
//! and the partition does not advance.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TryRecvError};
use std::time::Duration;

use base64::Engine;
use rdkafka::error::KafkaResult;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use serde::Serialize;

use crate::aggregate::state::{now_ms, PartitionId};
use crate::decode::DecodeError;
use crate::serve::Metrics;

/// What a dead letter carries. `payload_base64` holds the original bytes exactly (they may not be UTF-8).
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Envelope {
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub reason: String,
    pub dead_lettered_at_ms: i64,
    pub payload_base64: String,
}

impl Envelope {
    pub fn new(p: &PartitionId, offset: i64, payload: &[u8], reason: DecodeError) -> Envelope {
        Envelope {
            source_topic: p.topic.to_string(),
            source_partition: p.partition,
            source_offset: offset,
            reason: reason.code().to_owned(),
            dead_lettered_at_ms: now_ms(),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(payload),
        }
    }
}

/// Hands each message's delivery report to the worker waiting for it.
struct Reports;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<SyncSender<Result<(), String>>>;
    fn delivery(&self, result: &DeliveryResult<'_>, waiter: Self::DeliveryOpaque) {
        let _ = waiter.try_send(result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string()));
    }
}

/// A producer for the dead-letter topic, used synchronously from worker threads.
pub struct DeadLetters {
    producer: BaseProducer<Reports>,
    topic: String,
    metrics: Metrics,
}

impl DeadLetters {
    pub fn new(
        mut cc: rdkafka::ClientConfig,
        topic: String,
        metrics: Metrics,
    ) -> KafkaResult<DeadLetters> {
        cc.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "10000");
        let producer = cc.create_with_context(Reports)?;
        Ok(DeadLetters {
            producer,
            topic,
            metrics,
        })
    }

    /// Writes one envelope and waits for the broker's acknowledgement, retrying until it is
    /// acknowledged or `shutdown` is set. Returns true if and only if it was acknowledged.
    pub fn send_until_acked(&self, envelope: &Envelope, shutdown: &AtomicBool) -> bool {
        let body = serde_json::to_vec(envelope).expect("envelope serialises");
        let key = format!(
            "{}/{}/{}",
            envelope.source_topic, envelope.source_partition, envelope.source_offset
        );
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.send_once(&key, &body) {
                Ok(()) => {
                    self.metrics.dead_letters_ok.inc();
                    return true;
                }
                Err(e) => {
                    self.metrics.dead_letters_error.inc();
                    tracing::warn!(error = %e, topic = %self.topic, "dead-letter write failed; partition paused until it succeeds");
                }
            }
            if shutdown.load(Ordering::Acquire) {
                return false;
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn send_once(&self, key: &str, body: &[u8]) -> Result<(), String> {
        // The delivery report, not flush(), says whether the broker took it: flush() returns Ok
        // once the queue is empty, also after the message failed (e.g. timed out because the
        // topic does not exist), which used to commit an invalid message never dead-lettered.
        let (tx, rx) = sync_channel(1);
        self.producer
            .send(
                BaseRecord::<str, [u8], _>::with_opaque_to(&self.topic, Box::new(tx))
                    .key(key)
                    .payload(body),
            )
            .map_err(|(e, _)| e.to_string())?;
        // librdkafka reports every message within `message.timeout.ms`; any thread's poll may
        // serve the callback, so wait on our own channel.
        loop {
            self.producer.poll(Duration::from_millis(100));
            match rx.try_recv() {
                Ok(result) => return result,
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => return Err("no delivery report".into()),
            }
        }
    }
}
