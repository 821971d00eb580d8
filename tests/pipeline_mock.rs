//! The whole pipeline in-process against librdkafka's mock cluster: produce a known set of
//! events, scrape /metrics over HTTP, and check index values worked out by hand.

mod common;

use std::time::Duration;

use common::{config, ev, mock_cluster, now_ms, produce, start, value, wait_for};
use serde_json::json;

#[test]
fn survey_indices_are_exact_and_bad_input_is_counted() {
    let cluster = mock_cluster(&[("fb", 3), ("fb.dlq", 1)]);
    let brokers = cluster.bootstrap_servers();
    let mut cfg = config(&brokers, &["fb"], "g-survey");
    cfg.kafka.dead_letter_topic = Some("fb.dlq".into());
    let running = start(cfg.validate().unwrap());

    let t = now_ms();
    let mut events = Vec::new();
    // app: three promoters, one passive, one detractor → NPS (300 − 100) / 5 = 40.
    for (i, nps) in [9, 10, 9, 7, 3].iter().enumerate() {
        events.push(ev(json!({"id": format!("n{i}"), "ts": t, "kind": "survey", "scores": {"nps": nps}, "dims": {"channel": "app"}})));
    }
    // web: CSAT 5, 4, 2 → 2 of 3 satisfied = 66.67; one of them a complaint → complaint share 33.33.
    events.push(ev(json!({"id": "c1", "ts": t, "kind": "survey", "scores": {"csat": 5}, "dims": {"channel": "web"}})));
    events.push(ev(json!({"id": "c2", "ts": t, "kind": "survey", "scores": {"csat": 4, "ces": 2}, "dims": {"channel": "web"}})));
    events.push(ev(json!({"id": "c3", "ts": t, "kind": "complaint", "scores": {"csat": 2, "ces": 6, "csi": {"quality": 3, "service": 5}}, "dims": {"channel": "web"}})));
    // No channel → "unknown".
    events.push(ev(json!({"id": "u1", "ts": t, "scores": {"csat": 1}})));
    // Bad input: each counted by reason, none stops the pipeline.
    events.push(b"{\"id\": \"broken".to_vec());
    events.push(vec![0xff, 0xfe, 0x00]);
    events.push(ev(json!({"id": "oor", "ts": t, "scores": {"csat": 9}})));
    events.push(ev(json!({"id": "empty", "ts": t})));
    // Two days old: late for the 24h window.
    events.push(ev(json!({"id": "late", "ts": t - 2 * 86_400_000, "scores": {"nps": 10}, "dims": {"channel": "app"}})));
    produce(&brokers, "fb", &events, Some(3));

    let s = wait_for(
        running.addr,
        "9 applied, 4 invalid, 1 late",
        Duration::from_secs(60),
        |s| {
            value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(9.0)
                && value(s, "manyi_messages_total", &[("outcome", "invalid")]) == Some(4.0)
                && value(s, "manyi_messages_total", &[("outcome", "late")]) == Some(1.0)
        },
    );
    let idx = |index: &str, window: &str, channel: &str| {
        value(
            &s,
            "manyi_index",
            &[("index", index), ("window", window), ("channel", channel)],
        )
    };
    for w in ["5m", "1h", "24h"] {
        assert_eq!(idx("nps", w, "app"), Some(40.0));
        assert!((idx("csat", w, "web").unwrap() - 200.0 / 3.0).abs() < 1e-9);
    }
    assert_eq!(
        value(
            &s,
            "manyi_index_sum",
            &[("index", "nps"), ("window", "1h"), ("channel", "app")]
        ),
        Some(200.0)
    );
    assert_eq!(
        value(
            &s,
            "manyi_index_count",
            &[("index", "nps"), ("window", "1h"), ("channel", "app")]
        ),
        Some(5.0)
    );
    assert!((idx("complaint_share", "5m", "web").unwrap() - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(idx("ces", "5m", "web"), Some(4.0));
    // csi: quality 3 and service 5 at weight .25 each → mean 4 → 40.
    assert_eq!(idx("csi", "5m", "web"), Some(40.0));
    assert_eq!(idx("csat", "5m", "unknown"), Some(0.0));
    // No text anywhere: no sentiment series.
    assert_eq!(idx("sentiment", "5m", "app"), None);
    // Composite of the app NPS answers: (nps + 100) / 2 averaged = (100+100+100+50+0)/5 = 70.
    assert_eq!(idx("composite", "5m", "app"), Some(70.0));
    for (reason, n) in [
        ("invalid_json", 1.0),
        ("invalid_utf8", 1.0),
        ("score_out_of_range", 1.0),
        ("empty_event", 1.0),
    ] {
        assert_eq!(
            value(&s, "manyi_invalid_messages_total", &[("reason", reason)]),
            Some(n),
            "{reason}"
        );
    }
    assert_eq!(
        value(&s, "manyi_dead_letters_total", &[("result", "ok")]),
        Some(4.0)
    );
    assert_eq!(
        value(
            &s,
            "manyi_nps_responses_total",
            &[("category", "promoter"), ("channel", "app")]
        ),
        Some(4.0),
        "late events are still responses"
    );
    assert_eq!(
        value(
            &s,
            "manyi_csat_responses_total",
            &[("score", "2"), ("channel", "web")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "manyi_index_low_sample",
            &[("index", "nps"), ("window", "5m"), ("channel", "app")]
        ),
        Some(1.0)
    );
    assert!(value(
        &s,
        "manyi_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))]
    )
    .is_some());
    running.stop().unwrap();
}

#[test]
fn healthz_and_readyz_answer() {
    let cluster = mock_cluster(&[("fb", 1)]);
    let brokers = cluster.bootstrap_servers();
    let running = start(config(&brokers, &["fb"], "g-health").validate().unwrap());
    let health = ureq::get(&format!("http://{}/healthz", running.addr))
        .call()
        .unwrap();
    assert_eq!(health.status(), 200);
    produce(
        &brokers,
        "fb",
        &[ev(json!({"id": "a", "scores": {"csat": 5}}))],
        None,
    );
    wait_for(running.addr, "one applied", Duration::from_secs(60), |s| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(1.0)
    });
    let ready = ureq::get(&format!("http://{}/readyz", running.addr))
        .call()
        .unwrap();
    assert_eq!(ready.status(), 200);
    running.stop().unwrap();
}

#[test]
fn detractors_are_published_for_follow_up() {
    let cluster = mock_cluster(&[("fb", 2), ("followup", 1)]);
    let brokers = cluster.bootstrap_servers();
    let mut cfg = config(&brokers, &["fb"], "g-loop");
    cfg.close_the_loop.topic = Some("followup".into());
    let running = start(cfg.validate().unwrap());
    let t = now_ms();
    let events = vec![
        ev(
            json!({"id": "d1", "ts": t, "kind": "survey", "scores": {"nps": 2, "csat": 1}, "dims": {"channel": "app"}}),
        ),
        ev(
            json!({"id": "p1", "ts": t, "kind": "survey", "scores": {"nps": 10}, "dims": {"channel": "app"}}),
        ),
        ev(
            json!({"id": "d2", "ts": t, "kind": "survey", "scores": {"nps": 6}, "dims": {"channel": "web"}}),
        ),
    ];
    produce(&brokers, "fb", &events, Some(2));
    wait_for(running.addr, "3 applied", Duration::from_secs(60), |s| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(3.0)
    });
    let got = common::consume_all(&brokers, "followup", 2, Duration::from_secs(30));
    let mut docs: Vec<manyi::ingest::follow_up::FollowUp> = got
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    assert_eq!(docs[0].reasons, ["nps_detractor"]);
    assert_eq!(docs[0].scores["csat"], 1);
    assert_eq!(docs[0].dims["channel"], "app");
    assert_eq!(docs[0].source.topic, "fb");
    let s = wait_for(
        running.addr,
        "2 follow-ups acknowledged",
        Duration::from_secs(30),
        |s| value(s, "manyi_follow_ups_total", &[("result", "ok")]) == Some(2.0),
    );
    assert_eq!(
        value(&s, "manyi_follow_ups_total", &[("result", "error")]),
        Some(0.0)
    );
    running.stop().unwrap();
}
