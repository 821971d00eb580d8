//! `manyi adapt` end to end on files of events: a synthetic domain where the shipped model cannot
//! know the domain's words (product series, one defective) is learnt from the survey scores; a
//! stream where the shipped model is already as good as the scores allow writes nothing; the
//! artifact records where it came from.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const POSITIVE: [&str; 6] = [
    "质量很好，很满意",
    "物流很快，包装完好",
    "性价比高，推荐购买",
    "客服态度很好",
    "东西不错，会回购",
    "非常好用，好评",
];
const NEGATIVE: [&str; 6] = [
    "质量太差了，要退货",
    "物流太慢了，等了一周",
    "客服态度恶劣",
    "用了两天就坏了",
    "和描述不符，失望",
    "包装破损，很生气",
];
/// Product series of the synthetic domain: the first three fail, the others please. Nothing in
/// the texts that name them says so; only the scores do.
const BAD_SERIES: [&str; 3] = ["X7", "Q3", "M5"];
const GOOD_SERIES: [&str; 3] = ["K9", "A2", "R8"];

/// `n` events a minute apart, each with a CSAT that contradicts its text one time in ten, as
/// real ratings do. `domain` is the share of texts that only name a product series.
fn events(n: usize, domain: f64, seed: u64) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    let t0 = 1_790_000_000_000i64;
    let mut out = String::new();
    for i in 0..n {
        let good = rng.random_bool(0.5);
        let text = if rng.random_bool(domain) {
            let series = if good { &GOOD_SERIES } else { &BAD_SERIES };
            format!(
                "这次买的是{}型号，订单{}",
                series[rng.random_range(0..3)],
                rng.random_range(1..5000)
            )
        } else {
            let texts = if good { &POSITIVE } else { &NEGATIVE };
            format!(
                "{}，订单{}",
                texts[rng.random_range(0..6)],
                rng.random_range(1..5000)
            )
        };
        let satisfied = good != rng.random_bool(0.1);
        let csat = if satisfied {
            rng.random_range(4..=5)
        } else {
            rng.random_range(1..=2)
        };
        let ev = json!({"id": format!("e{i}"), "ts": t0 + i as i64 * 60_000, "kind": "review",
                        "text": text, "scores": {"csat": csat}, "dims": {"channel": "app"}});
        out += &ev.to_string();
        out.push('\n');
    }
    out
}

fn adapt(data: &Path, out: &Path, extra: &[&str]) -> Output {
    adapt_from("--data", data, out, extra)
}

/// `manyi adapt --data FILE` or `--config FILE`, with the tests' bootstrap and alpha grid.
fn adapt_from(flag: &str, source: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_manyi"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("adapt")
        .arg(flag)
        .arg(source)
        .arg("--out")
        .arg(out)
        .args(["--bootstrap", "500", "--alpha", "1,10,100"])
        .args(extra)
        .output()
        .unwrap()
}

/// P(positive) of each text by `model`, through `manyi score`.
fn scores(model: &Path, texts: &[&str]) -> Vec<f64> {
    let out = Command::new(env!("CARGO_BIN_EXE_manyi"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("score")
        .arg("--model")
        .arg(model)
        .args(texts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["p_positive"]
                .as_f64()
                .unwrap()
        })
        .collect()
}

#[test]
fn domain_words_are_learnt_from_the_scores_and_the_artifact_says_from_what() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("events.jsonl");
    std::fs::write(&data, events(1_500, 0.5, 1)).unwrap();
    let model = dir.path().join("adapted.json");
    let out = adapt(&data, &model, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the challenger wins"), "{stderr}");

    // The report on stdout is the provenance written into the artifact.
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let artifact: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(artifact["metadata"]["adaptation"], report);
    assert_eq!(report["forced"], false);
    assert_eq!(report["weak_labels"]["events"], 1_500);
    let rules = &report["weak_labels"]["per_rule"];
    let labelled =
        rules["csat_negative"].as_u64().unwrap() + rules["csat_positive"].as_u64().unwrap();
    assert_eq!(
        labelled,
        report["older_texts"].as_u64().unwrap() + report["held_out_texts"].as_u64().unwrap()
    );
    // The newest fifth was held out.
    let held_out = report["held_out_texts"].as_f64().unwrap();
    assert!((held_out / labelled as f64 - 0.2).abs() < 0.01);
    let c = &report["comparison"];
    assert!(c["accuracy_gain_ci95"][0].as_f64().unwrap() > 0.0, "{c}");
    // 10 % of the scores contradict their text: about 0.9 is the most any model can agree.
    assert!(c["challenger"]["accuracy"].as_f64().unwrap() > 0.85, "{c}");

    // The shipped model cannot tell the series apart; the adapted one can, and it still reads
    // ordinary reviews as before.
    let texts = [
        "这次买的是X7型号",
        "这次买的是K9型号",
        "质量太差了，要退货",
        "非常好用，好评",
    ];
    let shipped = scores(Path::new("models/default.json"), &texts);
    let adapted = scores(&model, &texts);
    assert!(
        (shipped[0] - shipped[1]).abs() < 0.2,
        "shipped: {shipped:?}"
    );
    assert!(adapted[0] < 0.3 && adapted[1] > 0.7, "adapted: {adapted:?}");
    assert!(adapted[2] < 0.3 && adapted[3] > 0.7, "adapted: {adapted:?}");
}

#[test]
fn no_real_gain_writes_nothing_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("plain.jsonl");
    // Only ordinary reviews: the shipped model already agrees with the scores as far as the
    // 10 % of contradicting scores allow.
    std::fs::write(&data, events(1_500, 0.0, 2)).unwrap();
    let model = dir.path().join("m.json");
    let out = adapt(&data, &model, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("not written"), "{stderr}");
    assert!(!model.exists());

    let out = adapt(&data, &model, &["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let artifact: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(artifact["metadata"]["adaptation"]["forced"], true);
}

#[test]
fn too_few_labelled_texts_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("few.jsonl");
    let mut text = events(30, 0.5, 3);
    text += "not json\n{\"id\": \"x\"}\n";
    std::fs::write(&data, text).unwrap();
    let out = adapt(&data, &dir.path().join("m.json"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("too few labelled texts"), "{stderr}");
    assert!(stderr.contains("2 undecodable"), "{stderr}");
}

#[test]
fn the_topics_history_is_read_through_the_config_and_never_committed() {
    // The same synthetic domain, produced to a topic of librdkafka's mock cluster (a real
    // Kafka protocol endpoint), read back by `manyi adapt --config` with a consumer group of
    // its own.
    let cluster = common::mock_cluster(&[("reviews", 2)]);
    let brokers = cluster.bootstrap_servers();
    let payloads: Vec<Vec<u8>> = events(1_200, 0.5, 4)
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .collect();
    common::produce(&brokers, "reviews", &payloads, Some(2));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("manyi.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopics = [\"reviews\"]\ngroup_id = \"svc\"\n\
             [adapt]\ncsat_negative_at_most = 2\ncsat_positive_at_least = 4\n"
        ),
    )
    .unwrap();
    let model = dir.path().join("adapted.json");
    let out = adapt_from("--config", &config, &model, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["weak_labels"]["events"], 1_200, "{stderr}");
    assert!(
        report["source"]
            .as_str()
            .unwrap()
            .starts_with("kafka topics reviews"),
        "{report}"
    );
    assert!(model.exists());
    // Neither the service's group nor adapt's own committed anything.
    for group in ["svc", "svc-adapt"] {
        assert_eq!(
            common::topic::committed(&brokers, group, "reviews", 2),
            [-1, -1],
            "group {group}"
        );
    }
}
