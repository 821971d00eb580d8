//! Broker-independent Kafka helpers of the real-broker tests: producing with delivery reports,
//! reading a topic back for the offline oracle, watermarks and committed offsets, and small
//! utilities (free ports, unique names, waiting for a condition).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

pub use super::free_port;

/// `n` distinct ports that were free a moment ago on 127.0.0.1 (all bound at once, so distinct).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Waits until `done` holds, panicking with `what` after `timeout` (over [`super::poll_until`]).
pub fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    if super::poll_until(timeout, || done().then_some(())).is_none() {
        panic!("timed out waiting for {what}");
    }
}

/// A client config for `brokers`, with librdkafka's own log quiet (brokers are stopped and
/// killed on purpose; failures show in the results).
pub fn client(brokers: &str) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", brokers)
        .set_log_level(RDKafkaLogLevel::Critical);
    cc
}

/// Records the partition and offset of every delivered message, by its index.
struct Deliveries(Mutex<Vec<Option<(i32, i64)>>>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<usize>;
    fn delivery(&self, result: &DeliveryResult<'_>, i: Box<usize>) {
        match result {
            Ok(m) => self.0.lock().unwrap()[*i] = Some((m.partition(), m.offset())),
            Err((e, _)) => panic!("message {i} not delivered: {e}"),
        }
    }
}

/// Produces `payloads` (to partition `i % partitions`) with `props` added, waits until every one
/// is acknowledged (the broker may be down meanwhile), and returns each one's (partition, offset).
pub fn produce_with(
    brokers: &str,
    topic: &str,
    payloads: &[Vec<u8>],
    partitions: i32,
    props: &[(&str, &str)],
) -> Vec<(i32, i64)> {
    let mut cc = client(brokers);
    cc.set("message.timeout.ms", "300000")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    for (k, v) in props {
        cc.set(*k, *v);
    }
    let producer: BaseProducer<Deliveries> = cc
        .create_with_context(Deliveries(Mutex::new(vec![None; payloads.len()])))
        .expect("producer");
    for (i, p) in payloads.iter().enumerate() {
        let key = i.to_string();
        super::send_retrying(
            &producer,
            BaseRecord::with_opaque_to(topic, Box::new(i))
                .key(&key)
                .payload(p)
                .partition(i as i32 % partitions),
        );
    }
    producer.flush(Duration::from_secs(300)).expect("flush");
    let done = producer.context().0.lock().unwrap().clone();
    done.into_iter()
        .enumerate()
        .map(|(i, d)| d.unwrap_or_else(|| panic!("message {i} has no delivery report")))
        .collect()
}

pub fn produce(
    brokers: &str,
    topic: &str,
    payloads: &[Vec<u8>],
    partitions: i32,
) -> Vec<(i32, i64)> {
    produce_with(brokers, topic, payloads, partitions, &[])
}

/// Every message of `topic` (partitions `0..partitions`) as (partition, offset, payload), read by
/// an assigned consumer from the beginning to the high watermark: the offline oracle's input.
pub fn read_topic(brokers: &str, topic: &str, partitions: i32) -> Vec<(i32, i64, Vec<u8>)> {
    read_records(brokers, topic, partitions)
        .into_iter()
        .map(|r| (r.partition, r.offset, r.payload))
        .collect()
}

/// One message read back, with the timestamp its producer gave it (CreateTime, ms): a producer's
/// own retry re-sends the same message, timestamp included; a message sent again is a new one.
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub payload: Vec<u8>,
}

/// [`read_topic`] with the producer timestamps.
pub fn read_records(brokers: &str, topic: &str, partitions: i32) -> Vec<Record> {
    let c: BaseConsumer = client(brokers)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let ends = end_offsets(brokers, topic, partitions);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let total: i64 = ends.iter().sum();
    // By (partition, offset): a message delivered again after a reconnect is the same message.
    let mut out = BTreeMap::new();
    let start = Instant::now();
    while (out.len() as i64) < total {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "read {} of {total} messages of {topic}",
            out.len()
        );
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) if m.offset() < ends[m.partition() as usize] => {
                let ts = m.timestamp().to_millis().unwrap_or(-1);
                out.insert(
                    (m.partition(), m.offset()),
                    (ts, m.payload().unwrap_or_default().to_vec()),
                );
            }
            Some(Ok(_)) => {}
            // A broker of a cluster is down on purpose: librdkafka reports the lost connection
            // and reads from the partitions' new leaders.
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown,
            ))) => {}
            Some(Err(e)) => panic!("read topic {topic}: {e}"),
            None => {}
        }
    }
    out.into_iter()
        .map(|((partition, offset), (timestamp_ms, payload))| Record {
            partition,
            offset,
            timestamp_ms,
            payload,
        })
        .collect()
}

/// High watermarks of partitions `0..partitions`.
pub fn end_offsets(brokers: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = client(brokers).create().unwrap();
    (0..partitions)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .collect()
}

/// The group's committed offsets of partitions `0..partitions` (-1 when none).
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = client(brokers).set("group.id", group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}
