//! Helpers shared by the integration tests, in one place: an in-process mock Kafka cluster, a
//! producer, an event builder, a scraper that parses the Prometheus text format, one polling wait,
//! and the pipeline running on its own thread.
//!
//! Submodules: `shipped` reads the shipped monitoring config; `tools` (promtool) and `prom` (a
//! Prometheus server) serve the tests of the `external-tools` feature; `kafka` (Apache Kafka KRaft
//! nodes), `process` (`manyi run` as a child process) and `topic` (produce, read back, offsets)
//! serve `real_broker.rs`.

#![allow(dead_code)]

pub mod kafka;
pub mod process;
pub mod prom;
pub mod shipped;
pub mod tools;
pub mod topic;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// How often the waits below try again.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// A file or directory of this repository, by its path from the root.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A port that was free a moment ago on 127.0.0.1 (bound and released; the caller binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Calls `attempt` every 100 ms until it returns `Some`: that value, or `None` once `timeout` has
/// passed. Callers panic with what they were waiting for and what they saw last.
pub fn poll_until<T>(timeout: Duration, mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(t) = attempt() {
            return Some(t);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// One event as the Kafka payload manyi reads: the JSON of `v`.
pub fn ev(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&v).expect("JSON value serializes")
}

pub fn mock_cluster(
    topics: &[(&str, i32)],
) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for (t, p) in topics {
        cluster.create_topic(t, *p, 1).expect("create topic");
    }
    cluster
}

/// Produces each payload to `topic` (partition = index % partitions when given) and waits for acks.
pub fn produce(brokers: &str, topic: &str, payloads: &[Vec<u8>], partitions: Option<i32>) {
    let untimed = payloads.iter().map(|p| (None, p.as_slice()));
    produce_records(brokers, topic, untimed, partitions);
}

/// As [`produce`], each payload with its Kafka timestamp (ms): `(timestamp, payload)` pairs.
pub fn produce_at(brokers: &str, topic: &str, events: &[(i64, Vec<u8>)], partitions: Option<i32>) {
    let timed = events.iter().map(|(ts, p)| (Some(*ts), p.as_slice()));
    produce_records(brokers, topic, timed, partitions);
}

fn produce_records<'a>(
    brokers: &str,
    topic: &str,
    records: impl Iterator<Item = (Option<i64>, &'a [u8])>,
    partitions: Option<i32>,
) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer");
    for (i, (ts, payload)) in records.enumerate() {
        let key = i.to_string();
        let mut rec = BaseRecord::to(topic).key(&key).payload(payload);
        if let Some(n) = partitions {
            rec = rec.partition(i as i32 % n);
        }
        if let Some(ts) = ts {
            rec = rec.timestamp(ts);
        }
        send_retrying(&producer, rec);
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// Enqueues one record, polling while librdkafka's local queue is full; any other error panics.
pub fn send_retrying<K, P, C>(
    producer: &BaseProducer<C>,
    record: BaseRecord<'_, K, P, C::DeliveryOpaque>,
) where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
    C: rdkafka::producer::ProducerContext,
{
    let mut rec = Some(record);
    while let Some(r) = rec.take() {
        if let Err((e, r)) = producer.send(r) {
            assert!(
                matches!(
                    e.rdkafka_error_code(),
                    Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                ),
                "{e}"
            );
            producer.poll(Duration::from_millis(10));
            rec = Some(r);
        }
    }
}

/// One scraped sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The body of `GET /metrics`.
pub fn metrics_text(addr: SocketAddr) -> String {
    ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .expect("GET /metrics")
        .into_body()
        .read_to_string()
        .expect("body")
}

pub fn scrape(addr: SocketAddr) -> Vec<Sample> {
    parse_exposition(&metrics_text(addr))
}

/// Parses the Prometheus text format into samples (histogram and summary samples are NaN).
pub fn parse_exposition(body: &str) -> Vec<Sample> {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            };
            Sample {
                name: s.metric,
                labels: s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                value,
            }
        })
        .collect()
}

/// The value of the single sample of `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches {} samples: {found:?}",
        found.len()
    );
    found.first().map(|s| s.value)
}

/// Scrapes until `done` holds or the deadline passes (then panics with the last scrape).
pub fn wait_for(
    addr: SocketAddr,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[Sample]) -> bool,
) -> Vec<Sample> {
    let mut last = Vec::new();
    let found = poll_until(timeout, || {
        let samples = scrape(addr);
        if done(&samples) {
            return Some(samples);
        }
        last = samples;
        None
    });
    found.unwrap_or_else(|| {
        let relevant: Vec<_> = last
            .iter()
            .filter(|s| s.name.starts_with("manyi_messages") || s.name.starts_with("manyi_invalid"))
            .collect();
        panic!("timed out waiting for {what}; last counters: {relevant:?}");
    })
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn model_path() -> PathBuf {
    repo_path("models/default.json")
}

/// A pipeline running on its own runtime thread.
pub struct Running {
    pub addr: SocketAddr,
    pub state: std::sync::Arc<manyi::aggregate::state::LiveState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), manyi::PipelineError>>>,
}

impl Running {
    /// Signals shutdown and waits for the drain and final commit.
    pub fn stop(mut self) -> Result<(), manyi::PipelineError> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().expect("pipeline thread")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start(cfg: manyi::ValidConfig) -> Running {
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let p = manyi::Pipeline::build(cfg).await?;
            tx_ready.send((p.local_addr(), p.state())).unwrap();
            p.run(async move {
                let _ = stopped.await;
            })
            .await
        })
    });
    let (addr, state) = rx_ready
        .recv_timeout(Duration::from_secs(60))
        .expect("pipeline built");
    Running {
        addr,
        state,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// A validated config for a mock cluster, metrics on an ephemeral port.
pub fn config(brokers: &str, topics: &[&str], group: &str) -> manyi::Config {
    let mut c = manyi::Config::for_brokers(brokers, topics);
    c.http.listen = "127.0.0.1:0".into();
    c.kafka.group_id = group.into();
    c.model.path = model_path();
    c.kafka
        .properties
        .insert("fetch.wait.max.ms".into(), "20".into());
    c.pipeline.workers = 2;
    c
}

/// Reads every message of `topic` (all partitions) from the beginning, waiting until `n` arrived.
pub fn consume_all(brokers: &str, topic: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("reader-{topic}-{}", now_ms()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    consumer.subscribe(&[topic]).expect("subscribe");
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && start.elapsed() < timeout {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.payload().unwrap_or_default().to_vec());
        }
    }
    out
}
