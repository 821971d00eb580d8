//! `manyi run` as a child process of the real-broker tests, so faults (kill -9, SIGTERM) are
//! real, and the parts of its config that the tests vary.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::topic::free_port;
use super::Sample;

/// Sends a signal with kill(1) (no libc dependency).
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {}", child.id());
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The parts of a `manyi run` config the tests vary.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub dead_letter_topic: Option<String>,
    /// `[close_the_loop] topic`: NPS detractors are published there.
    pub follow_up_topic: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub shutdown_timeout: String,
    /// Environment of the process (for `env:NAME` secrets).
    pub env: Vec<(String, String)>,
}

impl RunConfig {
    pub fn new(brokers: &str, topic: &str, group: &str) -> RunConfig {
        let mut properties = BTreeMap::new();
        // Short sessions so a killed replica's partitions move on within seconds.
        properties.insert("session.timeout.ms".into(), "6000".into());
        properties.insert("heartbeat.interval.ms".into(), "500".into());
        properties.insert("fetch.wait.max.ms".into(), "100".into());
        properties.insert("reconnect.backoff.max.ms".into(), "1000".into());
        properties.insert("statistics.interval.ms".into(), "1000".into());
        RunConfig {
            brokers: brokers.into(),
            topic: topic.into(),
            group: group.into(),
            dead_letter_topic: None,
            follow_up_topic: None,
            properties,
            shutdown_timeout: "10s".into(),
            env: Vec::new(),
        }
    }

    pub fn toml(&self, port: u16) -> String {
        let q = |s: &str| toml_string(s);
        let mut t = format!(
            "[kafka]\nbrokers = {}\ntopics = [{}]\ngroup_id = {}\n",
            q(&self.brokers),
            q(&self.topic),
            q(&self.group)
        );
        if let Some(d) = &self.dead_letter_topic {
            t += &format!("dead_letter_topic = {}\n", q(d));
        }
        t += "[kafka.properties]\n";
        for (k, v) in &self.properties {
            t += &format!("{} = {}\n", q(k), q(v));
        }
        t += &format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\n[model]\npath = {}\n[dimensions]\nlabels = [\"channel\"]\n\
             [pipeline]\nworkers = 2\nshutdown_timeout = {}\n",
            q(&super::model_path().display().to_string()),
            q(&self.shutdown_timeout)
        );
        if let Some(f) = &self.follow_up_topic {
            t += &format!(
                "[close_the_loop]\ntopic = {}\nnps_detractors = true\n",
                q(f)
            );
        }
        t
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A `manyi run --config` child process with its metrics port and its log.
pub struct Manyi {
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Manyi {
    /// Writes the config, starts the binary and waits until `/healthz` answers.
    pub fn start(cfg: &RunConfig) -> Manyi {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manyi.toml");
        std::fs::write(&path, cfg.toml(port)).unwrap();
        let log = File::create(dir.path().join("manyi.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_manyi"))
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "manyi=debug,warn")
            .envs(cfg.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start manyi");
        let mut m = Manyi {
            child: Some(child),
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            dir,
        };
        let start = Instant::now();
        while get(m.addr, "/healthz").is_none() {
            if let Some(s) = m.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("manyi exited with {s}; log:\n{}", m.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "manyi does not answer; log:\n{}",
                m.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("manyi.log")).unwrap_or_default()
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; returns the exit status once it exits (panics after `deadline`).
    pub fn terminate(&mut self, deadline: Duration) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        signal(&c, "TERM");
        match wait_timeout(&mut c, deadline) {
            Some(s) => s,
            None => {
                let _ = c.kill();
                panic!(
                    "manyi still running {deadline:?} after SIGTERM; log:\n{}",
                    self.log()
                );
            }
        }
    }

    /// `/metrics`, or None while it does not answer.
    pub fn scrape(&self) -> Option<Vec<Sample>> {
        let body = get(self.addr, "/metrics")?.1;
        Some(super::parse_exposition(&body))
    }

    /// The HTTP status of `/readyz`.
    pub fn readyz(&self) -> Option<u16> {
        get(self.addr, "/readyz").map(|(s, _)| s)
    }
}

impl Drop for Manyi {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- manyi log ({}) ----\n{}", self.addr, self.log());
        }
    }
}

/// GET `path`: (status, body), or None if nothing answers.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut resp = agent.get(&format!("http://{addr}{path}")).call().ok()?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().ok()?;
    Some((status, body))
}
