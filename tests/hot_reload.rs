//! Hot reload under load: replacing the model file swaps the model atomically while messages
//! flow; nothing is dropped or counted twice, and `manyi_build_info` shows the new version. A
//! broken replacement keeps the running model and is counted.

mod common;

use std::time::Duration;

use common::{config, ev, mock_cluster, now_ms, produce, start, value, wait_for, Sample};
use serde_json::json;

fn model_version(s: &[Sample]) -> Option<String> {
    s.iter()
        .find(|x| x.name == "manyi_build_info")
        .and_then(|x| x.labels.get("model_version").cloned())
}

fn batch(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    let t = now_ms();
    (0..n)
        .map(|i| {
            let text = if i % 2 == 0 { "东西很好，物流也快，非常满意" } else { "质量太差了，客服也不理人，很失望" };
            ev(json!({"id": format!("{prefix}{i}"), "ts": t, "text": text, "dims": {"channel": "app"}}))
        })
        .collect()
}

#[test]
fn replacing_the_model_file_swaps_it_without_losing_or_doubling_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::copy(common::model_path(), &path).unwrap();
    let cluster = mock_cluster(&[("fb", 2)]);
    let brokers = cluster.bootstrap_servers();
    let mut cfg = config(&brokers, &["fb"], "g-reload");
    cfg.model.path = path.clone();
    cfg.model.reload_interval = Duration::from_millis(200);
    let running = start(cfg.validate().unwrap());

    produce(&brokers, "fb", &batch("a", 300), Some(2));
    let s = wait_for(running.addr, "first batch", Duration::from_secs(60), |s| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(300.0)
    });
    let v1 = model_version(&s).expect("build info");

    // A different model: same weights, another name and intercept → another version.
    let mut artifact: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    artifact["name"] = json!("reloaded");
    artifact["intercept"] = json!(artifact["intercept"].as_f64().unwrap() + 0.5);
    let tmp = dir.path().join("model.json.tmp");

    // Produce the second batch from another thread while the file is replaced.
    let producer = {
        let brokers = brokers.clone();
        std::thread::spawn(move || {
            for chunk in 0..6 {
                produce(&brokers, "fb", &batch(&format!("b{chunk}-"), 50), Some(2));
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&tmp, serde_json::to_vec(&artifact).unwrap()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    producer.join().unwrap();

    let s = wait_for(
        running.addr,
        "reload and second batch",
        Duration::from_secs(60),
        |s| {
            model_version(s).is_some_and(|v| v != v1)
                && value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(600.0)
        },
    );
    let v2 = model_version(&s).unwrap();
    assert!(v2.starts_with("reloaded"), "{v2}");
    assert_eq!(
        value(&s, "manyi_model_reloads_total", &[("result", "ok")]),
        Some(1.0)
    );
    // Every message scored exactly once, by one model or the other.
    assert_eq!(
        value(
            &s,
            "manyi_index_count",
            &[("index", "sentiment"), ("window", "5m"), ("channel", "app")]
        ),
        Some(600.0)
    );
    let labels: f64 = ["negative", "neutral", "positive"]
        .iter()
        .map(|l| {
            value(
                &s,
                "manyi_sentiment_responses_total",
                &[("label", l), ("channel", "app")],
            )
            .unwrap_or(0.0)
        })
        .sum();
    assert_eq!(labels, 600.0);

    // A broken file: the running model stays, the failure is counted.
    std::fs::write(&tmp, b"{ not a model").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let s = wait_for(
        running.addr,
        "failed reload counted",
        Duration::from_secs(30),
        |s| value(s, "manyi_model_reloads_total", &[("result", "error")]) == Some(1.0),
    );
    assert_eq!(model_version(&s).as_deref(), Some(v2.as_str()));
    produce(&brokers, "fb", &batch("c", 10), Some(2));
    wait_for(
        running.addr,
        "still scoring",
        Duration::from_secs(30),
        |s| value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(610.0),
    );
    running.stop().unwrap();
}
