//! A real Prometheus server (Debian's `prometheus` package) for the end-to-end tests: started on
//! a free loopback port with a temp data dir, queried through its HTTP API, killed on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{free_port, poll_until, tools};

pub struct Prometheus {
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Prometheus {
    /// Starts `prometheus` with `config` (a prometheus.yml) and data in `data_dir`, and waits
    /// until it answers `/-/ready`.
    pub fn start(config: &Path, data_dir: &Path, extra: &[&str]) -> Prometheus {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg(format!("--web.listen-address={addr}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = tools::spawn(&mut cmd);
        let mut p = Prometheus { addr, child, log };
        let ready = poll_until(Duration::from_secs(120), || {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", p.log_tail());
            }
            let answer = ureq::get(&format!("http://{addr}/-/ready")).call();
            answer.is_ok_and(|r| r.status() == 200).then_some(())
        });
        assert!(
            ready.is_some(),
            "prometheus not ready after 120 s:\n{}",
            p.log_tail()
        );
        p
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// `GET /api/v1/<path>` with query parameters; the `data` field of a successful answer.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let mut req = ureq::get(&format!("http://{}/api/v1/{path}", self.addr));
        for (k, v) in params {
            req = req.query(*k, *v);
        }
        let body = req
            .call()
            .unwrap_or_else(|e| panic!("GET /api/v1/{path} {params:?}: {e}"))
            .into_body()
            .read_to_string()
            .unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{path} {params:?}: {body}");
        v["data"].clone()
    }

    /// The instant vector of `expr` as `(labels, value)` pairs.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let data = self.api("query", &[("query", expr)]);
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let labels = s["metric"].as_object().cloned().unwrap_or_default();
                    let v = s["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                    (labels, v)
                })
                .collect(),
            Some("scalar") => {
                let v = data["result"][1].as_str().unwrap().parse::<f64>().unwrap();
                vec![(Default::default(), v)]
            }
            other => panic!("{expr}: unexpected result type {other:?}"),
        }
    }

    /// Polls until `done` returns `Some`, or panics after `timeout` naming `what`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Self) -> Option<T>,
    ) -> T {
        poll_until(timeout, || done(self)).unwrap_or_else(|| {
            panic!(
                "timed out after {timeout:?} waiting for {what}; prometheus log:\n{}",
                self.log_tail()
            )
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
