//! Apache Kafka itself for the integration tests: KRaft nodes (no ZooKeeper) started with the
//! machine's Java from the jars that `scripts/fetch-kafka.sh` copies out of Maven Central, on
//! free 127.0.0.1 ports, with their data, config and logs in the test's temp dir.
//!
//! - `Kafka::start()`: one combined broker+controller node, PLAINTEXT clients;
//! - `Kafka::shared()`: one such node for all the tests of a binary that leave it running;
//! - `Kafka::start_secured(..)`: the same with the client listener on SASL_PLAINTEXT/SCRAM-SHA-256
//!   (credentials added at format time) or SSL (a PEM keystore written from rcgen's certificate);
//! - `Kafka::start_cluster(3)`: three combined nodes, three controller voters, for failover tests.
//!
//! Every node has three listeners: CLIENT (what `brokers()` names; PLAINTEXT, SASL_PLAINTEXT or
//! SSL), INTERNAL (PLAINTEXT, between brokers and for the harness's own admin and readiness
//! requests) and CONTROLLER (the KRaft quorum). Each node is a `java` child process, stopped by
//! its own pid (SIGTERM, then SIGKILL; `Drop` kills). Readiness is a metadata request that lists
//! the node. Topics are created with rdkafka's AdminClient.
//!
//! `Kafka::cli(..)` runs Kafka's own command-line tools (kafka-tools) against the nodes.
//!
//! Missing Java or jars fail the test with the command that fetches them; they never skip.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::process::{signal, wait_timeout};
use super::topic::{client, eventually, free_ports};

/// The pom that `scripts/fetch-kafka.sh` fetches: the single place the Kafka version is named.
const POM: &str = include_str!("../../scripts/kafka/pom.xml");

/// Heap of each node: Kafka's own default is 1 GiB; these tests move a few MB.
const HEAP: &str = "-Xmx384m";

/// The Kafka version of `scripts/kafka/pom.xml` (`<kafka.version>`).
pub fn kafka_version() -> &'static str {
    let start = POM
        .find("<kafka.version>")
        .expect("<kafka.version> in the pom")
        + 15;
    let len = POM[start..].find('<').unwrap();
    &POM[start..start + len]
}

/// The folder of Kafka's jars: `$MANYI_KAFKA_LIBS`, else the cache `scripts/fetch-kafka.sh`
/// fills. Panics with the command to run when the jars are not there.
pub fn kafka_libs() -> PathBuf {
    static LIBS: OnceLock<PathBuf> = OnceLock::new();
    LIBS.get_or_init(|| {
        let version = kafka_version();
        let libs = match std::env::var_os("MANYI_KAFKA_LIBS") {
            Some(p) => PathBuf::from(p),
            None => {
                let cache = std::env::var_os("MANYI_KAFKA_CACHE")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("XDG_CACHE_HOME").map(|c| Path::new(&c).join("manyi"))
                    })
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/manyi"))
                    })
                    .expect("HOME is not set");
                cache.join(format!("kafka-{version}/libs"))
            }
        };
        let jar = libs.join(format!("kafka_2.13-{version}.jar"));
        assert!(
            jar.is_file(),
            "Apache Kafka {version} is not fetched ({} is missing): run scripts/fetch-kafka.sh \
             (or scripts/install-test-deps.sh), which copies its jars from Maven Central; these \
             tests never skip",
            jar.display()
        );
        libs
    })
    .clone()
}

/// The `java` to run Kafka with: `$JAVA_HOME/bin/java`, else `java` on PATH. Panics when there is
/// none or it is older than 17 (Kafka 4's brokers need 17+).
pub fn java() -> PathBuf {
    static JAVA: OnceLock<PathBuf> = OnceLock::new();
    JAVA.get_or_init(|| {
        let java = std::env::var_os("JAVA_HOME")
            .map(|h| Path::new(&h).join("bin/java"))
            .filter(|j| j.is_file())
            .unwrap_or_else(|| PathBuf::from("java"));
        let out = Command::new(&java)
            .arg("-version")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "no Java to run Apache Kafka with ({}: {e}): install a JRE 17+ \
                     (scripts/install-test-deps.sh does), then run scripts/fetch-kafka.sh; \
                     these tests never skip",
                    java.display()
                )
            });
        let text = String::from_utf8_lossy(&out.stderr);
        let major: u32 = text
            .split('"')
            .nth(1)
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        assert!(
            out.status.success() && major >= 17,
            "Apache Kafka {} needs Java 17+, {} says: {text}",
            kafka_version(),
            java.display()
        );
        java
    })
    .clone()
}

/// How clients reach the CLIENT listener.
#[derive(Clone, Debug, Default)]
pub enum Security {
    #[default]
    Plaintext,
    /// SASL_PLAINTEXT with SCRAM-SHA-256; the user is added when the storage is formatted.
    Scram { user: String, password: String },
    /// SSL with this certificate (chain) and PKCS#8 key, both PEM.
    Tls { cert_pem: String, key_pem: String },
}

impl Security {
    fn protocol(&self) -> &'static str {
        match self {
            Security::Plaintext => "PLAINTEXT",
            Security::Scram { .. } => "SASL_PLAINTEXT",
            Security::Tls { .. } => "SSL",
        }
    }
}

/// Whether the nodes authorize requests with ACLs.
#[derive(Clone, Copy, Debug)]
enum Acls {
    Off,
    On,
}

impl Acls {
    fn properties(self) -> &'static str {
        match self {
            Acls::Off => "",
            Acls::On => {
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
                 super.users=User:ANONYMOUS\n\
                 allow.everyone.if.no.acl.found=false\n"
            }
        }
    }
}

/// One KRaft node (broker and controller in one process). Its ports and data survive restarts.
pub struct Node {
    pub id: i32,
    dir: PathBuf,
    client_port: u16,
    internal_port: u16,
    controller_port: u16,
    child: Option<Child>,
}

impl Node {
    pub fn client_addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn internal_addr(&self) -> String {
        format!("127.0.0.1:{}", self.internal_port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let out = std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        if !out.trim().is_empty() {
            s += "\n---- stdout/stderr ----\n";
            s += &out;
        }
        s
    }

    fn properties(&self, voters: &str, security: &Security, nodes: usize) -> String {
        let rf = nodes.min(3);
        let mut p = format!(
            "process.roles=broker,controller\n\
             node.id={id}\n\
             controller.quorum.voters={voters}\n\
             listeners=CLIENT://127.0.0.1:{c},INTERNAL://127.0.0.1:{i},CONTROLLER://127.0.0.1:{k}\n\
             advertised.listeners=CLIENT://127.0.0.1:{c},INTERNAL://127.0.0.1:{i}\n\
             listener.security.protocol.map=CLIENT:{proto},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=INTERNAL\n\
             log.dirs={data}\n\
             num.partitions=1\n\
             default.replication.factor={rf}\n\
             offsets.topic.replication.factor={rf}\n\
             offsets.topic.num.partitions=5\n\
             transaction.state.log.replication.factor={rf}\n\
             transaction.state.log.min.isr={min_isr}\n\
             share.coordinator.state.topic.replication.factor={rf}\n\
             share.coordinator.state.topic.min.isr={min_isr}\n\
             group.initial.rebalance.delay.ms=0\n\
             auto.create.topics.enable=false\n\
             num.network.threads=2\n\
             num.io.threads=4\n\
             num.recovery.threads.per.data.dir=1\n",
            id = self.id,
            c = self.client_port,
            i = self.internal_port,
            k = self.controller_port,
            proto = security.protocol(),
            data = self.dir.join("data").display(),
            min_isr = rf.min(2),
        );
        match security {
            Security::Plaintext => {}
            Security::Scram { .. } => {
                p += "sasl.enabled.mechanisms=SCRAM-SHA-256\n\
                      listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-256\n\
                      listener.name.client.scram-sha-256.sasl.jaas.config=\
                      org.apache.kafka.common.security.scram.ScramLoginModule required;\n";
            }
            Security::Tls { .. } => {
                p += &format!(
                    "listener.name.client.ssl.keystore.type=PEM\n\
                     listener.name.client.ssl.keystore.location={}\n\
                     listener.name.client.ssl.client.auth=none\n",
                    self.dir.join("keystore.pem").display()
                );
            }
        }
        p
    }

    fn spawn(&mut self) {
        let out = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("stdout.log"))
            .expect("kafka stdout log");
        let mut command = Command::new(java());
        // SIGKILL when the thread that started the node exits: no JVM outlives a test binary
        // that dies or exits without dropping its `Kafka` (the shared node below is a static).
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = command
            .current_dir(&self.dir)
            // C1 only: a node started in ~6 s instead of ~9.5 s on 2 busy cores, with 40 % less
            // CPU; these tests move a few MB through it.
            .args([
                HEAP,
                "-Xms64m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Djava.awt.headless=true",
            ])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.dir.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs().display()))
            .arg("kafka.Kafka")
            .arg(self.dir.join("server.properties"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", java().display()));
        self.child = Some(child);
    }

    /// Waits until the node answers a metadata request on its INTERNAL listener listing itself.
    fn wait_ready(&mut self, timeout: Duration) {
        let c: BaseConsumer = client(&self.internal_addr())
            .set("socket.connection.setup.timeout.ms", "2000")
            .create()
            .expect("metadata client");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                self.child = None;
                panic!(
                    "kafka node {} exited with {status} at start; log:\n{}",
                    self.id,
                    tail(&self.log(), 60)
                );
            }
            if let Ok(m) = c.fetch_metadata(None, Duration::from_secs(2)) {
                if m.brokers().iter().any(|b| b.id() == self.id) {
                    return;
                }
            }
            assert!(
                start.elapsed() < timeout,
                "kafka node {} not ready after {timeout:?}; log:\n{}",
                self.id,
                tail(&self.log(), 60)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM (a controlled shutdown), then SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(&c, "TERM");
            if wait_timeout(&mut c, Duration::from_secs(60)).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    /// SIGKILL (kill -9).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Removes the `shared-kafka-<pid>-*` directories of test processes that no longer run.
fn remove_dead_shared_dirs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("shared-kafka-")
            .and_then(|r| r.split('-').next());
        if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A KRaft cluster of one or more combined nodes. Stopping and restarting keeps ports and data.
pub struct Kafka {
    dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    security: Security,
}

impl Kafka {
    /// One combined broker+controller node, PLAINTEXT.
    pub fn start() -> Kafka {
        Kafka::launch(1, Security::Plaintext, Acls::Off)
    }

    /// One combined node whose CLIENT listener is secured.
    pub fn start_secured(security: Security) -> Kafka {
        Kafka::launch(1, security, Acls::Off)
    }

    /// One combined node whose CLIENT listener is secured and authorized by ACLs
    /// (`StandardAuthorizer`, nothing allowed without an ACL). The INTERNAL and CONTROLLER
    /// listeners' principal, `User:ANONYMOUS`, is the super user: the harness's own admin and
    /// produce requests and `cli(..)` (e.g. `AclCommand`) go through INTERNAL.
    pub fn start_with_acls(security: Security) -> Kafka {
        Kafka::launch(1, security, Acls::On)
    }

    /// `n` combined nodes, all controller voters; internal topics replicated `min(n, 3)` times
    /// with min.insync.replicas 2.
    pub fn start_cluster(n: usize) -> Kafka {
        Kafka::launch(n, Security::Plaintext, Acls::Off)
    }

    fn launch(n: usize, security: Security, acls: Acls) -> Kafka {
        Kafka::launch_in(tempfile::tempdir().expect("temp dir"), n, security, acls)
    }

    /// One PLAINTEXT node for the whole test binary, for the tests that neither stop nor
    /// restart their broker: each makes its own topics and consumer group, so the ~9 s of format
    /// and start are paid once, not per test. The node lives until the test process exits: a
    /// thread that never ends starts it, and its parent-death signal kills it then. Its
    /// directory is under `CARGO_TARGET_TMPDIR`; a later run removes those of dead processes.
    pub fn shared() -> &'static Kafka {
        static SHARED: OnceLock<Kafka> = OnceLock::new();
        SHARED.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
                remove_dead_shared_dirs(tmp);
                let dir = tempfile::Builder::new()
                    .prefix(&format!("shared-kafka-{}-", std::process::id()))
                    .tempdir_in(tmp)
                    .expect("shared kafka dir");
                let _ = tx.send(Kafka::launch_in(dir, 1, Security::Plaintext, Acls::Off));
                loop {
                    std::thread::park();
                }
            });
            rx.recv()
                .expect("the shared Kafka node did not start: see the panic above")
        })
    }

    fn launch_in(dir: tempfile::TempDir, n: usize, security: Security, acls: Acls) -> Kafka {
        let (java, libs) = (java(), kafka_libs());
        let began = Instant::now();
        let ports = free_ports(3 * n);
        let mut nodes: Vec<Node> = (1..=n as i32)
            .zip(ports.chunks(3))
            .map(|(id, p)| Node {
                id,
                dir: dir.path().join(format!("node-{id}")),
                client_port: p[0],
                internal_port: p[1],
                controller_port: p[2],
                child: None,
            })
            .collect();
        let voters = nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        // A random Kafka Uuid (22 characters of URL-safe base64); like Kafka's own, never one
        // starting with '-', which the storage tool's argument parser takes for an option.
        let cluster_id = loop {
            let id =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
            if !id.starts_with('-') {
                break id;
            }
        };
        for node in &nodes {
            std::fs::create_dir_all(&node.dir).unwrap();
            std::fs::write(
                node.dir.join("server.properties"),
                node.properties(&voters, &security, n) + acls.properties(),
            )
            .unwrap();
            std::fs::write(
                node.dir.join("log4j2.properties"),
                log4j2_properties(&node.dir.join("server.log")),
            )
            .unwrap();
            if let Security::Tls { cert_pem, key_pem } = &security {
                std::fs::write(
                    node.dir.join("keystore.pem"),
                    format!("{key_pem}{cert_pem}"),
                )
                .unwrap();
            }
        }
        // The nodes' storage is formatted in parallel (a JVM each, ~2.5 s).
        let formats: Vec<(i32, Child)> = nodes
            .iter()
            .map(|node| {
                let log = File::create(node.dir.join("format.log")).expect("format log");
                let mut format = Command::new(&java);
                format
                    .args([HEAP, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
                    .arg(format!(
                        "-Dlog4j2.configurationFile={}",
                        node.dir.join("log4j2.properties").display()
                    ))
                    .arg("-cp")
                    .arg(format!("{}/*", libs.display()))
                    .args(["kafka.tools.StorageTool", "format", "-t", &cluster_id, "-c"])
                    .arg(node.dir.join("server.properties"));
                if let Security::Scram { user, password } = &security {
                    format
                        .arg("--add-scram")
                        .arg(format!("SCRAM-SHA-256=[name={user},password={password}]"));
                }
                let child = format
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().unwrap())
                    .stderr(log)
                    .spawn()
                    .expect("start kafka's StorageTool format");
                (node.id, child)
            })
            .collect();
        for (id, mut child) in formats {
            let status = child.wait().expect("kafka StorageTool format");
            assert!(
                status.success(),
                "kafka storage format of node {id} exited with {status}: {}",
                std::fs::read_to_string(dir.path().join(format!("node-{id}/format.log")))
                    .unwrap_or_default()
            );
        }
        let formatted = began.elapsed();
        for node in &mut nodes {
            node.spawn();
        }
        for node in &mut nodes {
            node.wait_ready(Duration::from_secs(120));
        }
        let k = Kafka {
            dir,
            nodes,
            security,
        };
        k.wait_brokers(n);
        println!(
            "kafka {}: {n} KRaft node(s) ({}) formatted in {:.1} s, ready in {:.1} s",
            kafka_version(),
            k.security.protocol(),
            formatted.as_secs_f64(),
            (began.elapsed() - formatted).as_secs_f64()
        );
        k
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CLIENT listeners of all nodes, for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        self.nodes
            .iter()
            .map(Node::client_addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The INTERNAL (PLAINTEXT) listeners of all nodes: the harness's own admin requests.
    pub fn internal_brokers(&self) -> String {
        self.nodes
            .iter()
            .map(Node::internal_addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Every node's log, for failure messages.
    pub fn log(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("==== node {} ====\n{}", n.id, n.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn node(&mut self, id: i32) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        client(&self.running_internal_brokers())
            .create()
            .expect("admin client")
    }

    fn running_internal_brokers(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(Node::internal_addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Creates `name` with `partitions` partitions, replicated on `min(nodes, 3)` nodes, and waits
    /// until every partition has a leader in the metadata.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.create_topic_with(name, partitions, self.nodes.len().min(3) as i32, &[]);
    }

    /// Creates `name` with a replication factor and topic configs (e.g. min.insync.replicas).
    pub fn create_topic_with(
        &self,
        name: &str,
        partitions: i32,
        replication: i32,
        config: &[(&str, &str)],
    ) {
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
        for (k, v) in config {
            topic = topic.set(k, v);
        }
        let admin = self.admin();
        let results = block_on(admin.create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .expect("create topics request");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
        }
        self.wait_partitions(name, partitions);
    }

    /// Grows `name` to `total` partitions and waits until they all have leaders.
    pub fn add_partitions(&self, name: &str, total: i32) {
        let admin = self.admin();
        let results = block_on(admin.create_partitions(
            [&NewPartitions::new(name, total as usize)],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .expect("create partitions request");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("add partitions to {t}: {e}"));
        }
        self.wait_partitions(name, total);
    }

    fn wait_partitions(&self, name: &str, partitions: i32) {
        let c: BaseConsumer = client(&self.running_internal_brokers()).create().unwrap();
        eventually(
            &format!("topic {name} with {partitions} partitions, each with a leader"),
            Duration::from_secs(60),
            || {
                c.fetch_metadata(Some(name), Duration::from_secs(5))
                    .ok()
                    .and_then(|m| {
                        m.topics().first().map(|t| {
                            t.error().is_none()
                                && t.partitions().len() == partitions as usize
                                && t.partitions().iter().all(|p| p.leader() >= 0)
                        })
                    })
                    == Some(true)
            },
        );
    }

    /// The node id leading `topic`'s `partition`, from a metadata request.
    pub fn leader(&self, topic: &str, partition: i32) -> i32 {
        let c: BaseConsumer = client(&self.running_internal_brokers()).create().unwrap();
        let m = c
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let t = &m.topics()[0];
        t.partitions()
            .iter()
            .find(|p| p.id() == partition)
            .map(|p| p.leader())
            .unwrap_or_else(|| panic!("{topic} has no partition {partition}"))
    }

    /// (leader, in-sync replicas) of each partition of `topic`.
    pub fn partition_state(&self, topic: &str) -> Vec<(i32, Vec<i32>)> {
        let c: BaseConsumer = client(&self.running_internal_brokers()).create().unwrap();
        let m = c
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut ps: Vec<_> = m.topics()[0]
            .partitions()
            .iter()
            .map(|p| (p.id(), p.leader(), p.isr().to_vec()))
            .collect();
        ps.sort();
        ps.into_iter().map(|(_, l, isr)| (l, isr)).collect()
    }

    /// Waits until the running nodes' metadata lists `n` brokers.
    fn wait_brokers(&self, n: usize) {
        let c: BaseConsumer = client(&self.running_internal_brokers()).create().unwrap();
        eventually(
            &format!("{n} brokers in the metadata"),
            Duration::from_secs(60),
            || {
                c.fetch_metadata(None, Duration::from_secs(5))
                    .is_ok_and(|m| m.brokers().len() == n)
            },
        );
    }

    /// Runs one of Kafka's command-line classes from the fetched jars (e.g.
    /// `org.apache.kafka.tools.consumer.group.ConsumerGroupCommand`) with `--bootstrap-server`
    /// set to the INTERNAL listeners, and returns its stdout. Panics with its output when it fails.
    pub fn cli(&self, class: &str, args: &[&str]) -> String {
        let out = Command::new(java())
            .args([HEAP, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs().display()))
            .arg(class)
            .args(["--bootstrap-server", &self.running_internal_brokers()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", java().display()));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{class} {args:?} exited with {}:\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Stops every node (SIGTERM).
    pub fn stop(&mut self) {
        for n in self.nodes.iter_mut().rev() {
            n.stop();
        }
    }

    /// Kills every node (SIGKILL).
    pub fn kill(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
    }

    /// Starts every stopped node again on the same ports and data, and waits until it is ready.
    pub fn restart(&mut self) {
        let stopped: Vec<i32> = self
            .nodes
            .iter()
            .filter(|n| !n.is_running())
            .map(|n| n.id)
            .collect();
        assert!(!stopped.is_empty(), "stop a node before restarting it");
        let began = Instant::now();
        for &id in &stopped {
            self.node(id).spawn();
        }
        for &id in &stopped {
            self.node(id).wait_ready(Duration::from_secs(120));
        }
        println!(
            "kafka: node(s) {stopped:?} restarted, ready in {:.1} s",
            began.elapsed().as_secs_f64()
        );
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            for n in &self.nodes {
                eprintln!(
                    "---- kafka node {} log (last lines) ----\n{}",
                    n.id,
                    tail(&n.log(), 40)
                );
            }
        }
    }
}

fn log4j2_properties(file: &Path) -> String {
    format!(
        "status = warn\n\
         appender.file.type = File\n\
         appender.file.name = file\n\
         appender.file.fileName = {}\n\
         appender.file.layout.type = PatternLayout\n\
         appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = info\n\
         rootLogger.appenderRef.file.ref = file\n\
         logger.kafka.name = kafka\n\
         logger.kafka.level = info\n\
         logger.state.name = state.change.logger\n\
         logger.state.level = warn\n",
        file.display()
    )
}

/// Runs an rdkafka admin future (driven by the client's own thread) to completion.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(f)
}
