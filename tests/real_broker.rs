//! Nothing lost, nothing counted twice, against a real broker (Apache Kafka, KRaft, from
//! tests/common/kafka.rs) and the real binary: dead letters, kill -9 and restart, replicas joining
//! and dying, a broker outage, SIGTERM, SASL/SCRAM and TLS served by Kafka itself, ACLs, the
//! lag gauge against Kafka's own consumer-group tool, and the replay cost of rolling restarts.
//!
//! The oracle of every test is an offline recomputation: the topic is read back from the broker
//! and the NPS, CSAT and first-response sums and counts per channel and window are worked out
//! here, independently of manyi's code, then compared with `manyi_index_sum`/`manyi_index_count`
//! summed over the live replicas. Tests wait for conditions with generous deadlines; none asserts a duration.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use common::kafka::{Kafka, Security};
use common::process::{Manyi, RunConfig};
use common::topic::{
    committed, end_offsets, eventually, produce, produce_with, read_records, read_topic, unique,
};
use common::{now_ms, Sample};
use serde_json::{json, Value};

/// The tests start brokers and processes and inject faults on 2 shared cores: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const MINUTE: i64 = 60_000;
const WINDOWS: [(&str, i64); 2] = [("1h", 60 * MINUTE), ("24h", 24 * 60 * MINUTE)];
const CHANNELS: [&str; 3] = ["app", "web", "shop"];
const PATIENCE: Duration = Duration::from_secs(180);

/// Event `i` of a run: a survey in one of three channels, now, 30 minutes or 3 hours old; every
/// 23rd is two days old (late), every 17th is invalid in one of four ways, and every 11th valid
/// one is a ticket whose first response feeds the shipped `first_response_seconds` measure.
fn event(i: usize, t0: i64) -> Vec<u8> {
    let channel = CHANNELS[i % 3];
    let age = [0, 30 * MINUTE, 180 * MINUTE][(i / 3) % 3];
    let ts = if i % 23 == 22 {
        t0 - 48 * 60 * MINUTE
    } else {
        t0 - age
    };
    if i % 17 == 16 {
        return match (i / 17) % 4 {
            0 => format!("{{\"id\": \"e{i}\", \"ts\": {ts}, \"scores\"").into_bytes(),
            1 => vec![0xff, 0xfe, b'{', (i % 251) as u8],
            2 => {
                serde_json::to_vec(&json!({"id": format!("e{i}"), "ts": ts, "scores": {"csat": 9}}))
                    .unwrap()
            }
            _ => serde_json::to_vec(
                &json!({"id": format!("e{i}"), "ts": ts, "dims": {"channel": channel}}),
            )
            .unwrap(),
        };
    }
    if i % 11 == 5 {
        let first_response_s = (i * 37) % 7_200;
        return serde_json::to_vec(&json!({"id": format!("e{i}"), "ts": ts, "kind": "ticket",
            "ticket": {"first_response_s": first_response_s}, "dims": {"channel": channel}}))
        .unwrap();
    }
    let mut scores = json!({"nps": (i * 7) % 11});
    if i % 2 == 0 {
        scores["csat"] = json!(1 + (i * 3) % 5);
    }
    serde_json::to_vec(&json!({"id": format!("e{i}"), "ts": ts, "kind": "survey", "scores": scores, "dims": {"channel": channel}}))
        .unwrap()
}

fn events(range: std::ops::Range<usize>, t0: i64) -> Vec<Vec<u8>> {
    range.map(|i| event(i, t0)).collect()
}

/// (index, window, channel) → (sum, count).
type Indices = BTreeMap<(String, String, String), (f64, f64)>;

/// Why the oracle rejects a payload (the reason code manyi must give), or None if it is valid.
fn invalid_reason(payload: &[u8]) -> Option<&'static str> {
    let Ok(text) = std::str::from_utf8(payload) else {
        return Some("invalid_utf8");
    };
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Some("invalid_json");
    };
    let scores = &v["scores"];
    if scores.is_null() && v["kind"] != "ticket" {
        return Some("empty_event");
    }
    if scores["csat"]
        .as_u64()
        .is_some_and(|c| !(1..=5).contains(&c))
    {
        return Some("score_out_of_range");
    }
    None
}

/// The offline recomputation over the messages of the topic.
fn oracle(messages: &[(i32, i64, Vec<u8>)]) -> Indices {
    let now = now_ms();
    let mut out = Indices::new();
    for (_, _, payload) in messages {
        if invalid_reason(payload).is_some() {
            continue;
        }
        let v: Value = serde_json::from_slice(payload).unwrap();
        let ts = v["ts"].as_i64().unwrap();
        let channel = v["dims"]["channel"].as_str().unwrap().to_owned();
        let mut values = vec![];
        if let Some(n) = v["scores"]["nps"].as_u64() {
            values.push((
                "nps",
                [-100.0, 0.0, 100.0][(n >= 7) as usize + (n >= 9) as usize],
            ));
        }
        if let Some(c) = v["scores"]["csat"].as_u64() {
            values.push(("csat", if c >= 4 { 100.0 } else { 0.0 }));
        }
        if let Some(s) = v["ticket"]["first_response_s"].as_f64() {
            values.push(("first_response_seconds", s));
        }
        for (window, len) in WINDOWS {
            // Bucket rounding moves a window's start by at most one bucket: the ages used
            // (0, 30 min, 3 h, 2 days) are far from every edge.
            if now - ts >= len {
                continue;
            }
            for (index, x) in &values {
                let e = out
                    .entry((index.to_string(), window.to_owned(), channel.clone()))
                    .or_default();
                e.0 += x;
                e.1 += 1.0;
            }
        }
    }
    out
}

/// `manyi_index_sum`/`_count` of nps, csat and first response in the checked windows, summed
/// over replicas.
fn served(scrapes: &[Vec<Sample>]) -> Indices {
    let mut out = Indices::new();
    for s in scrapes.iter().flatten() {
        let slot = match s.name.as_str() {
            "manyi_index_sum" => 0,
            "manyi_index_count" => 1,
            _ => continue,
        };
        let l = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
        let (index, window) = (l("index"), l("window"));
        let checked = ["nps", "csat", "first_response_seconds"];
        if !checked.contains(&index.as_str()) || !WINDOWS.iter().any(|w| w.0 == window) {
            continue;
        }
        let e = out.entry((index, window, l("channel"))).or_default();
        if slot == 0 {
            e.0 += s.value;
        } else {
            e.1 += s.value;
        }
    }
    out.retain(|_, (_, count)| *count > 0.0);
    out
}

/// Waits until the replicas together serve exactly the oracle over the whole topic.
fn wait_exact(replicas: &[&Manyi], brokers: &str, topic: &str, partitions: i32) -> Indices {
    let messages = read_topic(brokers, topic, partitions);
    let start = Instant::now();
    loop {
        let expected = oracle(&messages);
        let scrapes: Vec<Vec<Sample>> = replicas.iter().filter_map(|m| m.scrape()).collect();
        let got = served(&scrapes);
        if got == expected && scrapes.len() == replicas.len() {
            return got;
        }
        if start.elapsed() > PATIENCE {
            let diff: Vec<_> = expected
                .iter()
                .filter(|(k, v)| got.get(*k) != Some(*v))
                .map(|(k, v)| (k, v, got.get(k)))
                .collect();
            panic!(
                "served indices never matched the oracle over {} messages; (key, expected, served): {diff:?}; extra: {:?}",
                messages.len(),
                got.keys().filter(|k| !expected.contains_key(*k)).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn counter(s: &[Sample], name: &str, label: (&str, &str)) -> f64 {
    s.iter()
        .filter(|x| x.name == name && x.labels.get(label.0).map(String::as_str) == Some(label.1))
        .map(|x| x.value)
        .sum()
}

/// Messages this process counted (applied + invalid + late).
fn consumed(m: &Manyi) -> f64 {
    let s = m.scrape().unwrap_or_default();
    ["applied", "invalid", "late"]
        .iter()
        .map(|o| counter(&s, "manyi_messages_total", ("outcome", o)))
        .sum()
}

/// Waits until the process has counted `n` messages, then checks it stays there.
fn wait_consumed(m: &Manyi, n: f64) {
    let start = Instant::now();
    while consumed(m) < n && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        consumed(m),
        n,
        "messages counted by this process (each exactly once)"
    );
}

fn wait_committed_to_end(brokers: &str, group: &str, topic: &str, partitions: i32) {
    let ends = end_offsets(brokers, topic, partitions);
    let start = Instant::now();
    loop {
        let c = committed(brokers, group, topic, partitions);
        if c == ends {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "committed {c:?} never reached the end offsets {ends:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn invalid_messages_go_to_the_dead_letter_topic_with_their_envelope() {
    let _g = serial();
    let broker = Kafka::shared();
    let (topic, dlq) = (unique("fb"), unique("fb-dlq"));
    broker.create_topic(&topic, 2);
    broker.create_topic(&dlq, 1);
    let mut cfg = RunConfig::new(&broker.brokers(), &topic, &unique("g"));
    cfg.dead_letter_topic = Some(dlq.clone());
    let manyi = Manyi::start(&cfg);

    let t0 = now_ms();
    let payloads = events(0..400, t0);
    let placed = produce(&broker.brokers(), &topic, &payloads, 2);
    wait_exact(&[&manyi], &broker.brokers(), &topic, 2);

    let invalid: BTreeMap<(i32, i64), (&Vec<u8>, &str)> = payloads
        .iter()
        .zip(&placed)
        .filter_map(|(p, at)| invalid_reason(p).map(|r| (*at, (p, r))))
        .collect();
    assert_eq!(invalid.len(), 400 / 17);
    eventually("every dead letter written", PATIENCE, || {
        end_offsets(&broker.brokers(), &dlq, 1)[0] >= invalid.len() as i64
    });
    let letters = read_topic(&broker.brokers(), &dlq, 1);
    assert_eq!(
        letters.len(),
        invalid.len(),
        "one dead letter per invalid message"
    );
    let mut seen = BTreeSet::new();
    for (_, _, body) in &letters {
        let env: manyi::ingest::Envelope = serde_json::from_slice(body).expect("envelope");
        assert_eq!(env.source_topic, topic);
        let at = (env.source_partition, env.source_offset);
        let (original, reason) = invalid[&at];
        assert_eq!(env.reason, reason, "reason of {at:?}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&env.payload_base64)
            .unwrap();
        assert_eq!(&bytes, original, "original bytes of {at:?}");
        assert!(env.dead_lettered_at_ms >= t0);
        assert!(seen.insert(at), "{at:?} dead-lettered twice");
    }
    wait_committed_to_end(&broker.brokers(), &cfg.group, &topic, 2);
    let s = manyi.scrape().unwrap();
    assert_eq!(
        counter(&s, "manyi_dead_letters_total", ("result", "ok")),
        invalid.len() as f64
    );
    assert_eq!(
        counter(&s, "manyi_messages_total", ("outcome", "invalid")),
        invalid.len() as f64
    );
    println!(
        "dead letters: {} invalid of 400 messages, envelopes checked",
        invalid.len()
    );
}

#[test]
fn kill_9_and_restart_rebuilds_the_windows_exactly() {
    let _g = serial();
    let broker = Kafka::shared();
    let topic = unique("fb");
    broker.create_topic(&topic, 3);
    let cfg = RunConfig::new(&broker.brokers(), &topic, &unique("g"));
    let bs = broker.brokers();
    let t0 = now_ms();
    const N: usize = 20_000;

    let mut first = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..N, t0), 3);
    wait_exact(&[&first], &bs, &topic, 3);
    // No wait for the commit: whatever was applied but not yet committed is read again live.
    first.kill();
    produce(&bs, &topic, &events(N..N + 3_000, t0), 3);
    let at_kill = committed(&bs, &cfg.group, &topic, 3);
    println!("committed at kill -9: {at_kill:?}");
    let at_restart: i64 = at_kill.iter().map(|c| c.max(&0)).sum();

    let started = Instant::now();
    let second = Manyi::start(&cfg);
    wait_exact(&[&second], &bs, &topic, 3);
    let rebuilt_in = started.elapsed();
    // Counters count each message once across both lives: only what was not committed is new.
    let end: i64 = end_offsets(&bs, &topic, 3).iter().sum();
    wait_consumed(&second, (end - at_restart) as f64);
    println!(
        "restart: {} events replayed into the windows and {} consumed live in {:.2} s",
        at_restart,
        end - at_restart,
        rebuilt_in.as_secs_f64()
    );
}

#[test]
fn replicas_joining_and_dying_add_up_to_the_oracle() {
    let _g = serial();
    let broker = Kafka::shared();
    let topic = unique("fb");
    broker.create_topic(&topic, 4);
    let cfg = RunConfig::new(&broker.brokers(), &topic, &unique("g"));
    let bs = broker.brokers();
    let t0 = now_ms();

    let mut a = Manyi::start(&cfg);
    let b = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..2_000, t0), 4);
    wait_exact(&[&a, &b], &bs, &topic, 4);

    // A third replica joins while the stream goes on.
    let producer = {
        let (bs, topic) = (bs.clone(), topic.clone());
        std::thread::spawn(move || {
            for k in 0..10 {
                produce(
                    &bs,
                    &topic,
                    &events(2_000 + k * 300..2_300 + k * 300, t0),
                    4,
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let c = Manyi::start(&cfg);
    producer.join().unwrap();
    wait_exact(&[&a, &b, &c], &bs, &topic, 4);

    // One stops mid-stream (SIGTERM: it drains, commits and leaves the group). kill -9 of a
    // replica mid-stream is its own test below.
    let producer = {
        let (bs, topic) = (bs.clone(), topic.clone());
        std::thread::spawn(move || {
            for k in 0..10 {
                produce(
                    &bs,
                    &topic,
                    &events(5_000 + k * 300..5_300 + k * 300, t0),
                    4,
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(a.terminate(PATIENCE).success());
    producer.join().unwrap();
    wait_exact(&[&b, &c], &bs, &topic, 4);

    // Consumer lag only for owned partitions: the live replicas export disjoint sets that cover
    // the topic once the group has settled.
    let lag_partitions = |m: &Manyi| -> BTreeSet<String> {
        m.scrape()
            .unwrap_or_default()
            .iter()
            .filter(|s| s.name == "manyi_consumer_lag_messages")
            .map(|s| s.labels["partition"].clone())
            .collect()
    };
    eventually("lag exported once per partition", PATIENCE, || {
        let (pb, pc) = (lag_partitions(&b), lag_partitions(&c));
        pb.is_disjoint(&pc) && pb.len() + pc.len() == 4 && !pb.is_empty() && !pc.is_empty()
    });
    println!("rebalance: 8000 messages, 2 joins, 1 stop mid-stream, sums over replicas exact");
}

#[test]
fn broker_outage_keeps_serving_reports_not_ready_and_loses_nothing() {
    let _g = serial();
    let mut broker = Kafka::start();
    let topic = unique("fb");
    broker.create_topic(&topic, 2);
    let mut cfg = RunConfig::new(&broker.brokers(), &topic, &unique("g"));
    // The shipped session timeout (30 s) outlasts the outage. A longer outage makes librdkafka
    // give up the assignment: the windows are then dropped and rebuilt by replay on reconnect.
    cfg.properties
        .insert("session.timeout.ms".into(), "30000".into());
    cfg.properties
        .insert("heartbeat.interval.ms".into(), "3000".into());
    let bs = broker.brokers();
    let t0 = now_ms();
    let manyi = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..1_000, t0), 2);
    let before = wait_exact(&[&manyi], &bs, &topic, 2);
    eventually("ready", PATIENCE, || manyi.readyz() == Some(200));

    broker.stop();
    let down = Instant::now();
    // The stream goes on: the producer buffers while the broker is away.
    let producer = {
        let (bs, topic) = (bs.clone(), topic.clone());
        std::thread::spawn(move || {
            produce_with(
                &bs,
                &topic,
                &events(1_000..2_000, t0),
                2,
                &[("reconnect.backoff.max.ms", "1000")],
            )
        })
    };
    eventually("/readyz 503 while the broker is down", PATIENCE, || {
        manyi.readyz() == Some(503)
    });
    while down.elapsed() < Duration::from_secs(20) {
        // The last indices are still served.
        assert_eq!(
            served(&[manyi.scrape().expect("metrics while down")]),
            before
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    broker.restart();
    producer.join().unwrap();
    wait_exact(&[&manyi], &bs, &topic, 2);
    eventually("ready again", PATIENCE, || manyi.readyz() == Some(200));
    wait_committed_to_end(&bs, &cfg.group, &topic, 2);
    println!(
        "outage: broker down {:.0} s, 2000 messages exact",
        down.elapsed().as_secs_f64()
    );
}

#[test]
fn sigterm_drains_commits_and_exits_zero() {
    let _g = serial();
    let broker = Kafka::shared();
    let topic = unique("fb");
    broker.create_topic(&topic, 2);
    let cfg = RunConfig::new(&broker.brokers(), &topic, &unique("g"));
    let bs = broker.brokers();
    let t0 = now_ms();
    let deadline = Duration::from_secs(10) + PATIENCE;

    // Idle at SIGTERM: everything read is committed.
    let mut m = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..3_000, t0), 2);
    wait_exact(&[&m], &bs, &topic, 2);
    let status = m.terminate(deadline);
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        committed(&bs, &cfg.group, &topic, 2),
        end_offsets(&bs, &topic, 2),
        "SIGTERM commits what was applied"
    );

    // Busy at SIGTERM: in-flight messages are finished and committed, nothing is read twice.
    let mut m = Manyi::start(&cfg);
    eventually("rebuilt", PATIENCE, || {
        served(&[m.scrape().unwrap_or_default()]).len() == oracle(&read_topic(&bs, &topic, 2)).len()
    });
    assert_eq!(
        consumed(&m),
        0.0,
        "a restart after a clean stop reprocesses nothing"
    );
    produce(&bs, &topic, &events(3_000..23_000, t0), 2);
    eventually("mid-stream", PATIENCE, || consumed(&m) > 0.0);
    let status = m.terminate(deadline);
    assert!(status.success(), "exit status {status}");
    let at_stop: i64 = committed(&bs, &cfg.group, &topic, 2)
        .iter()
        .map(|c| c.max(&0))
        .sum();

    let m = Manyi::start(&cfg);
    wait_exact(&[&m], &bs, &topic, 2);
    let end: i64 = end_offsets(&bs, &topic, 2).iter().sum();
    wait_consumed(&m, (end - at_stop) as f64);
    println!("sigterm: stopped at {at_stop} of {end}; 2 clean stops, exact");
}

#[test]
fn sasl_scram_with_the_password_from_the_environment() {
    let _g = serial();
    // The SCRAM credentials are added when the storage is formatted, before the first start.
    let password = "s3cret-Scram-pw-7f2c";
    let broker = Kafka::start_secured(Security::Scram {
        user: "manyi".into(),
        password: password.into(),
    });
    let topic = unique("fb");
    broker.create_topic(&topic, 2);
    let bs = broker.brokers();
    let sasl = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "SCRAM-SHA-256"),
        ("sasl.username", "manyi"),
        ("sasl.password", password),
    ];
    // The listener authenticates: a wrong password gets no metadata.
    {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let mut cc = common::topic::client(&bs);
        for (k, v) in &sasl[..3] {
            cc.set(*k, *v);
        }
        let wrong: BaseConsumer = cc
            .set("sasl.password", "not-the-password")
            .create()
            .unwrap();
        let refused = wrong.fetch_metadata(None, Duration::from_secs(10));
        assert!(refused.is_err(), "a wrong SCRAM password was accepted");
    }
    let t0 = now_ms();
    let payloads = events(0..500, t0);
    let placed = produce_with(&bs, &topic, &payloads, 2, &sasl);

    let mut cfg = RunConfig::new(&bs, &topic, &unique("g"));
    for (k, v) in &sasl[..3] {
        cfg.properties.insert(k.to_string(), v.to_string());
    }
    cfg.properties
        .insert("sasl.password".into(), "env:MANYI_SASL_PASSWORD".into());
    cfg.env
        .push(("MANYI_SASL_PASSWORD".into(), password.into()));
    let manyi = Manyi::start(&cfg);
    let messages: Vec<(i32, i64, Vec<u8>)> = placed
        .iter()
        .zip(payloads)
        .map(|(&(p, o), b)| (p, o, b))
        .collect();
    let start = Instant::now();
    while served(&[manyi.scrape().unwrap_or_default()]) != oracle(&messages) {
        assert!(
            start.elapsed() < PATIENCE,
            "nothing consumed over SASL/SCRAM"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = common::process::get(manyi.addr, "/metrics").unwrap().1;
    assert!(!metrics.contains(password), "the password is in /metrics");
    assert!(
        !manyi.log().contains(password),
        "the password is in the log"
    );
    println!(
        "sasl: 500 messages over SASL_PLAINTEXT/SCRAM-SHA-256, password from env, never shown"
    );
}

#[test]
fn dead_letter_topic_unavailable_holds_the_partition_then_delivers() {
    let _g = serial();
    let broker = Kafka::shared();
    let (topic, dlq) = (unique("fb"), unique("fb-dlq"));
    broker.create_topic(&topic, 1);
    let bs = broker.brokers();
    // The dead-letter topic does not exist yet and the broker does not create topics on demand
    // (auto.create.topics.enable=false): every dead-letter write fails until it is created below.
    let mut cfg = RunConfig::new(&bs, &topic, &unique("g"));
    cfg.dead_letter_topic = Some(dlq.clone());
    let t0 = now_ms();
    const N: usize = 60;
    let payloads = events(0..N, t0);
    let placed = produce(&bs, &topic, &payloads, 1);
    let messages: Vec<(i32, i64, Vec<u8>)> = placed
        .iter()
        .zip(&payloads)
        .map(|(&(p, o), b)| (p, o, b.clone()))
        .collect();
    let invalid: Vec<i64> = messages
        .iter()
        .filter(|(_, _, b)| invalid_reason(b).is_some())
        .map(|(_, o, _)| *o)
        .collect();
    assert_eq!(invalid, [16, 33, 50]);
    let first = invalid[0];
    let manyi = Manyi::start(&cfg);

    let errors = |m: &Manyi| {
        counter(
            &m.scrape().expect("metrics while stuck"),
            "manyi_dead_letters_total",
            ("result", "error"),
        )
    };
    eventually("a failed dead-letter write", PATIENCE, || {
        errors(&manyi) >= 1.0
    });
    // Everything before the invalid message is applied and committed, nothing at or after it.
    eventually("committed up to the invalid message", PATIENCE, || {
        committed(&bs, &cfg.group, &topic, 1) == [first]
    });
    let stuck_at = errors(&manyi);
    eventually("the write retried and failed again", PATIENCE, || {
        errors(&manyi) > stuck_at
    });
    let s = manyi.scrape().expect("still serving");
    assert_eq!(
        committed(&bs, &cfg.group, &topic, 1),
        [first],
        "the partition advanced past an invalid message that was not dead-lettered"
    );
    assert_eq!(
        served(std::slice::from_ref(&s)),
        oracle(&messages[..first as usize]),
        "only the messages before the invalid one are in the windows"
    );
    assert_eq!(consumed(&manyi), first as f64);
    assert_eq!(
        counter(&s, "manyi_dead_letters_total", ("result", "ok")),
        0.0
    );
    let failed_writes = errors(&manyi);

    // The topic becomes writable: the held envelope goes out, then the rest of the partition.
    broker.create_topic(&dlq, 1);
    wait_exact(&[&manyi], &bs, &topic, 1);
    wait_committed_to_end(&bs, &cfg.group, &topic, 1);
    wait_consumed(&manyi, N as f64);
    eventually("every dead letter written", PATIENCE, || {
        end_offsets(&bs, &dlq, 1)[0] >= invalid.len() as i64
    });
    let letters: Vec<i64> = read_topic(&bs, &dlq, 1)
        .iter()
        .map(|(_, _, body)| {
            let env: manyi::ingest::Envelope = serde_json::from_slice(body).expect("envelope");
            assert_eq!(env.source_topic, topic);
            env.source_offset
        })
        .collect();
    assert_eq!(
        letters, invalid,
        "each invalid message dead-lettered once, in order"
    );
    let s = manyi.scrape().unwrap();
    assert_eq!(
        counter(&s, "manyi_dead_letters_total", ("result", "ok")),
        3.0
    );
    assert_eq!(
        counter(&s, "manyi_messages_total", ("outcome", "invalid")),
        3.0
    );
    println!(
        "dead-letter topic unavailable: held at offset {first} through {failed_writes} failed writes; \
         after it was created {N} messages exact, 3 envelopes, committed to the end"
    );
}

/// TLS handshakes the broker refused, from its log (the SocketServer logs each at INFO).
fn failed_handshakes(broker: &Kafka) -> usize {
    broker.log().matches("SSL handshake failed").count()
}

#[test]
fn tls_with_a_self_signed_certificate_end_to_end() {
    let _g = serial();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    // Kafka serves TLS itself: its CLIENT listener is SSL with a PEM keystore of this certificate.
    let broker = Kafka::start_secured(Security::Tls {
        cert_pem: cert.cert.pem(),
        key_pem: cert.key_pair.serialize_pem(),
    });
    let topic = unique("fb");
    broker.create_topic(&topic, 2);
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let ca = ca.display().to_string();
    let bs = broker.brokers();
    let tls = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", ca.as_str()),
    ];
    // The listener is TLS only: a plaintext client gets no metadata.
    {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let plain: BaseConsumer = common::topic::client(&bs).create().unwrap();
        assert!(
            plain.fetch_metadata(None, Duration::from_secs(5)).is_err(),
            "the SSL listener answered a plaintext client"
        );
    }
    let refused_before = failed_handshakes(&broker);

    let t0 = now_ms();
    let payloads = events(0..500, t0);
    let placed = produce_with(&bs, &topic, &payloads, 2, &tls);
    let mut cfg = RunConfig::new(&bs, &topic, &unique("g"));
    for (k, v) in tls {
        cfg.properties.insert(k.into(), v.into());
    }
    let manyi = Manyi::start(&cfg);
    let messages: Vec<(i32, i64, Vec<u8>)> = placed
        .iter()
        .zip(payloads)
        .map(|(&(p, o), b)| (p, o, b))
        .collect();
    let start = Instant::now();
    while served(&[manyi.scrape().unwrap_or_default()]) != oracle(&messages) {
        assert!(start.elapsed() < PATIENCE, "nothing consumed over TLS");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        failed_handshakes(&broker),
        refused_before,
        "a TLS handshake of the producer or manyi failed"
    );

    // The CA setting is honoured: a manyi trusting another CA refuses the broker's certificate.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let wrong_ca = tmp.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, other.cert.pem()).unwrap();
    let mut wrong = RunConfig::new(&bs, &topic, &unique("g"));
    wrong.properties = cfg.properties.clone();
    wrong
        .properties
        .insert("ssl.ca.location".into(), wrong_ca.display().to_string());
    let refused = Manyi::start(&wrong);
    eventually("a refused certificate", PATIENCE, || {
        failed_handshakes(&broker) > refused_before
            && refused.log().contains("certificate verify failed")
    });
    assert_eq!(consumed(&refused), 0.0);
    assert!(served(&[refused.scrape().unwrap_or_default()]).is_empty());
    println!(
        "tls: 500 messages over SSL served by Kafka with a self-signed CA; a wrong CA is refused"
    );
}

/// Lag exported by each replica: the partitions it owns.
fn lag_partitions(m: &Manyi) -> BTreeSet<String> {
    m.scrape()
        .unwrap_or_default()
        .iter()
        .filter(|s| s.name == "manyi_consumer_lag_messages")
        .map(|s| s.labels["partition"].clone())
        .collect()
}

/// Whether the replicas export lag for disjoint sets of partitions that cover `0..partitions`.
fn owned_once(replicas: &[&Manyi], partitions: usize) -> bool {
    let sets: Vec<BTreeSet<String>> = replicas.iter().map(|m| lag_partitions(m)).collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<&String> = sets.iter().flatten().collect();
    total == partitions && union.len() == partitions
}

/// Produces events `from..from + batches * 300` in batches of 300, 300 ms apart, on a thread.
fn stream(
    brokers: &str,
    topic: &str,
    from: usize,
    batches: usize,
    partitions: i32,
    t0: i64,
) -> std::thread::JoinHandle<Vec<(i32, i64)>> {
    let (bs, topic) = (brokers.to_owned(), topic.to_owned());
    std::thread::spawn(move || {
        let mut placed = Vec::new();
        for k in 0..batches {
            let range = from + k * 300..from + (k + 1) * 300;
            placed.extend(produce(&bs, &topic, &events(range, t0), partitions));
            std::thread::sleep(Duration::from_millis(300));
        }
        placed
    })
}

/// Each payload with how often it occurs (a multiset: some invalid payloads repeat).
fn payload_counts<'a>(
    payloads: impl IntoIterator<Item = &'a Vec<u8>>,
) -> BTreeMap<&'a [u8], usize> {
    let mut out = BTreeMap::new();
    for p in payloads {
        *out.entry(p.as_slice()).or_default() += 1;
    }
    out
}

#[test]
fn kill_9_of_one_of_three_replicas_mid_stream_survivors_take_over() {
    kill_9_of_one_of_three_replicas(None);
}

/// The same with incremental rebalances: librdkafka revokes and assigns only the partitions that
/// move, and manyi keeps the windows of the partitions a survivor already owned.
#[test]
fn kill_9_of_one_of_three_replicas_with_cooperative_sticky_assignment() {
    kill_9_of_one_of_three_replicas(Some("cooperative-sticky"));
}

fn kill_9_of_one_of_three_replicas(strategy: Option<&str>) {
    let _g = serial();
    let broker = Kafka::shared();
    let topic = unique("fb");
    const P: i32 = 6;
    broker.create_topic(&topic, P);
    let mut cfg = RunConfig::new(&broker.brokers(), &topic, &unique("g"));
    if let Some(s) = strategy {
        cfg.properties
            .insert("partition.assignment.strategy".into(), s.into());
    }
    let bs = broker.brokers();
    let t0 = now_ms();

    let mut a = Manyi::start(&cfg);
    let b = Manyi::start(&cfg);
    let c = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..3_000, t0), P);
    wait_exact(&[&a, &b, &c], &bs, &topic, P);
    // All three must have joined: a replica whose join is still in flight owns nothing yet, and
    // the other two would own every partition until the next rebalance.
    eventually("each partition owned once by 3 replicas", PATIENCE, || {
        owned_once(&[&a, &b, &c], P as usize)
            && [&a, &b, &c].iter().all(|m| !lag_partitions(m).is_empty())
    });
    let a_owned = lag_partitions(&a);
    assert!(!a_owned.is_empty(), "the replica to kill owns no partition");

    // kill -9 while the stream goes on: the group coordinator expires it after the session
    // timeout (6 s here) and the survivors get its partitions, rebuilding their windows by replay.
    let producer = stream(&bs, &topic, 3_000, 12, P, t0);
    std::thread::sleep(Duration::from_millis(1_500));
    let logged_at_kill = [b.log().len(), c.log().len()];
    a.kill();
    let killed = Instant::now();
    let mut took_over = None;
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        let (pb, pc) = (lag_partitions(&b), lag_partitions(&c));
        if owned_once(&[&b, &c], P as usize) && !pb.is_empty() && !pc.is_empty() {
            took_over = Some(killed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took_over = took_over.expect("the survivors never owned every partition");
    if strategy == Some("cooperative-sticky") {
        // Incremental: the survivors were assigned the dead one's partitions and revoked none.
        let since_kill: Vec<String> = [&b, &c]
            .iter()
            .zip(logged_at_kill)
            .map(|(m, at)| m.log()[at..].to_owned())
            .collect();
        assert!(
            since_kill.iter().all(|l| !l.contains("partitions revoked")),
            "a survivor had partitions revoked under cooperative-sticky: {since_kill:?}"
        );
        assert!(since_kill.iter().any(|l| l.contains("partitions assigned")));
    }
    producer.join().unwrap();
    let exact_at = wait_exact(&[&b, &c], &bs, &topic, P);
    assert!(!exact_at.is_empty());
    // Nothing lost, nothing written twice: the topic holds each produced payload once.
    let messages = read_topic(&bs, &topic, P);
    let produced = events(0..6_600, t0);
    assert_eq!(
        payload_counts(messages.iter().map(|(_, _, p)| p)),
        payload_counts(&produced),
        "the topic holds each produced message exactly once"
    );
    wait_committed_to_end(&bs, &cfg.group, &topic, P);
    println!(
        "kill -9 of 1 of 3 replicas mid-stream ({} assignment): {} partitions of the killed one \
         taken over in {:.1} s (session timeout 6 s); 6600 messages exact over the 2 survivors",
        strategy.unwrap_or("default"),
        a_owned.len(),
        took_over.as_secs_f64()
    );
}

#[test]
fn three_brokers_kill_9_of_the_partition_leader_mid_stream() {
    let _g = serial();
    let mut cluster = Kafka::start_cluster(3);
    let topic = unique("fb");
    const P: i32 = 3;
    let (dlq, follow_ups) = (unique("fb-dlq"), unique("fb-followup"));
    for (t, partitions) in [(&topic, P), (&dlq, 1), (&follow_ups, 2)] {
        cluster.create_topic_with(t, partitions, 3, &[("min.insync.replicas", "2")]);
    }
    let bs = cluster.brokers();
    let mut cfg = RunConfig::new(&bs, &topic, &unique("g"));
    cfg.dead_letter_topic = Some(dlq.clone());
    cfg.follow_up_topic = Some(follow_ups.clone());
    let t0 = now_ms();

    let a = Manyi::start(&cfg);
    let b = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..3_000, t0), P);
    wait_exact(&[&a, &b], &bs, &topic, P);

    // kill -9 of the broker leading partition 0 while the stream goes on (acks=all, idempotent).
    let leader = cluster.leader(&topic, 0);
    let producer = stream(&bs, &topic, 3_000, 12, P, t0);
    std::thread::sleep(Duration::from_millis(1_500));
    cluster.node(leader).kill();
    let killed = Instant::now();
    eventually("a new leader for partition 0", PATIENCE, || {
        let l = cluster.leader(&topic, 0);
        l >= 0 && l != leader
    });
    let elected = killed.elapsed();
    let placed = producer.join().unwrap();
    assert_eq!(placed.len(), 3_600, "every message acknowledged");
    wait_exact(&[&a, &b], &bs, &topic, P);
    // Nothing lost, nothing written twice: each acknowledged payload is in the topic once.
    let messages = read_topic(&bs, &topic, P);
    let produced = events(0..6_600, t0);
    assert_eq!(
        payload_counts(messages.iter().map(|(_, _, p)| p)),
        payload_counts(&produced),
        "the topic holds each produced message exactly once"
    );
    wait_committed_to_end(&bs, &cfg.group, &topic, P);

    // The killed broker comes back and catches up: every partition is fully in sync again.
    cluster.restart();
    eventually("every partition in sync on 3 replicas", PATIENCE, || {
        cluster
            .partition_state(&topic)
            .iter()
            .all(|(l, isr)| *l >= 0 && isr.len() == 3)
    });
    produce(&bs, &topic, &events(6_600..7_200, t0), P);
    wait_exact(&[&a, &b], &bs, &topic, P);
    wait_committed_to_end(&bs, &cfg.group, &topic, P);

    // The dead-letter and follow-up producers (acks=all, idempotent) wrote through the failover:
    // one dead letter per invalid message and one follow-up per NPS detractor. A copy is written
    // again only by the documented at-least-once re-sends: a message read again after a
    // rebalance (the killed broker may be the group coordinator: the session times out) or a
    // write whose delivery failed and was retried. The producers themselves never duplicate
    // (idempotence): no two copies of one source carry the same producer timestamp.
    let messages = read_topic(&bs, &topic, P);
    let letters = routed(&bs, &dlq, 1, |b| {
        let env: manyi::ingest::Envelope = serde_json::from_slice(b).expect("envelope");
        (env.source_partition, env.source_offset)
    });
    let followed = routed(&bs, &follow_ups, 2, |b| {
        let f: manyi::ingest::follow_up::FollowUp = serde_json::from_slice(b).expect("follow-up");
        (f.source.partition, f.source.offset)
    });
    let want_letters = sources(&messages, |p| invalid_reason(p).is_some());
    let want_followed = sources(&messages, |p| {
        invalid_reason(p).is_none()
            && serde_json::from_slice::<Value>(p).unwrap()["scores"]["nps"]
                .as_u64()
                .is_some_and(|n| n <= 6)
    });
    let resent = assert_routed_once("dead letters", &letters, &want_letters, &messages)
        + assert_routed_once("follow-ups", &followed, &want_followed, &messages);
    let scrapes = [a.scrape().unwrap(), b.scrape().unwrap()];
    let read_again = consumed(&a) + consumed(&b) - messages.len() as f64;
    let failed: f64 = scrapes
        .iter()
        .flat_map(|s| {
            [
                counter(s, "manyi_dead_letters_total", ("result", "error")),
                counter(s, "manyi_follow_ups_total", ("result", "error")),
            ]
        })
        .sum();
    assert!(
        resent as f64 <= read_again + failed,
        "{resent} copies sent again, but only {read_again} messages were read twice and \
         {failed} writes failed"
    );
    println!(
        "3 brokers, RF 3, min.insync 2: leader {leader} of partition 0 killed mid-stream, new \
         leader in {:.1} s; 7200 messages exact over 2 replicas; {} dead letters and {} \
         follow-ups all written, {resent} copies sent again ({read_again} messages read twice \
         after a rebalance, {failed} failed writes retried), none duplicated by a producer; \
         the broker rejoined in sync",
        elected.as_secs_f64(),
        want_letters.len(),
        want_followed.len()
    );
}

/// Source (partition, offset) of a message → the producer timestamps of the copies routed for it.
type Routed = BTreeMap<(i32, i64), Vec<i64>>;

/// The sources of the messages that `pick` selects.
fn sources(messages: &[(i32, i64, Vec<u8>)], pick: impl Fn(&[u8]) -> bool) -> BTreeSet<(i32, i64)> {
    messages
        .iter()
        .filter(|(_, _, p)| pick(p))
        .map(|(p, o, _)| (*p, *o))
        .collect()
}

/// Reads `topic` back and groups its records by the source that `source` finds in each.
fn routed(
    brokers: &str,
    topic: &str,
    partitions: i32,
    source: impl Fn(&[u8]) -> (i32, i64),
) -> Routed {
    let mut out = Routed::new();
    for r in read_records(brokers, topic, partitions) {
        out.entry(source(&r.payload))
            .or_default()
            .push(r.timestamp_ms);
    }
    out
}

/// Fails unless exactly the `want` sources were routed, none of them twice by a producer.
/// Returns how many copies were sent again.
fn assert_routed_once(
    what: &str,
    got: &Routed,
    want: &BTreeSet<(i32, i64)>,
    messages: &[(i32, i64, Vec<u8>)],
) -> usize {
    let payload = |at: &(i32, i64)| {
        messages
            .iter()
            .find(|(p, o, _)| (*p, *o) == *at)
            .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
    };
    let show = |keys: Vec<&(i32, i64)>| {
        let first: Vec<String> = keys
            .iter()
            .take(5)
            .map(|k| format!("{k:?} {:?}", payload(k)))
            .collect();
        format!("{}, first: {first:#?}", keys.len())
    };
    let missing: Vec<_> = want.iter().filter(|k| !got.contains_key(k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains(k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} sources written, {} expected; missing {}; unexpected {}",
        got.len(),
        want.len(),
        show(missing),
        show(extra)
    );
    let duplicated: Vec<_> = got
        .iter()
        .filter(|(_, ts)| ts.iter().collect::<BTreeSet<_>>().len() < ts.len())
        .map(|(k, _)| k)
        .collect();
    assert!(
        duplicated.is_empty(),
        "{what}: the same copy written twice (a producer duplicate) for {}",
        show(duplicated)
    );
    got.values().map(|ts| ts.len() - 1).sum()
}

#[test]
fn partitions_added_while_running_are_picked_up() {
    let _g = serial();
    let broker = Kafka::shared();
    let topic = unique("fb");
    broker.create_topic(&topic, 2);
    let bs = broker.brokers();
    let mut cfg = RunConfig::new(&bs, &topic, &unique("g"));
    // librdkafka finds new partitions when it refreshes metadata (every 5 minutes by default).
    cfg.properties
        .insert("topic.metadata.refresh.interval.ms".into(), "2000".into());
    let t0 = now_ms();
    let a = Manyi::start(&cfg);
    let b = Manyi::start(&cfg);
    produce(&bs, &topic, &events(0..2_000, t0), 2);
    wait_exact(&[&a, &b], &bs, &topic, 2);

    broker.add_partitions(&topic, 5);
    let producer = stream(&bs, &topic, 2_000, 10, 5, t0);
    eventually("the 5 partitions owned once", PATIENCE, || {
        owned_once(&[&a, &b], 5)
    });
    producer.join().unwrap();
    wait_exact(&[&a, &b], &bs, &topic, 5);
    let ends = end_offsets(&bs, &topic, 5);
    assert!(
        ends[2..].iter().all(|&e| e > 0),
        "the new partitions hold messages: {ends:?}"
    );
    wait_committed_to_end(&bs, &cfg.group, &topic, 5);
    println!("partitions 2 → 5 while running: 5000 messages exact over 2 replicas, ends {ends:?}");
}

const GROUP_TOOL: &str = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";

/// LAG per partition of `topic` as Kafka's own `kafka-consumer-groups --describe` prints it.
fn group_tool_lag(broker: &Kafka, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let out = broker.cli(GROUP_TOOL, &["--describe", "--group", group]);
    let mut rows = out.lines().map(str::split_whitespace).map(Vec::from_iter);
    let header = rows
        .find(|r| r.first() == Some(&"GROUP"))
        .unwrap_or_else(|| panic!("no header in the group tool's output:\n{out}"));
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (t, p, lag) = (col("TOPIC"), col("PARTITION"), col("LAG"));
    rows.filter(|r| r.len() == header.len() && r[t] == topic)
        .map(|r| {
            let lag = r[lag]
                .parse()
                .unwrap_or_else(|_| panic!("no LAG for partition {}:\n{out}", r[p]));
            (r[p].parse().unwrap(), lag)
        })
        .collect()
}

/// `manyi_consumer_lag_messages` per partition of `topic`.
fn gauge_lag(m: &Manyi, topic: &str) -> BTreeMap<i32, i64> {
    m.scrape()
        .unwrap_or_default()
        .iter()
        .filter(|s| s.name == "manyi_consumer_lag_messages" && s.labels["topic"] == topic)
        .map(|s| (s.labels["partition"].parse().unwrap(), s.value as i64))
        .collect()
}

#[test]
fn consumer_lag_agrees_with_kafkas_consumer_group_tool() {
    let _g = serial();
    let broker = Kafka::shared();
    let (topic, dlq) = (unique("fb"), unique("fb-dlq"));
    broker.create_topic(&topic, 2);
    let bs = broker.brokers();
    // The dead-letter topic does not exist yet (auto.create.topics.enable=false): manyi holds
    // each partition at its first invalid message, so its committed offset stays put while it
    // keeps fetching. The lag is then well above 0 and constant: both readings must agree
    // exactly, with no allowance for a batch committed between them.
    let mut cfg = RunConfig::new(&bs, &topic, &unique("g"));
    cfg.dead_letter_topic = Some(dlq.clone());
    let m = Manyi::start(&cfg);
    let t0 = now_ms();
    produce(&bs, &topic, &events(0..2_000, t0), 2);
    let ends = end_offsets(&bs, &topic, 2);
    // Events 16 and 33 are the first invalid ones, at offsets 8 and 16 of partitions 0 and 1.
    eventually(
        "committed up to the first invalid messages",
        PATIENCE,
        || committed(&bs, &cfg.group, &topic, 2) == [8, 16],
    );
    let held: BTreeMap<i32, i64> = BTreeMap::from([(0, ends[0] - 8), (1, ends[1] - 16)]);
    eventually("manyi's lag gauge at the held lag", PATIENCE, || {
        gauge_lag(&m, &topic) == held
    });
    let tool = group_tool_lag(broker, &cfg.group, &topic);
    assert_eq!(tool, held, "Kafka's group tool, partition → LAG");
    assert_eq!(gauge_lag(&m, &topic), held, "manyi's gauge after the tool");
    println!("lag while held: manyi {held:?}, Kafka's group tool {tool:?}");

    // Caught up: once the dead-letter topic exists, both say 0 for every partition.
    broker.create_topic(&dlq, 1);
    wait_committed_to_end(&bs, &cfg.group, &topic, 2);
    let zero = BTreeMap::from([(0, 0), (1, 0)]);
    eventually("manyi's lag gauge at 0", PATIENCE, || {
        gauge_lag(&m, &topic) == zero
    });
    assert_eq!(group_tool_lag(broker, &cfg.group, &topic), zero);
}

#[test]
fn a_consumer_without_read_on_the_topic_is_not_ready_and_says_why() {
    let _g = serial();
    let password = "acl-Scram-pw-31d9";
    let broker = Kafka::start_with_acls(Security::Scram {
        user: "manyi".into(),
        password: password.into(),
    });
    let topic = unique("fb");
    broker.create_topic(&topic, 2);
    // Produced as the super user, over INTERNAL: there is something to read.
    produce(
        &broker.internal_brokers(),
        &topic,
        &events(0..200, now_ms()),
        2,
    );
    let group = unique("g");
    // READ on the group (joining it, committing to it), nothing on the topic.
    broker.cli(
        "org.apache.kafka.tools.AclCommand",
        &[
            "--add",
            "--allow-principal",
            "User:manyi",
            "--operation",
            "Read",
            "--group",
            &group,
        ],
    );
    let mut cfg = RunConfig::new(&broker.brokers(), &topic, &group);
    for (k, v) in [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "SCRAM-SHA-256"),
        ("sasl.username", "manyi"),
        ("sasl.password", password),
    ] {
        cfg.properties.insert(k.into(), v.into());
    }
    // librdkafka looks at an unauthorized subscribed topic again only at its periodic metadata
    // refresh (default 5 min; with it, manyi was still not ready 3 min after the grant below).
    cfg.properties
        .insert("topic.metadata.refresh.interval.ms".into(), "5000".into());
    let m = Manyi::start(&cfg);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        assert_eq!(m.readyz(), Some(503), "/readyz without READ on the topic");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(consumed(&m), 0.0);
    // Not a silent stall: the log names the failure and the topic.
    let log = m.log();
    let said = log
        .lines()
        .find(|l| l.contains("Topic authorization failed") && l.contains(&topic));
    assert!(
        said.is_some(),
        "no log line names the topic authorization failure:\n{log}"
    );
    println!(
        "acl: 20 s not ready, nothing consumed; manyi said: {}",
        said.unwrap()
    );

    // The ACL was the only thing missing: with READ on the topic it becomes ready and reads.
    broker.cli(
        "org.apache.kafka.tools.AclCommand",
        &[
            "--add",
            "--allow-principal",
            "User:manyi",
            "--operation",
            "Read",
            "--topic",
            &topic,
        ],
    );
    eventually("ready once READ on the topic is granted", PATIENCE, || {
        m.readyz() == Some(200)
    });
    wait_consumed(&m, 200.0);
}

/// (partition replays, events replayed) to rebuild windows, from the "rebuilding windows by
/// replay" lines of `log` (`until - from` summed).
fn replayed(log: &str) -> (usize, i64) {
    let field = |line: &str, name: &str| -> i64 {
        let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    log.lines()
        .filter(|l| l.contains("rebuilding windows by replay"))
        .map(strip_ansi)
        .fold((0, 0), |(n, events), l| {
            (n + 1, events + field(&l, "until") - field(&l, "from"))
        })
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Rolling restart of three replicas (SIGTERM, start again, one at a time): measures the events
/// replayed, exact afterwards. No timing or count assertion: the numbers are printed.
#[test]
fn rolling_restart_of_three_replicas_eager() {
    rolling_restart(Membership::Dynamic);
}

#[test]
fn rolling_restart_of_three_replicas_cooperative_sticky_static() {
    rolling_restart(Membership::StaticCooperative);
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Membership {
    /// The default (eager) assignment, members without `group.instance.id`.
    Dynamic,
    /// cooperative-sticky with `group.instance.id` per replica.
    StaticCooperative,
}

fn rolling_restart(membership: Membership) {
    let _g = serial();
    let broker = Kafka::shared();
    let topic = unique("fb");
    const P: i32 = 6;
    broker.create_topic(&topic, P);
    let bs = broker.brokers();
    let base = RunConfig::new(&bs, &topic, &unique("g"));
    let cfgs: Vec<RunConfig> = (0..3)
        .map(|i| {
            let mut c = base.clone();
            if membership == Membership::StaticCooperative {
                c.properties.insert(
                    "partition.assignment.strategy".into(),
                    "cooperative-sticky".into(),
                );
                c.properties
                    .insert("group.instance.id".into(), format!("replica-{i}"));
            }
            c
        })
        .collect();
    let t0 = now_ms();
    let mut replicas: Vec<Manyi> = cfgs.iter().map(Manyi::start).collect();
    produce(&bs, &topic, &events(0..3_000, t0), P);
    let all_own = |rs: &[Manyi]| {
        let refs: Vec<&Manyi> = rs.iter().collect();
        owned_once(&refs, P as usize) && rs.iter().all(|m| !lag_partitions(m).is_empty())
    };
    eventually("each partition owned once by 3 replicas", PATIENCE, || {
        all_own(&replicas)
    });
    wait_exact(&replicas.iter().collect::<Vec<_>>(), &bs, &topic, P);
    let mut marks: Vec<usize> = replicas.iter().map(|m| m.log().len()).collect();
    let (mut replays, mut total) = (0, 0);
    let mut count = |(n, events): (usize, i64)| {
        replays += n;
        total += events;
    };
    for i in 0..3 {
        let status = replicas[i].terminate(Duration::from_secs(60));
        assert!(status.success(), "exit status {status}");
        count(replayed(&replicas[i].log()[marks[i]..]));
        replicas[i] = Manyi::start(&cfgs[i]);
        marks[i] = 0;
        eventually("each partition owned once again", PATIENCE, || {
            all_own(&replicas)
        });
        wait_exact(&replicas.iter().collect::<Vec<_>>(), &bs, &topic, P);
    }
    for (m, &at) in replicas.iter().zip(&marks) {
        count(replayed(&m.log()[at..]));
    }
    println!(
        "rolling restart of 3 replicas ({membership:?}, {P} partitions, 3000 events): \
         {replays} partition replays, {total} events replayed"
    );
}
