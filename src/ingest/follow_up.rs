//! Close-the-loop events: NPS detractors and strongly negative complaints are published as JSON
//! to a configurable topic so CRM / ticketing systems can follow up.
//!
//! Delivery is at-least-once without ever blocking scoring: a worker only enqueues the follow-up
//! (librdkafka delivers it in the background) and goes on. The source offset of that message is
//! held back — for its partition, no offset at or past it is acknowledged — until the broker
//! acknowledges the follow-up. A failed delivery is retried until it succeeds, so while the
//! follow-up topic is down the windows stay live but commits of that partition pause; after a
//! crash the message is read again and its follow-up re-published.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;

use super::config::CloseTheLoopConfig;
use super::Acknowledge;
use crate::aggregate::state::PartitionId;
use crate::decode::{DecodeError, Feedback};
use crate::score::indices::NpsCategory;
use crate::score::Scored;
use crate::serve::Metrics;

/// Why an event needs a follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NpsDetractor,
    NegativeComplaint,
}

/// The JSON published for one event.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct FollowUp {
    pub id: String,
    pub reasons: Vec<String>,
    pub event_time_ms: i64,
    pub kind: String,
    pub text: Option<String>,
    pub scores: serde_json::Value,
    pub p_positive: Option<f64>,
    pub aspects: Vec<AspectScore>,
    pub dims: serde_json::Map<String, serde_json::Value>,
    pub source: Source,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct AspectScore {
    pub aspect: String,
    /// 100 × P(positive) of the clauses naming the aspect.
    pub sentiment: f64,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Source {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// The reasons `fb` qualifies for a follow-up (empty: it does not).
pub fn reasons(fb: &Feedback, scored: &Scored, cfg: &CloseTheLoopConfig) -> Vec<Reason> {
    let mut r = Vec::new();
    if cfg.nps_detractors && scored.values.nps_category == Some(NpsCategory::Detractor) {
        r.push(Reason::NpsDetractor);
    }
    if fb.kind == crate::decode::Kind::Complaint
        && scored.p_positive.is_some_and(|p| p < cfg.complaint_below)
    {
        r.push(Reason::NegativeComplaint);
    }
    r
}

/// Builds the follow-up document.
pub fn document(
    fb: &Feedback,
    scored: &Scored,
    reasons: &[Reason],
    aspect_names: &[String],
    p: &PartitionId,
    offset: i64,
) -> FollowUp {
    let s = &fb.scores;
    let mut scores = serde_json::Map::new();
    if let Some(v) = s.csat {
        scores.insert("csat".into(), v.into());
    }
    if let Some(v) = s.nps {
        scores.insert("nps".into(), v.into());
    }
    if let Some(v) = s.ces {
        scores.insert("ces".into(), v.into());
    }
    if !s.csi.is_empty() {
        scores.insert(
            "csi".into(),
            s.csi
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
    }
    FollowUp {
        id: fb.id.clone(),
        reasons: reasons
            .iter()
            .map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect(),
        event_time_ms: fb.event_time_ms,
        kind: fb.kind.as_str().to_owned(),
        text: fb.text.clone(),
        scores: scores.into(),
        p_positive: scored.p_positive,
        aspects: scored
            .aspects
            .iter()
            .map(|&(a, v)| AspectScore {
                aspect: aspect_names.get(a).cloned().unwrap_or_default(),
                sentiment: v,
            })
            .collect(),
        dims: fb
            .dims
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
        source: Source {
            topic: p.topic.to_string(),
            partition: p.partition,
            offset,
        },
    }
}

/// One follow-up waiting to be (re)sent.
struct InFlight {
    source: Origin,
    key: Vec<u8>,
    body: Vec<u8>,
}

/// The source message of a follow-up, carried through librdkafka as the delivery opaque.
struct Origin {
    partition: PartitionId,
    offset: i64,
}

#[derive(Default)]
struct PartitionHold {
    /// Source offsets whose follow-up is not yet acknowledged.
    pending: BTreeSet<i64>,
    /// Highest applied offset held back because of a pending follow-up.
    held: Option<i64>,
}

struct Tracker {
    inner: Arc<dyn Acknowledge>,
    holds: Mutex<HashMap<PartitionId, PartitionHold>>,
    retries: Mutex<Vec<InFlight>>,
    metrics: Metrics,
}

impl Tracker {
    fn begin(&self, p: &PartitionId, offset: i64) {
        self.holds
            .lock()
            .expect("follow-up holds")
            .entry(p.clone())
            .or_default()
            .pending
            .insert(offset);
    }

    fn applied(&self, p: &PartitionId, offset: i64) {
        let mut holds = self.holds.lock().expect("follow-up holds");
        match holds.get_mut(p) {
            Some(h) if !h.pending.is_empty() => {
                h.held = Some(h.held.map_or(offset, |o| o.max(offset)))
            }
            _ => self.inner.applied(p, offset),
        }
    }

    fn delivered(&self, p: &PartitionId, offset: i64) {
        let mut holds = self.holds.lock().expect("follow-up holds");
        let Some(h) = holds.get_mut(p) else { return };
        h.pending.remove(&offset);
        match (h.pending.first().copied(), h.held) {
            (None, Some(held)) => {
                h.held = None;
                self.inner.applied(p, held);
            }
            // Everything below the oldest pending follow-up is done.
            (Some(first), Some(held)) if first > 0 && held >= first - 1 => {
                self.inner.applied(p, first - 1)
            }
            _ => {}
        }
    }
}

struct FollowUpContext {
    tracker: Arc<Tracker>,
}

impl ClientContext for FollowUpContext {}

impl ProducerContext for FollowUpContext {
    type DeliveryOpaque = Box<Origin>;

    fn delivery(&self, result: &DeliveryResult<'_>, origin: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                self.tracker.metrics.follow_up_delivered();
                self.tracker.delivered(&origin.partition, origin.offset);
            }
            Err((e, msg)) => {
                use rdkafka::Message;
                self.tracker.metrics.follow_up_failed();
                tracing::warn!(error = %e, "follow-up delivery failed; will retry");
                let f = InFlight {
                    source: *origin,
                    key: msg.key().unwrap_or_default().to_vec(),
                    body: msg.payload().unwrap_or_default().to_vec(),
                };
                self.tracker
                    .retries
                    .lock()
                    .expect("follow-up retries")
                    .push(f);
            }
        }
    }
}

/// The close-the-loop publisher. It is also the [`Acknowledge`] of the workers, wrapping the
/// source's, so that offsets wait for their follow-ups.
pub struct FollowUps {
    cfg: CloseTheLoopConfig,
    topic: String,
    aspects: Vec<String>,
    producer: ThreadedProducer<FollowUpContext>,
    tracker: Arc<Tracker>,
}

impl FollowUps {
    pub fn new(
        mut cc: ClientConfig,
        cfg: CloseTheLoopConfig,
        aspects: Vec<String>,
        inner: Arc<dyn Acknowledge>,
        metrics: Metrics,
    ) -> KafkaResult<Arc<FollowUps>> {
        let topic = cfg.topic.clone().ok_or(KafkaError::ClientCreation(
            "close_the_loop.topic is not set".into(),
        ))?;
        cc.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "20");
        let tracker = Arc::new(Tracker {
            inner,
            holds: Mutex::default(),
            retries: Mutex::default(),
            metrics,
        });
        let producer = cc.create_with_context(FollowUpContext {
            tracker: tracker.clone(),
        })?;
        Ok(Arc::new(FollowUps {
            cfg,
            topic,
            aspects,
            producer,
            tracker,
        }))
    }

    /// Publishes a follow-up for `fb` if it qualifies. Never blocks: a full local queue defers
    /// the follow-up to the retry list.
    pub fn consider(&self, fb: &Feedback, scored: &Scored, p: &PartitionId, offset: i64) {
        let reasons = reasons(fb, scored, &self.cfg);
        if reasons.is_empty() {
            return;
        }
        let doc = document(fb, scored, &reasons, &self.aspects, p, offset);
        let body = serde_json::to_vec(&doc).expect("follow-up serialises");
        self.tracker.begin(p, offset);
        // Keyed by event id so the follow-ups of one event stay in order.
        self.send(InFlight {
            source: Origin {
                partition: p.clone(),
                offset,
            },
            key: fb.id.clone().into_bytes(),
            body,
        });
    }

    fn send(&self, f: InFlight) {
        let InFlight { source, key, body } = f;
        let record = BaseRecord::with_opaque_to(&self.topic, Box::new(source))
            .key(key.as_slice())
            .payload(body.as_slice());
        if let Err((e, record)) = self.producer.send(record) {
            if !matches!(
                e,
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
            ) {
                tracing::warn!(error = %e, "follow-up not enqueued; will retry");
            }
            let source = *record.delivery_opaque;
            self.tracker
                .retries
                .lock()
                .expect("follow-up retries")
                .push(InFlight { source, key, body });
        }
    }

    /// Re-sends failed follow-ups (called by the pipeline's tick).
    pub fn retry(&self) {
        let retries = std::mem::take(&mut *self.tracker.retries.lock().expect("follow-up retries"));
        for f in retries {
            self.send(f);
        }
    }

    /// Waits up to `timeout` for follow-ups in flight (shutdown). Undelivered ones keep their
    /// source offsets uncommitted, so they are published again after restart.
    pub fn flush(&self, timeout: Duration) {
        self.retry();
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "follow-ups still in flight at shutdown; their messages will be read again");
        }
    }
}

impl Acknowledge for FollowUps {
    fn applied(&self, partition: &PartitionId, offset: i64) {
        self.tracker.applied(partition, offset);
    }

    fn dead_letter(
        &self,
        partition: &PartitionId,
        offset: i64,
        payload: &[u8],
        reason: DecodeError,
    ) -> bool {
        self.tracker
            .inner
            .dead_letter(partition, offset, payload, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<i64>>);
    impl Acknowledge for Recorder {
        fn applied(&self, _: &PartitionId, offset: i64) {
            self.0.lock().unwrap().push(offset);
        }
        fn dead_letter(&self, _: &PartitionId, _: i64, _: &[u8], _: DecodeError) -> bool {
            true
        }
    }

    fn tracker() -> (Arc<Recorder>, Tracker) {
        let rec = Arc::new(Recorder::default());
        let t = Tracker {
            inner: rec.clone(),
            holds: Mutex::default(),
            retries: Mutex::default(),
            metrics: Metrics::new(),
        };
        (rec, t)
    }

    #[test]
    fn offsets_wait_for_pending_follow_ups_in_order() {
        let (rec, t) = tracker();
        let p = PartitionId {
            topic: "t".into(),
            partition: 0,
        };
        t.applied(&p, 0);
        t.begin(&p, 1);
        t.applied(&p, 1);
        t.applied(&p, 2);
        t.begin(&p, 3);
        t.applied(&p, 3);
        t.applied(&p, 4);
        assert_eq!(*rec.0.lock().unwrap(), [0]);
        // The later follow-up is acknowledged first: nothing past offset 1 may be committed.
        t.delivered(&p, 3);
        assert_eq!(*rec.0.lock().unwrap(), [0, 0]);
        t.delivered(&p, 1);
        assert_eq!(*rec.0.lock().unwrap(), [0, 0, 4]);
        t.applied(&p, 5);
        assert_eq!(*rec.0.lock().unwrap(), [0, 0, 4, 5]);
    }
}
