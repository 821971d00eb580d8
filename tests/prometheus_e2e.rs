//! End to end with a real Prometheus server: manyi runs in-process on librdkafka's mock cluster,
//! a scripted stream with a satisfaction drop goes through it, and a `prometheus` child process
//! scrapes it every second with the shipped rules loaded. Everything is checked through
//! Prometheus's HTTP API: the recording rules give the values worked out by hand below (indices
//! and measures, first-response quantiles from the histogram), the drop and first-response SLO
//! alerts fire, and every Grafana dashboard panel's query returns data.
//!
//! `prometheus` comes from Debian's `prometheus` package; when it is missing this test FAILS
//! (never skips): run `scripts/install-test-deps.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::prom::Prometheus;
use common::shipped::{dashboard, dashboard_panels, prometheus_dir};
use common::{config, ev, mock_cluster, now_ms, produce, start};
use serde_json::json;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// Generous: the machine is shared; nothing here measures time.
const DEADLINE: Duration = Duration::from_secs(180);

/// The scripted stream, relative to `t0` (the test's start):
///
/// channel `app`, survey answers with CSAT only (so composite == csat per response):
/// * baseline: 120 × CSAT 5, one every 10 min from t0 − 23 h to t0 − 3 h 10 min: in the 24h
///   window only (the 1h window starts at most 60 min back);
/// * drop: 40 answers in the last 3 minutes: 10 × CSAT 4 (survey), 30 × CSAT 2 (complaints).
///
/// So, by hand:
/// * csat and composite, 1h: 10 × 100 / 40 = 25; 24h: (120 + 10) × 100 / 160 = 81.25;
///   the 1h index is 56.25 points under its 24h baseline with 40 responses: the drop alert
///   (≥ 10 points, ≥ 30 responses) fires for both.
/// * complaint_share, 1h: 30 × 100 / 40 = 75; 24h: 3000 / 160 = 18.75.
///
/// channel `web`: 12 texts with surveys in the last 50 minutes (in both windows), texts naming
/// aspects so that every index and aspect series exists: csat 5, 4, 1 repeated → 1h and 24h csat
/// 800 / 12. Fewer than 30 responses: never alerts. Sentiment values are the model's and are not
/// asserted.
///
/// The measures (shipped definitions), by hand:
/// * app, 40 tickets in the last 3 minutes: 10 answered in 200 s (resolved in 3000 s), 30 in
///   5400 s. Within the 1 h SLO: 10 / 40 = 25 %, from 40 tickets: the SLO alert fires. The
///   histogram's cumulative counts: 10 up to le=300 … le=3600, 40 at le=7200, so p50 =
///   3600 + 3600 × (20 − 10) / 30 = 4800 and p90 = 3600 + 3600 × (36 − 10) / 30 = 6720.
/// * web: 5 invitations and its 4 survey answers (texts 1, 4, 7, 10) → response rate 80;
///   accounts 1 churned, 3 renewed → churn 25; orders by customers with 1 and 3 orders → 50.
fn scripted_stream(t0: i64) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for i in 0..40 {
        let ticket = if i % 4 == 0 {
            json!({"first_response_s": 200, "resolution_s": 3000})
        } else {
            json!({"first_response_s": 5400})
        };
        events.push(ev(
            json!({"id": format!("ticket-{i}"), "ts": t0 - 3 * MIN + i * 2_000,
            "kind": "ticket", "ticket": ticket, "dims": {"channel": "app"}}),
        ));
    }
    let web = [
        json!({"kind": "survey_invite"}),
        json!({"kind": "survey_invite"}),
        json!({"kind": "survey_invite"}),
        json!({"kind": "survey_invite"}),
        json!({"kind": "survey_invite"}),
        json!({"kind": "account", "account": {"status": "churned"}}),
        json!({"kind": "account", "account": {"status": "renewed"}}),
        json!({"kind": "account", "account": {"status": "renewed"}}),
        json!({"kind": "account", "account": {"status": "renewed"}}),
        json!({"kind": "order", "order": {"customer_order_count": 1}}),
        json!({"kind": "order", "order": {"customer_order_count": 3}}),
    ];
    for (i, mut e) in web.into_iter().enumerate() {
        e["id"] = json!(format!("web-ops-{i}"));
        e["ts"] = json!(t0 - 50 * MIN + i as i64 * MIN);
        e["dims"] = json!({"channel": "web"});
        events.push(ev(e));
    }
    for i in 0..120 {
        events.push(ev(
            json!({"id": format!("base-{i}"), "ts": t0 - 23 * HOUR + i * 10 * MIN,
            "kind": "survey", "scores": {"csat": 5}, "dims": {"channel": "app"}}),
        ));
    }
    for i in 0..40 {
        let (kind, csat) = if i % 4 == 0 {
            ("survey", 4)
        } else {
            ("complaint", 2)
        };
        events.push(ev(
            json!({"id": format!("drop-{i}"), "ts": t0 - 3 * MIN + i * 2_000,
            "kind": kind, "scores": {"csat": csat}, "dims": {"channel": "app"}}),
        ));
    }
    let texts = [
        (
            "物流很快，包装也很好，客服态度不错",
            "review",
            json!({"csat": 5, "nps": 10, "ces": 2, "csi": {"quality": 9, "service": 8}}),
        ),
        (
            "质量不错，但是价格太贵了",
            "survey",
            json!({"csat": 4, "nps": 8, "ces": 3, "csi": {"quality": 8, "price": 4}}),
        ),
        (
            "配送太慢了，饭都凉了，客服也不回复，太差了",
            "complaint",
            json!({"csat": 1, "nps": 2, "ces": 6, "csi": {"service": 2}}),
        ),
    ];
    for i in 0..12 {
        let (text, kind, scores) = &texts[i % 3];
        events.push(ev(
            json!({"id": format!("web-{i}"), "ts": t0 - 50 * MIN + i as i64 * 4 * MIN,
            "kind": kind, "text": text, "scores": scores, "dims": {"channel": "web"}}),
        ));
    }
    events
}

/// The shipped rules with only the `for:` durations shortened to 5 s: the shipped ones (5–15
/// minutes) would make this test last a quarter of an hour. Every other line is the shipped file.
fn rules_with_short_for(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(prometheus_dir().join("manyi.rules.yml")).unwrap();
    let mut replaced = 0;
    let text: String = shipped
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            if line.trim_start().starts_with("for: ") {
                replaced += 1;
                format!("{}for: 5s\n", &line[..indent])
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert!(
        replaced >= 9,
        "expected a for: per alert, replaced {replaced}"
    );
    let path = dir.join("manyi.rules.yml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The queries of every panel in the shipped dashboard (rows included), with their titles.
fn dashboard_queries() -> Vec<(String, String)> {
    let dash = dashboard();
    let mut out = Vec::new();
    for panel in dashboard_panels(&dash) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let title = panel["title"].as_str().unwrap_or("");
                out.push((title.to_owned(), expr.to_owned()));
            }
        }
    }
    out
}

#[test]
fn prometheus_scrapes_manyi_evaluates_the_shipped_rules_and_the_drop_alert_fires() {
    let cluster = mock_cluster(&[("fb", 3)]);
    let brokers = cluster.bootstrap_servers();
    let running = start(
        config(&brokers, &["fb"], "g-e2e")
            .validate()
            .expect("valid config"),
    );

    let t0 = now_ms();
    produce(&brokers, "fb", &scripted_stream(t0), Some(3));

    // A trickle of two-day-old (late) events keeps the throughput and latency panels fed with
    // fresh observations without touching any window.
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let (stop, brokers) = (stop.clone(), brokers.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let old = now_ms() - 48 * HOUR;
                produce(
                    &brokers,
                    "fb",
                    &[ev(json!({"id": format!("late-{i}"), "ts": old,
                    "scores": {"csat": 3}, "dims": {"channel": "store"}}))],
                    None,
                );
                i += 1;
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };

    let tmp = tempfile::tempdir().unwrap();
    let rules = rules_with_short_for(tmp.path());
    let prom_cfg = tmp.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: manyi\n    static_configs:\n      - targets: [\"{}\"]\n",
            rules.display(),
            running.addr
        ),
    )
    .unwrap();
    let prom = Prometheus::start(&prom_cfg, &tmp.path().join("data"), &[]);

    // (a) Recording rules: exact values from the stream above.
    let one = |expr: &str| -> Option<f64> {
        let r = prom.query(expr);
        assert!(r.len() <= 1, "{expr} has {} series: {r:?}", r.len());
        r.first().map(|(_, v)| *v)
    };
    prom.wait_for("the drop in the recording rules", DEADLINE, |_| {
        (one(r#"manyi:index_count:sum{index="csat", window="1h", channel="app"}"#) == Some(40.0)
            && one(r#"manyi:index_count:sum{index="csat", window="24h", channel="app"}"#)
                == Some(160.0)
            && one(r#"manyi:index_count:sum{index="csat", window="1h", channel="web"}"#)
                == Some(12.0)
            && one(r#"manyi:index_count:sum{index="first_response_seconds", window="24h", channel="app"}"#)
                == Some(40.0)
            && one(r#"manyi:index_count:sum{index="repeat_purchase_share", window="1h", channel="web"}"#)
                == Some(2.0))
        .then_some(())
    });
    let expect = [
        (
            r#"manyi:index:ratio{index="csat", window="1h", channel="app"}"#,
            25.0,
        ),
        (
            r#"manyi:index:ratio{index="csat", window="24h", channel="app"}"#,
            81.25,
        ),
        (
            r#"manyi:index:ratio{index="composite", window="1h", channel="app"}"#,
            25.0,
        ),
        (
            r#"manyi:index:ratio{index="composite", window="24h", channel="app"}"#,
            81.25,
        ),
        (
            r#"manyi:index:ratio{index="complaint_share", window="1h", channel="app"}"#,
            75.0,
        ),
        (
            r#"manyi:index:ratio{index="complaint_share", window="24h", channel="app"}"#,
            18.75,
        ),
        (
            r#"manyi:index_sum:sum{index="csat", window="24h", channel="app"}"#,
            13_000.0,
        ),
        (
            r#"manyi:index:baseline_24h{index="csat", window="1h", channel="app"}"#,
            81.25,
        ),
        (
            r#"manyi:index:delta_vs_24h{index="csat", window="1h", channel="app"}"#,
            -56.25,
        ),
        (
            r#"manyi:index:ratio{index="csat", window="1h", channel="web"}"#,
            800.0 / 12.0,
        ),
        (
            r#"manyi:index_count:sum_all_channels{index="csat", window="1h"}"#,
            52.0,
        ),
        (
            r#"manyi:index:ratio_all_channels{index="csat", window="1h"}"#,
            1800.0 / 52.0,
        ),
        (
            r#"manyi:index:ratio_all_channels{index="csat", window="24h"}"#,
            13_800.0 / 172.0,
        ),
    ];
    for (expr, want) in expect {
        assert_eq!(one(expr), Some(want), "{expr}");
    }
    // The measures, through the same recording rules; quantiles from the summed buckets.
    for (expr, want) in [
        (
            r#"manyi:index:ratio{index="first_response_within_slo", window="1h", channel="app"}"#,
            25.0,
        ),
        (
            r#"manyi:index:ratio{index="first_response_seconds", window="1h", channel="app"}"#,
            (10.0 * 200.0 + 30.0 * 5400.0) / 40.0,
        ),
        (
            r#"manyi:index:ratio{index="resolution_seconds", window="24h", channel="app"}"#,
            3000.0,
        ),
        (
            r#"manyi:measure_seconds:p50{index="first_response_seconds", window="1h", channel="app"}"#,
            4800.0,
        ),
        (
            r#"manyi:measure_seconds:p90{index="first_response_seconds", window="24h", channel="app"}"#,
            6720.0,
        ),
        (
            r#"manyi:index:ratio{index="survey_response_rate", window="1h", channel="web"}"#,
            80.0,
        ),
        (
            r#"manyi:index:ratio{index="churn_share", window="24h", channel="web"}"#,
            25.0,
        ),
        (
            r#"manyi:index:ratio{index="repeat_purchase_share", window="1h", channel="web"}"#,
            50.0,
        ),
    ] {
        let got = one(expr).unwrap_or_else(|| panic!("{expr}: no value"));
        assert!((got - want).abs() < 1e-9, "{expr}: {got} ≠ {want}");
    }
    // Wilson bounds of csat(app, 1h): p = 0.25, n = 40, z = 1.96 (the rule's constants).
    let (p, n, z) = (0.25f64, 40.0f64, 1.96f64);
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let lower = one(r#"manyi:index:wilson_lower{index="csat", window="1h", channel="app"}"#)
        .expect("wilson_lower");
    let upper = one(r#"manyi:index:wilson_upper{index="csat", window="1h", channel="app"}"#)
        .expect("wilson_upper");
    assert!(
        (lower - 100.0 * (centre - half) / (1.0 + z * z / n)).abs() < 1e-9,
        "{lower}"
    );
    assert!(
        (upper - 100.0 * (centre + half) / (1.0 + z * z / n)).abs() < 1e-9,
        "{upper}"
    );

    // (b) The drop alert fires for app (csat and composite), never for web (12 responses).
    let firing = prom.wait_for("ManyiSatisfactionDrop firing for app", DEADLINE, |p| {
        let alerts = p.api("alerts", &[]);
        let drop: Vec<(String, String, String)> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == "ManyiSatisfactionDrop")
            .map(|a| {
                let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
                (
                    s(&a["labels"]["index"]),
                    s(&a["labels"]["channel"]),
                    s(&a["state"]),
                )
            })
            .collect();
        let is_firing = |index: &str| {
            drop.iter()
                .any(|(i, c, s)| i == index && c == "app" && s == "firing")
        };
        (is_firing("csat") && is_firing("composite")).then_some(drop)
    });
    assert!(
        firing.iter().all(|(_, c, _)| c == "app"),
        "only app dropped: {firing:?}"
    );
    // The first-response SLO alert fires for app (25 % of 40 tickets in time).
    prom.wait_for(
        "ManyiFirstResponseSLOBreach firing for app",
        DEADLINE,
        |p| {
            let alerts = p.api("alerts", &[]);
            alerts["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| {
                    a["labels"]["alertname"] == "ManyiFirstResponseSLOBreach"
                        && a["labels"]["channel"] == "app"
                        && a["state"] == "firing"
                })
                .then_some(())
        },
    );

    // (c) Every dashboard panel's query returns data, for both windows a user would pick.
    let queries = dashboard_queries();
    assert!(queries.len() >= 20, "dashboard queries: {queries:?}");
    for window in ["1h", "24h"] {
        for (title, expr) in &queries {
            let q = expr
                .replace("$window", window)
                .replace("$channel", ".*")
                .replace("$__rate_interval", "15s");
            prom.wait_for(
                &format!("panel {title:?} ({window}) to return data: {q}"),
                DEADLINE,
                |p| p.query(&q).iter().any(|(_, v)| !v.is_nan()).then_some(()),
            );
        }
    }

    stop.store(true, Ordering::Relaxed);
    trickle.join().unwrap();
    drop(prom);
    running.stop().unwrap();
}
