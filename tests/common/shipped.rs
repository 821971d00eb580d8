//! The shipped monitoring config as the tests read it: the alert and recording rules with their
//! promtool unit tests (`config/prometheus/`) and the Grafana dashboard (`config/grafana/`).

use std::path::PathBuf;

use serde_json::Value;

/// `config/prometheus/`: `manyi.rules.yml`, its unit tests in `tests/`, an example
/// `prometheus.yml`.
pub fn prometheus_dir() -> PathBuf {
    super::repo_path("config/prometheus")
}

/// The promtool unit-test files as `tests/<name>.yml`, relative to [`prometheus_dir`], sorted.
pub fn rule_test_files() -> Vec<String> {
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

/// The dashboard `config/grafana/dashboards/manyi.json`.
pub fn dashboard() -> Value {
    let path = super::repo_path("config/grafana/dashboards/manyi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("dashboard is valid JSON")
}

/// Every panel of `dashboard` that is not a row, in order. A collapsed row keeps its panels
/// inside it; they are listed in its place.
pub fn dashboard_panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a [Value], out: &mut Vec<&'a Value>) {
        for panel in panels {
            if panel["type"] == "row" {
                walk(panel["panels"].as_array().map_or(&[], Vec::as_slice), out);
            } else {
                out.push(panel);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        dashboard["panels"].as_array().expect("dashboard panels"),
        &mut out,
    );
    out
}
