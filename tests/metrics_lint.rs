//! `promtool check metrics` on a real scrape of manyi with every family populated. The only
//! findings allowed are the two suffix lints on `manyi_index_sum` / `manyi_index_count`: those
//! names are part of manyi's contract (sum them across replicas, then divide), chosen over the
//! lint's preference that `_sum`/`_count` belong to histograms and summaries.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{config, mock_cluster, now_ms, produce, start, value, wait_for};
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
        serde_json::to_vec(&json!({"id": "1", "ts": t, "kind": "complaint", "text": "物流太慢了，客服也不回复", "scores": {"csat": 2, "nps": 3, "ces": 6, "csi": {"quality": 4}}, "dims": {"channel": "app"}})).unwrap(),
        serde_json::to_vec(&json!({"id": "2", "ts": t, "text": "质量很好，价格也便宜", "scores": {"csat": 5, "nps": 10}, "dims": {"channel": "web"}})).unwrap(),
        b"not json".to_vec(),
    ];
    produce(&brokers, "fb", &events, None);
    wait_for(running.addr, "all consumed", Duration::from_secs(60), |s| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(2.0)
            && value(s, "manyi_messages_total", &[("outcome", "invalid")]) == Some(1.0)
    });
    let body = ureq::get(&format!("http://{}/metrics", running.addr))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    running.stop().unwrap();

    let mut child = match Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => panic!("promtool is required (Debian package `prometheus`): run scripts/install-test-deps.sh ({e})"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
