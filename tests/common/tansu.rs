//! A real Kafka-compatible broker for the integration tests — tansu 0.6.0 on a free loopback
//! port with sqlite storage in a fresh temp dir (its `memory://` engine mishandles offsets) — and
//! `manyi run` as a child process, so faults (kill -9, SIGTERM, broker outage) are real.
//!
//! A missing tansu binary fails the test with the command that installs it; it never skips.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use super::Sample;

/// The tansu binary: on `PATH`, else `$CARGO_HOME/bin` or `~/.cargo/bin`.
pub fn tansu_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tansu"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let candidates = on_path
        .into_iter()
        .chain(cargo_home.map(|h| h.join("bin/tansu")));
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "the tansu broker (0.6.0) is not installed (not on PATH, not in ~/.cargo/bin): \
         run scripts/install-test-deps.sh, which builds it; these tests never skip"
    );
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Waits until `done` holds, panicking with `what` after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One tansu broker. Stopping and restarting keeps its port and its sqlite database.
pub struct Tansu {
    dir: tempfile::TempDir,
    port: u16,
    /// The port advertised in metadata, if not `port` (a TLS front).
    advertised: Option<u16>,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Tansu {
    pub fn start() -> Tansu {
        Tansu::start_with(&[])
    }

    /// Starts with extra `tansu broker` arguments (e.g. `--authentication`).
    pub fn start_with(extra: &[&str]) -> Tansu {
        Tansu::start_advertising(None, extra)
    }

    /// Starts advertising `127.0.0.1:advertised` to clients instead of its own port.
    pub fn start_advertising(advertised: Option<u16>, extra: &[&str]) -> Tansu {
        let bin = tansu_bin();
        let mut t = Tansu {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            advertised,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        t.spawn(&bin);
        t
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `tcp://127.0.0.1:PORT`, for tansu's own commands.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self, bin: &Path) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))
            .expect("tansu log");
        let url = self.url();
        let advertised = match self.advertised {
            Some(port) => format!("tcp://127.0.0.1:{port}"),
            None => url.clone(),
        };
        let child = Command::new(bin)
            .current_dir(self.dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            // Relative: tansu mangles an absolute sqlite path.
            .args(["--storage-engine", "sqlite://tansu.db"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("tansu exited with {status} at start; log:\n{}", self.log());
            }
            let addr: SocketAddr = self.brokers().parse().unwrap();
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "tansu does not accept on {addr}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }

    /// Runs `tansu topic create` and waits until the topic's partitions are in the metadata.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let out = Command::new(tansu_bin())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &self.url()])
            .output()
            .expect("tansu topic create");
        assert!(
            out.status.success(),
            "tansu topic create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c: BaseConsumer = client(&self.brokers()).create().unwrap();
        eventually(
            &format!("topic {name} with {partitions} partitions"),
            Duration::from_secs(30),
            || {
                c.fetch_metadata(Some(name), Duration::from_secs(5))
                    .ok()
                    .and_then(|m| m.topics().first().map(|t| t.partitions().len()))
                    == Some(partitions as usize)
            },
        );
    }

    /// Runs a `tansu` subcommand against this broker (e.g. `user create`).
    pub fn command(&self, args: &[&str]) {
        let out = Command::new(tansu_bin())
            .args(args)
            .args(["--broker", &self.url()])
            .output()
            .expect("tansu command");
        assert!(
            out.status.success(),
            "tansu {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// SIGTERM, then SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(&c, "TERM");
            if wait_timeout(&mut c, Duration::from_secs(15)).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port and database with other extra arguments.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| s.to_string()).collect();
        self.restart();
    }

    /// Starts again on the same port and database.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop tansu before restarting it");
        self.spawn(&tansu_bin());
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// TLS in front of a broker, because tansu 0.6.0 cannot serve TLS:
/// - `tansu broker --cert cert.pem --key key.pem` exits with "error: the argument '--cert <CERT>'
///   cannot be used with '--key <KEY>'" (both are in one clap `group = "tls"`, so exclusive), and
///   without the key no TLS config is built;
/// - even with one, tansu-broker's `broker.rs` builds the acceptor (`let _acceptor = ...`) and
///   never uses it: connections are plain TCP. With `--cert` alone and manyi on
///   `security.protocol = "SSL"`, librdkafka logs "Connection setup timed out in state
///   SSL_HANDSHAKE (after 30029ms in state SSL_HANDSHAKE)" and tansu "early eof".
///
/// So the tests terminate TLS here (rustls, on 127.0.0.1) and forward the plaintext to tansu on
/// loopback; tansu advertises this port, so every client connection, bootstrap or not, is TLS.
pub struct TlsFront {
    pub port: u16,
    /// TLS sessions established and handshakes that failed.
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub rejected: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl TlsFront {
    pub fn start(port: u16, upstream: String, cert_pem: &str, key_pem: &str) -> TlsFront {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key PEM");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .expect("bind the TLS front");
        let (accepted, rejected) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (ok, failed) = (accepted.clone(), rejected.clone());
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                let (ok, failed) = (ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    };
                    ok.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            port,
            accepted,
            rejected,
            _rt: rt,
        }
    }
}

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

pub fn client(brokers: &str) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", brokers);
    cc
}

/// Records the partition and offset of every delivered message, by its index.
struct Deliveries(Mutex<Vec<Option<(i32, i64)>>>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<usize>;
    fn delivery(&self, result: &DeliveryResult<'_>, i: Box<usize>) {
        match result {
            Ok(m) => self.0.lock().unwrap()[*i] = Some((m.partition(), m.offset())),
            Err((e, _)) => panic!("message {i} not delivered: {e}"),
        }
    }
}

/// Produces `payloads` (to partition `i % partitions`) with `props` added, waits until every one
/// is acknowledged (the broker may be down meanwhile), and returns each one's (partition, offset).
pub fn produce_with(
    brokers: &str,
    topic: &str,
    payloads: &[Vec<u8>],
    partitions: i32,
    props: &[(&str, &str)],
) -> Vec<(i32, i64)> {
    let mut cc = client(brokers);
    cc.set("message.timeout.ms", "300000")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    for (k, v) in props {
        cc.set(*k, *v);
    }
    let producer: BaseProducer<Deliveries> = cc
        .create_with_context(Deliveries(Mutex::new(vec![None; payloads.len()])))
        .expect("producer");
    for (i, p) in payloads.iter().enumerate() {
        let key = i.to_string();
        super::send_retrying(
            &producer,
            BaseRecord::with_opaque_to(topic, Box::new(i))
                .key(&key)
                .payload(p)
                .partition(i as i32 % partitions),
        );
    }
    producer.flush(Duration::from_secs(300)).expect("flush");
    let done = producer.context().0.lock().unwrap().clone();
    done.into_iter()
        .enumerate()
        .map(|(i, d)| d.unwrap_or_else(|| panic!("message {i} has no delivery report")))
        .collect()
}

pub fn produce(
    brokers: &str,
    topic: &str,
    payloads: &[Vec<u8>],
    partitions: i32,
) -> Vec<(i32, i64)> {
    produce_with(brokers, topic, payloads, partitions, &[])
}

/// Every message of `topic` (partitions `0..partitions`) as (partition, offset, payload), read by
/// an assigned consumer from the beginning to the high watermark: the offline oracle's input.
pub fn read_topic(brokers: &str, topic: &str, partitions: i32) -> Vec<(i32, i64, Vec<u8>)> {
    let c: BaseConsumer = client(brokers)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let ends = end_offsets(brokers, topic, partitions);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let total: i64 = ends.iter().sum();
    let mut out = Vec::new();
    let start = Instant::now();
    while (out.len() as i64) < total {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "read {} of {total} messages of {topic}",
            out.len()
        );
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("read topic");
            if m.offset() < ends[m.partition() as usize] {
                out.push((
                    m.partition(),
                    m.offset(),
                    m.payload().unwrap_or_default().to_vec(),
                ));
            }
        }
    }
    out.sort_by_key(|(p, o, _)| (*p, *o));
    out
}

/// High watermarks of partitions `0..partitions`.
pub fn end_offsets(brokers: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = client(brokers).create().unwrap();
    (0..partitions)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .collect()
}

/// The group's committed offsets of partitions `0..partitions` (-1 when none).
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = client(brokers).set("group.id", group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}

/// The parts of a `manyi run` config the tests vary.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub brokers: String,
    pub topic: String,
    pub group: String,
    pub dead_letter_topic: Option<String>,
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
