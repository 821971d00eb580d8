//! Alerting as code (issue 5), checked with the real `promtool` (feature `external-tools`):
//!
//! * `promtool check rules` and `promtool test rules` on
//!   `config/prometheus/manyi.rules.yml` and `config/prometheus/tests/*.yml`
//!   (every alert: fires on a real change, silent on noise / small samples,
//!   `ManyiNoFeedback` fires on silence; recording rules give the exact global
//!   ratio across replicas);
//! * `promtool check config` on the example `config/prometheus/prometheus.yml`.
//!
//! The checks that need no promtool (every alert has a unit test, the Grafana
//! dashboard) are in `monitoring_config.rs`. When promtool is missing these tests
//! FAIL (they never skip): run `scripts/install-test-deps.sh`.

mod common;

use common::shipped::{prometheus_dir, rule_test_files};
use common::tools::promtool_ok;

#[test]
fn promtool_check_rules() {
    let out = promtool_ok(&prometheus_dir(), &["check", "rules", "manyi.rules.yml"]);
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
    let out = promtool_ok(&prometheus_dir(), &args);
    assert!(
        !out.contains("FAILED"),
        "promtool test rules reported failures:\n{out}"
    );
}

#[test]
fn promtool_check_config() {
    let out = promtool_ok(&prometheus_dir(), &["check", "config", "prometheus.yml"]);
    assert!(
        out.contains("SUCCESS"),
        "unexpected promtool output:\n{out}"
    );
}
