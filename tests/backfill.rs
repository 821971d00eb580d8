//! `manyi backfill` against the mock cluster and the real promtool and Prometheus: produce events
//! with past Kafka and event times, backfill a half-hour range, turn the OpenMetrics file into
//! TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, start Prometheus on those
//! blocks and query values worked out by hand.
//!
//! promtool/prometheus come from Debian's `prometheus` package; when missing this test FAILS
//! (never skips): run `scripts/install-test-deps.sh`.

mod common;

use std::process::Command;

use common::prom::Prometheus;
use common::tools::promtool_ok;
use common::{ev, mock_cluster, model_path, now_ms, produce_at};
use serde_json::json;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}

#[test]
fn backfilled_history_becomes_tsdb_blocks_prometheus_can_query() {
    let cluster = mock_cluster(&[("fb", 2)]);
    let brokers = cluster.bootstrap_servers();
    // A whole hour, three hours back: well inside Prometheus's retention, clear of "now".
    let from = (now_ms() / HOUR - 3) * HOUR;
    let until = from + 30 * MIN;

    // A survey answer on channel app, its Kafka time equal to its event time.
    let survey = |id: String, ts: i64, csat: u8| -> (i64, Vec<u8>) {
        let v = json!({"id": id, "ts": ts, "kind": "survey", "scores": {"csat": csat},
            "dims": {"channel": "app"}});
        (ts, ev(v))
    };
    let mut events = Vec::new();
    // Two days before `from`: before the replay start (from − 24h), never applied.
    events.push(survey("ancient".into(), from - 48 * HOUR, 1));
    // Warm-up, two hours before `from`: in the 24h window at `from`, never in the 1h window.
    for i in 0..10 {
        events.push(survey(format!("w{i}"), from - 2 * HOUR + i * 1000, 5));
    }
    // Undecodable, inside the range.
    events.push((from + 5 * MIN, b"{not json".to_vec()));
    // The drop, 10 minutes into the range.
    for i in 0..10 {
        events.push(survey(format!("d{i}"), from + 10 * MIN, 1));
    }
    produce_at(&brokers, "fb", &events, Some(2));

    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("manyi.toml");
    std::fs::write(
        &cfg,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"fb\"]\n[model]\npath = \"{}\"\n",
            model_path().display()
        ),
    )
    .unwrap();
    let out_file = tmp.path().join("history.om");
    let out = Command::new(env!("CARGO_BIN_EXE_manyi"))
        .args(["backfill", "--config"])
        .arg(&cfg)
        .args(["--from", &rfc3339(from), "--until", &rfc3339(until)])
        .args(["--step", "1m", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "backfill failed:\n{stderr}");
    // The mock cluster cannot look up offsets by time, so backfill reads whole partitions and
    // keeps the range by event time: the ancient event is read and counted as outside. (A real
    // broker would start after it, at offsets_for_times(from − 24h).)
    assert!(
        stderr.contains("cannot look up offsets by time"),
        "{stderr}"
    );
    assert!(stderr.contains("reading: 22 messages\n"), "{stderr}");
    assert!(
        stderr.contains("31 steps (22 messages, 20 applied, 1 invalid, 1 outside the range)"),
        "{stderr}"
    );

    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.ends_with("# EOF\n"), "no # EOF");
    assert!(text.contains("# TYPE manyi_index gauge\n"));
    assert!(!text.contains("_total"), "only gauges are backfilled");

    let blocks = tmp.path().join("data");
    let log = promtool_ok(
        tmp.path(),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            out_file.to_str().unwrap(),
            blocks.to_str().unwrap(),
        ],
    );
    assert!(!log.contains("error"), "{log}");

    let prom_cfg = tmp.path().join("prometheus.yml");
    std::fs::write(&prom_cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let prom = Prometheus::start(&prom_cfg, &blocks, &[]);
    let at = |expr: &str, ms: i64| -> Option<f64> {
        let t = format!("{}", ms / 1000);
        let data = prom.api("query", &[("query", expr), ("time", &t)]);
        let r = data["result"].as_array().unwrap();
        assert!(r.len() <= 1, "{expr}: {r:?}");
        r.first()
            .map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
    };
    let csat = |w: &str| format!(r#"manyi_index{{index="csat", window="{w}", channel="app"}}"#);
    let count =
        |w: &str| format!(r#"manyi_index_count{{index="csat", window="{w}", channel="app"}}"#);
    // At `from`: only the warm-up, all satisfied, in the 24h window; the 1h window is empty.
    assert_eq!(at(&csat("24h"), from), Some(100.0));
    assert_eq!(at(&count("24h"), from), Some(10.0));
    assert_eq!(at(&count("1h"), from), Some(0.0));
    assert_eq!(at(&csat("1h"), from), None);
    // From the drop on: 10 dissatisfied answers in 1h, 10 of 20 satisfied over 24h.
    for t in [from + 10 * MIN, from + 20 * MIN, until] {
        assert_eq!(at(&csat("1h"), t), Some(0.0));
        assert_eq!(at(&count("1h"), t), Some(10.0));
        assert_eq!(at(&csat("24h"), t), Some(50.0));
    }
    // One sample per step: 31 steps of the 24h count series in the range.
    assert_eq!(
        at(&format!("count_over_time({}[31m])", count("24h")), until),
        Some(31.0)
    );
}
