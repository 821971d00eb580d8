//! The binary's user-facing contract: config errors name the field and exit non-zero; the shipped
//! example config is valid; `manyi score` prints JSON lines; `manyi demo` serves the measures.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn manyi() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_manyi"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `cmd` and fails the test with its stderr unless it exits zero.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn shipped_config_is_valid() {
    run_ok(manyi().args(["check-config", "--config", "config/manyi.toml"]));
}

#[test]
fn bad_config_names_the_field_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n[windows]\ndurations = [\"5m\", \"often\"]\n", "windows.durations[1]"),
        ("[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n[http]\nlisten = \"everywhere\"\n", "http.listen"),
        ("[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\ngroupid = \"x\"\n", "groupid"),
        ("[kafka]\nbrokers = \"b:9092\"\n", "topics"),
        ("[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n[adapt]\ncsat_negative_at_most = 4\n", "adapt.csat_positive_at_least"),
        ("[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n[model]\npath = \"models/missing.json\"\n", "models/missing.json"),
        ("[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n[[measures]]\nname = \"wait\"\naggregate = \"mean\"\nfield = \"call..wait\"\n", "measures[0].field"),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = manyi()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} accepted");
        assert!(stderr.contains(field), "case {i}: {stderr}");
    }
    let out = manyi()
        .args(["check-config", "--config", "/nonexistent/manyi.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/manyi.toml"));
}

#[test]
fn score_prints_json_lines_from_args_and_stdin() {
    let out = run_ok(manyi().args(["score", "质量很好，非常满意", "太差了，再也不买了"]));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["label"], "positive");
    assert_eq!(lines[1]["label"], "negative");
    assert!(lines[0]["p_positive"].as_f64().unwrap() > lines[1]["p_positive"].as_f64().unwrap());

    let mut child = manyi()
        .arg("score")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("物流很快\n\n客服态度恶劣\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}

#[test]
fn eval_uses_the_built_in_default_model_from_any_directory_and_counts_empty_texts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("held-out.csv");
    // A byte-order mark, CRLF line ends, a column of its own before `label`, a quoted text with a
    // comma, quotes and a line break, and a row with an empty text.
    std::fs::write(
        &csv,
        "\u{feff}cat,label,review\r\n书籍,1,\"很好，\"\"推荐\"\"\r\n值得一看\"\r\n\
         书籍,0,\r\n水果,0,太难吃了\r\n水果,1, 新鲜 \r\n",
    )
    .unwrap();
    let eval = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_manyi"));
        c.current_dir(dir.path())
            .env_remove("RUST_LOG")
            .args(["eval", "--json", "--data"])
            .arg(&csv);
        c
    };
    let out = run_ok(&mut eval());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let default = manyi::model::Model::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json"),
    )
    .unwrap();
    assert_eq!(report["model_version"], default.version());
    assert_eq!(report["n"], 3, "{report}");
    assert_eq!(report["skipped_empty_texts"], 1, "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("built into manyi"));

    // Any other path must exist: the built-in model never stands in for it.
    let out = eval()
        .args(["--model", "models/mine.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("models/mine.json"));
}

#[test]
fn bench_writes_the_events_it_measures_as_valid_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let write_events = |name: &str| -> String {
        let path = dir.path().join(name);
        run_ok(
            manyi()
                .args([
                    "bench",
                    "--messages",
                    "50",
                    "--text",
                    "long",
                    "--write-events",
                ])
                .arg(&path),
        );
        std::fs::read_to_string(&path).unwrap()
    };
    let body = write_events("events.jsonl");
    let limits = manyi::decode::DecodeLimits {
        max_text_chars: 10_000,
        max_message_bytes: 1 << 20,
    };
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 50);
    for line in &lines {
        let fb = manyi::decode::decode(line.as_bytes(), None, &limits)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        let chars = fb.text.as_deref().unwrap().chars().count();
        assert!((60..=85).contains(&chars), "{chars} chars: {line}");
    }
    // The same seed every time: another pipeline can be timed on the same messages.
    let strip_ts = |s: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["ts"] = serde_json::Value::Null;
                v
            })
            .collect()
    };
    assert_eq!(strip_ts(&body), strip_ts(&write_events("again.jsonl")));
}

/// Both modes run the real pipeline over every message and report what the issue asks for
/// (values are machine-dependent, so only their presence and sanity are checked).
#[test]
fn bench_reports_throughput_latency_cpu_and_memory_in_both_modes() {
    for extra in [&[][..], &["--rate", "4000"][..]] {
        let out = run_ok(
            manyi()
                .args(["bench", "--messages", "6000", "--workers", "2", "--json"])
                .args(extra),
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["messages"], 6000, "{r}");
        assert_eq!(r["workers"], 2, "{r}");
        for key in [
            "msgs_per_sec",
            "mb_per_sec",
            "p50_latency_ms",
            "p99_latency_ms",
            "peak_rss_mb",
        ] {
            let v = r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
            assert!(v.is_finite() && v > 0.0, "{key} in {r}");
        }
        // CPU time is counted in 10 ms ticks: a short span may show none.
        for key in ["cpu_seconds", "cores_used"] {
            let v = r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
            assert!(v.is_finite() && v >= 0.0, "{key} in {r}");
        }
        assert!(
            r["p99_latency_ms"].as_f64() >= r["p50_latency_ms"].as_f64(),
            "{r}"
        );
        let shares = &r["stage_shares"];
        let sum: f64 = ["decode", "score", "windows"]
            .iter()
            .map(|k| shares[k].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{r}");
        match extra {
            [] => assert!(r["rate"].is_null(), "{r}"),
            _ => assert_eq!(r["rate"], 4000, "{r}"),
        }
    }
}

#[test]
fn demo_serves_the_measures_and_the_first_response_histogram() {
    let addr = format!("127.0.0.1:{}", common::free_port());
    let mut child = manyi()
        .args(["demo", "--quiet", "--duration", "300", "--listen", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wanted: Vec<String> = [
        "first_response_seconds",
        "resolution_seconds",
        "first_response_within_slo",
        "survey_response_rate",
        "churn_share",
        "repeat_purchase_share",
    ]
    .iter()
    .flat_map(|i| ["manyi_index_sum", "manyi_index_count"].map(|f| format!("{f}{{index=\"{i}\"")))
    .chain([
        "manyi_measure_seconds_bucket{index=\"first_response_seconds\"".to_owned(),
        "manyi_measure_seconds_count{index=\"resolution_seconds\"".to_owned(),
        "manyi_responses_total{kind=\"survey_invite\"".to_owned(),
    ])
    .collect();
    let mut last = String::new();
    let found = common::poll_until(Duration::from_secs(120), || {
        let body = ureq::get(&format!("http://{addr}/metrics"))
            .call()
            .ok()?
            .into_body()
            .read_to_string()
            .ok()?;
        let done = wanted.iter().all(|w| body.contains(w.as_str()));
        last = body;
        done.then_some(())
    });
    let _ = child.kill();
    let _ = child.wait();
    let missing: Vec<_> = wanted
        .iter()
        .filter(|w| !last.contains(w.as_str()))
        .collect();
    assert!(found.is_some(), "demo never served {missing:?}");
}

#[test]
fn run_computes_the_measures_of_its_config_file() {
    use serde_json::json;
    let cluster = common::mock_cluster(&[("calls", 2)]);
    let brokers = cluster.bootstrap_servers();
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("manyi.toml");
    let model = common::model_path().display().to_string();
    std::fs::write(
        &config,
        format!(
            r#"[kafka]
brokers = "{brokers}"
topics = ["calls"]
group_id = "g-run-measures"
[kafka.properties]
"fetch.wait.max.ms" = "20"
[http]
listen = "127.0.0.1:{port}"
[model]
path = {model:?}

# Hold time, reported in minutes, exported in seconds.
[[measures]]
name = "hold_seconds"
aggregate = "mean"
kinds = ["ticket"]
field = "call.hold_min"
scale = 60

[[measures]]
name = "solved_first_contact"
aggregate = "share"
kinds = ["ticket"]
field = "call.solved"
equals = true

[[measures]]
name = "handle_seconds"
aggregate = "distribution"
kinds = ["ticket"]
field = "call.ended_at"
since = "call.started_at"
buckets = [60, 600]
"#
        ),
    )
    .unwrap();
    run_ok(manyi().args(["check-config", "--config"]).arg(&config));
    let mut child = manyi()
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let t = common::now_ms();
    let call = |id: &str, hold: f64, solved: bool, secs: i64| {
        common::ev(
            json!({"id": id, "ts": t, "kind": "ticket", "dims": {"channel": "hotline"},
            "call": {"hold_min": hold, "solved": solved, "started_at": t - secs * 1000, "ended_at": t}}),
        )
    };
    // Hold 1.5 and 3 minutes → 90 s and 180 s, mean 135; solved 2 of 3; handled in 30 s, 300 s
    // and 900 s → buckets le=60: 1, le=600: 2, +Inf: 3, sum 1230.
    let events = vec![
        call("c1", 1.5, true, 30),
        call("c2", 3.0, false, 300),
        common::ev(
            json!({"id": "c3", "ts": t, "kind": "ticket", "dims": {"channel": "hotline"},
            "call": {"solved": true, "started_at": t - 900_000, "ended_at": t}}),
        ),
    ];
    common::produce(&brokers, "calls", &events, Some(2));

    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut last = String::new();
    let want: Vec<(String, f64)> = [
        (r#"manyi_index_sum{index="hold_seconds",window="1h",channel="hotline"}"#, 270.0),
        (r#"manyi_index_count{index="hold_seconds",window="1h",channel="hotline"}"#, 2.0),
        (r#"manyi_index{index="hold_seconds",window="1h",channel="hotline"}"#, 135.0),
        (r#"manyi_index_sum{index="solved_first_contact",window="1h",channel="hotline"}"#, 200.0),
        (r#"manyi_index_count{index="solved_first_contact",window="1h",channel="hotline"}"#, 3.0),
        (r#"manyi_measure_seconds_bucket{index="handle_seconds",window="1h",channel="hotline",le="60"}"#, 1.0),
        (r#"manyi_measure_seconds_bucket{index="handle_seconds",window="1h",channel="hotline",le="600"}"#, 2.0),
        (r#"manyi_measure_seconds_bucket{index="handle_seconds",window="1h",channel="hotline",le="+Inf"}"#, 3.0),
        (r#"manyi_measure_seconds_sum{index="handle_seconds",window="1h",channel="hotline"}"#, 1230.0),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    let found = common::poll_until(Duration::from_secs(60), || {
        let body = ureq::get(&format!("http://{addr}/metrics"))
            .call()
            .ok()?
            .into_body()
            .read_to_string()
            .ok()?;
        let ok = want.iter().all(|(series, v)| {
            body.lines()
                .any(|l| l.strip_prefix(series.as_str()) == Some(&format!(" {v}")))
        });
        last = body;
        ok.then_some(())
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let seen: Vec<&str> = last
        .lines()
        .filter(|l| {
            l.contains("hold_seconds") || l.contains("solved_first") || l.contains("handle_seconds")
        })
        .collect();
    assert!(found.is_some(), "wanted {want:?}, saw {seen:#?}");
    assert!(status.success(), "manyi run exited with {status}");
    // The shipped measures are replaced, not added to.
    assert!(!last.contains("first_response_seconds"));
}
