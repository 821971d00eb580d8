//! Reading the configured topics' history between two times without disturbing the running
//! service: a consumer group of its own (`<group_id>-<purpose>`) that never commits, assigned
//! the partitions from `offsets_for_times(since)` to `offsets_for_times(until)` (Kafka message
//! time) or the end offset seen at start. `backfill` and `adapt` read through it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::ValidConfig;

/// Kafka calls (metadata, offsets) give up after this long.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);
/// Reading stops with an error when no message arrives for this long before the end offsets.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic {0:?} does not exist or has no partitions")]
    NoTopic(String),
    #[error("no message for {0:?} before the end offsets; is the broker reachable?")]
    Stalled(Duration),
}

/// A time flag that is not RFC 3339.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {value:?} is not an RFC 3339 time like 2026-11-23T10:00:00+08:00: {reason}")]
pub struct BadTime {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

/// Parses the RFC 3339 value of the flag `field` into Unix milliseconds.
pub fn parse_time(field: &'static str, value: &str) -> Result<i64, BadTime> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|e| BadTime {
            field,
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

/// Hands every message of the configured topics between `since_ms` and `until_ms` (message
/// time) to `f`, partition by partition in offset order, with progress on stderr. `purpose`
/// names the consumer group (`<group_id>-<purpose>`). Returns how many messages were read.
pub fn read(
    cfg: &ValidConfig,
    purpose: &str,
    since_ms: i64,
    until_ms: i64,
    f: impl FnMut(&BorrowedMessage<'_>),
) -> Result<u64, HistoryError> {
    let consumer = open_consumer(cfg, purpose)?;
    let bounds = partition_bounds(&consumer, &cfg.kafka.topics, since_ms, until_ms)?;
    let total: i64 = bounds.values().map(|(s, e)| e - s).sum();
    let progress = Progress::new("reading", total as u64, "{pos}/{len} messages ({percent}%)");
    if total == 0 {
        progress.done("no messages in range");
        return Ok(0);
    }
    assign(&consumer, &bounds)?;
    let n = consume(&consumer, bounds, &progress, f)?;
    progress.done(&format!("{n} messages"));
    Ok(n)
}

/// A consumer that only reads: a group of its own and no commits, so the running service is not
/// disturbed.
fn open_consumer(cfg: &ValidConfig, purpose: &str) -> Result<BaseConsumer, HistoryError> {
    let mut cc = crate::ingest::client_config(&cfg.kafka);
    for (k, v) in &cfg.kafka.properties {
        cc.set(k, v);
    }
    Ok(cc
        .set("group.id", format!("{}-{purpose}", cfg.kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set_log_level(RDKafkaLogLevel::Warning)
        .create()?)
}

/// Per partition (topic, partition): the offsets to read, `[start, end)`.
type Bounds = HashMap<(String, i32), (i64, i64)>;

/// The offsets to read in every partition of `topics`: from the first message at or after
/// `since_ms` to the first after `until_ms` (Kafka message time), or to the end offset seen now.
/// Partitions with nothing to read are left out.
fn partition_bounds(
    consumer: &BaseConsumer,
    topics: &[String],
    since_ms: i64,
    until_ms: i64,
) -> Result<Bounds, HistoryError> {
    let mut bounds = Bounds::new();
    for topic in topics {
        let partitions = partitions_of(consumer, topic)?;
        let at = |ms: i64| -> Result<TopicPartitionList, HistoryError> {
            let mut tpl = TopicPartitionList::new();
            for p in &partitions {
                tpl.add_partition_offset(topic, *p, Offset::Offset(ms))?;
            }
            Ok(consumer.offsets_for_times(tpl, KAFKA_TIMEOUT)?)
        };
        let (starts, ends, epoch) = (at(since_ms)?, at(until_ms)?, at(0)?);
        for p in &partitions {
            let (low, high) = consumer.fetch_watermarks(topic, *p, KAFKA_TIMEOUT)?;
            let found = |tpl: &TopicPartitionList| match tpl
                .find_partition(topic, *p)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(o)) if o >= 0 => Some(o),
                _ => None,
            };
            // A broker that cannot look up times (librdkafka's mock cluster) answers "end" even
            // for time 0; then read the whole partition and keep the range by event time.
            let (start, end) = if low < high && found(&epoch).is_none() {
                eprintln!(
                    "{topic}/{p}: the broker cannot look up offsets by time; reading offsets {low}..{high}"
                );
                (low, high)
            } else {
                (
                    found(&starts).unwrap_or(high),
                    found(&ends).unwrap_or(high).min(high),
                )
            };
            if start < end {
                bounds.insert((topic.clone(), *p), (start, end));
            }
        }
    }
    Ok(bounds)
}

/// The partition ids of `topic`; fails when it has none.
fn partitions_of(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, HistoryError> {
    let md = consumer.fetch_metadata(Some(topic), KAFKA_TIMEOUT)?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(HistoryError::NoTopic(topic.to_owned()));
    }
    Ok(partitions)
}

/// Assigns the consumer every partition of `bounds` at its start offset.
fn assign(consumer: &BaseConsumer, bounds: &Bounds) -> Result<(), HistoryError> {
    let mut tpl = TopicPartitionList::new();
    for ((topic, p), (start, _)) in bounds {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*start))?;
    }
    consumer.assign(&tpl)?;
    Ok(())
}

/// Polls until every partition of `bounds` has reached its end offset, handing each message
/// before it to `f`; a partition is paused once done. Fails when no message arrives for
/// [`STALL_TIMEOUT`].
fn consume(
    consumer: &BaseConsumer,
    bounds: Bounds,
    progress: &Progress,
    mut f: impl FnMut(&BorrowedMessage<'_>),
) -> Result<u64, HistoryError> {
    let mut messages = 0;
    let mut remaining = bounds.len();
    let mut last_message = Instant::now();
    while remaining > 0 {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            if last_message.elapsed() > STALL_TIMEOUT {
                return Err(HistoryError::Stalled(STALL_TIMEOUT));
            }
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(KafkaError::MessageConsumption(RDKafkaErrorCode::PartitionEOF)) => continue,
            Err(e) => return Err(e.into()),
        };
        last_message = Instant::now();
        let Some(&(_, end)) = bounds.get(&(msg.topic().to_owned(), msg.partition())) else {
            continue;
        };
        if msg.offset() >= end {
            continue;
        }
        if msg.offset() + 1 == end {
            remaining -= 1;
            let mut done = TopicPartitionList::new();
            done.add_partition(msg.topic(), msg.partition());
            let _ = consumer.pause(&done);
        }
        messages += 1;
        progress.bar.inc(1);
        f(&msg);
    }
    Ok(messages)
}

/// Progress on stderr: a bar on a terminal, nothing otherwise; the closing line is printed
/// either way.
pub struct Progress {
    what: &'static str,
    pub bar: ProgressBar,
}

impl Progress {
    /// A bar of `total` steps whose text after "`what`: " is `template` (indicatif syntax).
    pub fn new(what: &'static str, total: u64, template: &str) -> Progress {
        let bar =
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template(&format!("{{prefix}}: {template}"))
            .expect("the progress templates are valid");
        bar.set_style(style);
        bar.set_prefix(what);
        Progress { what, bar }
    }

    pub fn done(&self, line: &str) {
        self.bar.finish_and_clear();
        eprintln!("{}: {line}", self.what);
    }
}
