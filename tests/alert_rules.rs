//! Alerting and dashboards as code (issue 5), checked with the real `promtool`.
//!
//! * `promtool check rules` and `promtool test rules` on
//!   `config/prometheus/manyi.rules.yml` and `config/prometheus/tests/*.yml`
//!   (every alert: fires on a real change, silent on noise / small samples,
//!   `ManyiNoFeedback` fires on silence; recording rules give the exact global
//!   ratio across replicas);
//! * `promtool check config` on the example `config/prometheus/prometheus.yml`;
//! * the Grafana dashboard `config/grafana/dashboards/manyi.json`: every panel
//!   has a datasource and only non-empty `expr` targets.
//!
//! `promtool` comes from Debian's `prometheus` package. When it is missing these
//! tests FAIL (they never skip): run `scripts/install-test-deps.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_dir() -> PathBuf {
    root().join("config").join("prometheus")
}

/// Runs promtool with `args` in `dir`; fails the test with a clear message
/// when promtool is not installed or exits unsuccessfully.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let out: Output = match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`promtool` was not found on PATH. It is required for the alert rule tests \
             (Debian package `prometheus`). Run `scripts/install-test-deps.sh` and retry."
        ),
        Err(e) => panic!("could not run promtool {args:?}: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool {args:?} (in {}) failed with {}:\n{text}",
        dir.display(),
        out.status
    );
    text
}

fn rule_test_files() -> Vec<String> {
    let dir = prometheus_dir().join("tests");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
        })
        .map(|p| format!("tests/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no promtool test files in {}",
        dir.display()
    );
    files
}

#[test]
fn promtool_check_rules() {
    let out = promtool(&prometheus_dir(), &["check", "rules", "manyi.rules.yml"]);
    assert!(
        out.contains("SUCCESS"),
        "unexpected promtool output:\n{out}"
    );
}

#[test]
fn promtool_test_rules() {
    let files = rule_test_files();
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    let out = promtool(&prometheus_dir(), &args);
    assert!(
        !out.contains("FAILED"),
        "promtool test rules reported failures:\n{out}"
    );
}

#[test]
fn every_alert_has_a_unit_test() {
    let rules = std::fs::read_to_string(prometheus_dir().join("manyi.rules.yml")).unwrap();
    let tests: String = rule_test_files()
        .iter()
        .map(|f| std::fs::read_to_string(prometheus_dir().join(f)).unwrap())
        .collect();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(str::trim)
        .collect();
    assert!(
        alerts.len() >= 9,
        "expected the alert rules, found {alerts:?}"
    );
    for alert in alerts {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "alert {alert} has no promtool unit test in config/prometheus/tests"
        );
    }
}

#[test]
fn promtool_check_config() {
    let out = promtool(&prometheus_dir(), &["check", "config", "prometheus.yml"]);
    assert!(
        out.contains("SUCCESS"),
        "unexpected promtool output:\n{out}"
    );
}

fn check_panels(panels: &[serde_json::Value], checked: &mut usize) {
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or("<untitled>");
        if panel["type"] == "row" {
            // Collapsed rows keep their panels inside the row.
            if let Some(inner) = panel["panels"].as_array() {
                check_panels(inner, checked);
            }
            continue;
        }
        let ds = &panel["datasource"];
        assert!(
            ds["uid"].as_str().is_some_and(|u| !u.is_empty()),
            "panel {title:?} has no datasource"
        );
        let targets = panel["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {title:?} has no targets"));
        assert!(!targets.is_empty(), "panel {title:?} has no targets");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or("");
            assert!(
                !expr.trim().is_empty(),
                "panel {title:?} has a target without expr"
            );
        }
        *checked += 1;
    }
}

#[test]
fn grafana_dashboard_is_provisioning_ready() {
    let path = root().join("config/grafana/dashboards/manyi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard is valid JSON");
    assert_eq!(dash["uid"], "manyi-overview");
    assert!(dash["schemaVersion"].as_u64().is_some_and(|v| v >= 36));

    let vars = dash["templating"]["list"]
        .as_array()
        .expect("template variables");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("template variable {name} missing"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    assert_eq!(var("window")["type"], "query");
    assert_eq!(var("channel")["multi"], true);
    assert_eq!(var("channel")["includeAll"], true);

    let mut checked = 0;
    check_panels(dash["panels"].as_array().expect("panels"), &mut checked);
    assert!(checked >= 20, "only {checked} panels with queries");

    for provisioning in [
        "config/grafana/provisioning/dashboards/manyi.yml",
        "config/grafana/provisioning/datasources/prometheus.yml",
    ] {
        let text = std::fs::read_to_string(root().join(provisioning))
            .unwrap_or_else(|e| panic!("cannot read {provisioning}: {e}"));
        assert!(
            text.contains("apiVersion: 1"),
            "{provisioning} is not a provisioning file"
        );
    }
}
