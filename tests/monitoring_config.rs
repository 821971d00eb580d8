//! The shipped alert rules and Grafana dashboard read as files, with no external tool: every
//! alert in `config/prometheus/manyi.rules.yml` has a promtool unit test, and the dashboard
//! `config/grafana/dashboards/manyi.json` is ready to provision (every panel has a datasource and
//! only non-empty `expr` targets). promtool itself runs them in `alert_rules.rs`.

mod common;

use common::repo_path;
use common::shipped::{dashboard, dashboard_panels, prometheus_dir, rule_test_files};

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
fn grafana_dashboard_is_provisioning_ready() {
    let dash = dashboard();
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

    let panels = dashboard_panels(&dash);
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or("<untitled>");
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
    }
    assert!(
        panels.len() >= 20,
        "only {} panels with queries",
        panels.len()
    );

    for provisioning in [
        "config/grafana/provisioning/dashboards/manyi.yml",
        "config/grafana/provisioning/datasources/prometheus.yml",
    ] {
        let text = std::fs::read_to_string(repo_path(provisioning))
            .unwrap_or_else(|e| panic!("cannot read {provisioning}: {e}"));
        assert!(
            text.contains("apiVersion: 1"),
            "{provisioning} is not a provisioning file"
        );
    }
}
