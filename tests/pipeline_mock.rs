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

/// The value of the one line of the exposition `text` named `name` that has all of `labels`
/// (for histogram lines, which the sample parser folds together).
fn raw_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let hits: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{'))
                && labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(hits.len() <= 1, "{name} {labels:?} matches {hits:?}");
    hits.first().copied()
}

/// Operational events for the shipped measures, with values worked out by hand in
/// `measures_are_exact_by_hand_and_bad_values_are_counted`. All at time `t`.
fn operational_events(t: i64) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    let mut push = |id: &str, kind: &str, channel: &str, extra: serde_json::Value| {
        let mut e = json!({"id": id, "ts": t, "kind": kind, "dims": {"channel": channel}});
        if let serde_json::Value::Object(m) = extra {
            e.as_object_mut().unwrap().extend(m);
        }
        events.push(ev(e));
    };
    // app tickets: first response 30 s, 600 s, 5400 s (one not answered yet); resolution 7200 s
    // and 90000 s.
    push(
        "t1",
        "ticket",
        "app",
        json!({"ticket": {"first_response_s": 30, "resolution_s": 7200}}),
    );
    push(
        "t2",
        "ticket",
        "app",
        json!({"ticket": {"first_response_s": 600}}),
    );
    push(
        "t3",
        "ticket",
        "app",
        json!({"ticket": {"first_response_s": 5400, "resolution_s": 90000}}),
    );
    push(
        "t4",
        "ticket",
        "app",
        json!({"ticket": {"first_response_s": null}}),
    );
    // web: 4 invitations, 3 survey answers → response rate 75.
    for i in 0..4 {
        push(&format!("i{i}"), "survey_invite", "web", json!({}));
    }
    for (i, csat) in [5, 4, 2].iter().enumerate() {
        push(
            &format!("s{i}"),
            "survey",
            "web",
            json!({"scores": {"csat": csat}}),
        );
    }
    // store: 1 churned, 3 renewed, 1 trial (not a decision) → churn share 25 of 4.
    for (i, status) in ["churned", "renewed", "renewed", "renewed", "trial"]
        .iter()
        .enumerate()
    {
        push(
            &format!("a{i}"),
            "account",
            "store",
            json!({"account": {"status": status}}),
        );
    }
    // wechat: orders by customers with 1, 2 and 7 orders → repeat share 2 of 3.
    for (i, n) in [1, 2, 7].iter().enumerate() {
        push(
            &format!("o{i}"),
            "order",
            "wechat",
            json!({"order": {"customer_order_count": n}}),
        );
    }
    events
}

/// 19 valid operational events above, and 2 with a bad measure field.
const OPERATIONAL_APPLIED: f64 = 19.0;

#[test]
fn measures_are_exact_by_hand_and_bad_values_are_counted() {
    let cluster = mock_cluster(&[("ops", 3), ("ops.dlq", 1)]);
    let brokers = cluster.bootstrap_servers();
    let mut cfg = config(&brokers, &["ops"], "g-measures");
    cfg.kafka.dead_letter_topic = Some("ops.dlq".into());
    // The SLO share also in the composite (a share: 0–100, higher is better).
    let mut measures = manyi::score::config::MeasureConfig::shipped();
    let slo = measures
        .iter_mut()
        .find(|m| m.name == "first_response_within_slo")
        .unwrap();
    slo.composite_weight = 0.5;
    slo.better = Some(manyi::score::measures::Better::Higher);
    cfg.measures = Some(measures);
    let running = start(cfg.validate().unwrap());

    let t = now_ms();
    let mut events = operational_events(t);
    // Bad values: counted as bad_field_value and dead-lettered, not applied.
    events.push(ev(json!({"id": "bad1", "ts": t, "kind": "ticket", "ticket": {"first_response_s": "soon"}, "dims": {"channel": "app"}})));
    events.push(ev(json!({"id": "bad2", "ts": t, "kind": "account", "account": {"status": 1}, "dims": {"channel": "store"}})));
    produce(&brokers, "ops", &events, Some(3));

    let s = wait_for(
        running.addr,
        "19 applied, 2 invalid",
        Duration::from_secs(60),
        |s| {
            value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(OPERATIONAL_APPLIED)
                && value(s, "manyi_messages_total", &[("outcome", "invalid")]) == Some(2.0)
        },
    );
    let text = common::metrics_text(running.addr);
    let get = |name: &str, index: &str, window: &str, channel: &str| {
        value(
            &s,
            name,
            &[("index", index), ("window", window), ("channel", channel)],
        )
    };
    for w in ["5m", "1h", "24h"] {
        assert_eq!(
            get("manyi_index_sum", "first_response_seconds", w, "app"),
            Some(6030.0)
        );
        assert_eq!(
            get("manyi_index_count", "first_response_seconds", w, "app"),
            Some(3.0)
        );
        assert_eq!(
            get("manyi_index", "first_response_seconds", w, "app"),
            Some(2010.0)
        );
        assert_eq!(
            get("manyi_index", "resolution_seconds", w, "app"),
            Some(48600.0)
        );
        assert_eq!(
            get("manyi_index_count", "resolution_seconds", w, "app"),
            Some(2.0)
        );
        assert!(
            (get("manyi_index", "first_response_within_slo", w, "app").unwrap() - 200.0 / 3.0)
                .abs()
                < 1e-9
        );
        assert_eq!(
            get("manyi_index_sum", "survey_response_rate", w, "web"),
            Some(300.0)
        );
        assert_eq!(
            get("manyi_index_count", "survey_response_rate", w, "web"),
            Some(4.0)
        );
        assert_eq!(
            get("manyi_index", "survey_response_rate", w, "web"),
            Some(75.0)
        );
        assert_eq!(get("manyi_index", "churn_share", w, "store"), Some(25.0));
        assert_eq!(
            get("manyi_index_count", "churn_share", w, "store"),
            Some(4.0)
        );
        assert!(
            (get("manyi_index", "repeat_purchase_share", w, "wechat").unwrap() - 200.0 / 3.0).abs()
                < 1e-9
        );
    }
    // The histogram of first response: cumulative counts at the bounds (60, 300, 900, …, +Inf).
    let bucket = |le: &str| {
        raw_value(
            &text,
            "manyi_measure_seconds_bucket",
            &[
                ("index", "first_response_seconds"),
                ("window", "1h"),
                ("channel", "app"),
                ("le", le),
            ],
        )
    };
    for (le, n) in [
        ("60", 1.0),
        ("300", 1.0),
        ("900", 2.0),
        ("3600", 2.0),
        ("7200", 3.0),
        ("+Inf", 3.0),
    ] {
        assert_eq!(bucket(le), Some(n), "le={le}");
    }
    let hist = |suffix: &str| {
        raw_value(
            &text,
            &format!("manyi_measure_seconds_{suffix}"),
            &[
                ("index", "first_response_seconds"),
                ("window", "1h"),
                ("channel", "app"),
            ],
        )
    };
    assert_eq!((hist("sum"), hist("count")), (Some(6030.0), Some(3.0)));
    // Shares have Wilson bounds (1 of 4 at 95 %: 4.56–69.94 %) and the low-sample flag.
    let lo = get("manyi_index_wilson_lower", "churn_share", "5m", "store").unwrap();
    let hi = get("manyi_index_wilson_upper", "churn_share", "5m", "store").unwrap();
    assert!(
        (lo - 4.56).abs() < 0.01 && (hi - 69.94).abs() < 0.01,
        "{lo} {hi}"
    );
    assert_eq!(
        get("manyi_index_low_sample", "churn_share", "5m", "store"),
        Some(1.0)
    );
    // The composite of the app tickets is their SLO share; tickets are not feedback, so no
    // complaint share there.
    assert!((get("manyi_index", "composite", "5m", "app").unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(get("manyi_index", "complaint_share", "5m", "app"), None);
    assert_eq!(
        value(
            &s,
            "manyi_responses_total",
            &[("kind", "ticket"), ("channel", "app")]
        ),
        Some(4.0)
    );
    assert_eq!(
        value(
            &s,
            "manyi_invalid_messages_total",
            &[("reason", "bad_field_value")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(&s, "manyi_dead_letters_total", &[("result", "ok")]),
        Some(2.0)
    );
    let letters: Vec<serde_json::Value> =
        common::consume_all(&brokers, "ops.dlq", 2, Duration::from_secs(30))
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect();
    assert_eq!(letters.len(), 2);
    assert!(
        letters.iter().all(|l| l["reason"] == "bad_field_value"),
        "{letters:?}"
    );
    running.stop().unwrap();
}

#[test]
fn two_replicas_sum_to_the_exact_measures() {
    let cluster = mock_cluster(&[("ops2", 4)]);
    let brokers = cluster.bootstrap_servers();
    let a = start(
        config(&brokers, &["ops2"], "g-replicas")
            .validate()
            .unwrap(),
    );
    let b = start(
        config(&brokers, &["ops2"], "g-replicas")
            .validate()
            .unwrap(),
    );
    // Both replicas own part of the topic before anything is produced, so no rebalance moves
    // an event between them.
    let split = common::poll_until(Duration::from_secs(90), || {
        let (na, nb) = (a.state.owned().len(), b.state.owned().len());
        (na > 0 && nb > 0 && na + nb == 4).then_some((na, nb))
    });
    assert!(split.is_some(), "both replicas own partitions");

    let t = now_ms();
    produce(&brokers, "ops2", &operational_events(t), Some(4));
    let applied = |s: &[common::Sample]| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]).unwrap_or(0.0)
    };
    let both = common::poll_until(Duration::from_secs(60), || {
        let (sa, sb) = (common::scrape(a.addr), common::scrape(b.addr));
        (applied(&sa) + applied(&sb) == OPERATIONAL_APPLIED).then_some((sa, sb))
    });
    let (sa, sb) = both.expect("all events applied by the two replicas");
    assert!(
        applied(&sa) > 0.0 && applied(&sb) > 0.0,
        "each replica applied some"
    );
    let (ta, tb) = (common::metrics_text(a.addr), common::metrics_text(b.addr));

    // Σ over replicas of _sum and _count, then divide: the same values as one process.
    let total = |name: &str, index: &str, channel: &str| {
        let labels = [("index", index), ("window", "1h"), ("channel", channel)];
        value(&sa, name, &labels).unwrap_or(0.0) + value(&sb, name, &labels).unwrap_or(0.0)
    };
    for (index, channel, sum, count) in [
        ("first_response_seconds", "app", 6030.0, 3.0),
        ("resolution_seconds", "app", 97200.0, 2.0),
        ("first_response_within_slo", "app", 200.0, 3.0),
        ("survey_response_rate", "web", 300.0, 4.0),
        ("churn_share", "store", 100.0, 4.0),
        ("repeat_purchase_share", "wechat", 200.0, 3.0),
    ] {
        assert_eq!(total("manyi_index_sum", index, channel), sum, "{index}");
        assert_eq!(total("manyi_index_count", index, channel), count, "{index}");
    }
    // Histogram buckets add up across replicas too.
    let bucket = |le: &str| {
        let labels = [
            ("index", "first_response_seconds"),
            ("window", "1h"),
            ("channel", "app"),
            ("le", le),
        ];
        raw_value(&ta, "manyi_measure_seconds_bucket", &labels).unwrap_or(0.0)
            + raw_value(&tb, "manyi_measure_seconds_bucket", &labels).unwrap_or(0.0)
    };
    for (le, n) in [("60", 1.0), ("900", 2.0), ("7200", 3.0), ("+Inf", 3.0)] {
        assert_eq!(bucket(le), n, "le={le}");
    }
    a.stop().unwrap();
    b.stop().unwrap();
}
