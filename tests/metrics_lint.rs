//! `promtool check metrics` on a real scrape of manyi with every family populated. The only
//! findings allowed are the two suffix lints on `manyi_index_sum` / `manyi_index_count`: those
//! names are part of manyi's contract (sum them across replicas, then divide), chosen over the
//! lint's preference that `_sum`/`_count` belong to histograms and summaries.

mod common;

use std::path::Path;
use std::time::Duration;

use common::tools::promtool;
use common::{config, ev, metrics_text, mock_cluster, now_ms, produce, start, value, wait_for};
use serde_json::json;

#[test]
fn promtool_check_metrics_finds_only_the_documented_suffix_lints() {
    let cluster = mock_cluster(&[("fb", 1), ("fb.dlq", 1)]);
    let brokers = cluster.bootstrap_servers();
    let mut cfg = config(&brokers, &["fb"], "g-lint");
    cfg.kafka.dead_letter_topic = Some("fb.dlq".into());
    let running = start(cfg.validate().unwrap());
    let t = now_ms();
    let events: Vec<Vec<u8>> = vec![
        ev(
            json!({"id": "1", "ts": t, "kind": "complaint", "text": "物流太慢了，客服也不回复", "scores": {"csat": 2, "nps": 3, "ces": 6, "csi": {"quality": 4}}, "dims": {"channel": "app"}}),
        ),
        ev(
            json!({"id": "2", "ts": t, "text": "质量很好，价格也便宜", "scores": {"csat": 5, "nps": 10}, "dims": {"channel": "web"}}),
        ),
        // A ticket, so that the first-response histogram is in the scrape too.
        ev(
            json!({"id": "3", "ts": t, "kind": "ticket", "ticket": {"first_response_s": 420, "resolution_s": 7200}, "dims": {"channel": "app"}}),
        ),
        b"not json".to_vec(),
    ];
    produce(&brokers, "fb", &events, None);
    wait_for(running.addr, "all consumed", Duration::from_secs(60), |s| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(3.0)
            && value(s, "manyi_messages_total", &[("outcome", "invalid")]) == Some(1.0)
    });
    let body = metrics_text(running.addr);
    running.stop().unwrap();
    assert!(body.contains("manyi_measure_seconds_bucket{"), "{body}");

    // promtool exits non-zero when it has findings; the findings are what is checked.
    let (_, text) = promtool(Path::new("."), &["check", "metrics"], Some(body.as_bytes()));
    let mut findings: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    findings.sort();
    findings.dedup();
    assert_eq!(
        findings,
        [
            "manyi_index_count non-histogram and non-summary metrics should not have \"_count\" suffix",
            "manyi_index_sum non-histogram and non-summary metrics should not have \"_sum\" suffix",
        ],
        "unexpected promtool findings:\n{text}"
    );
}
