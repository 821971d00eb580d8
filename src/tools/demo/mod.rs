//! `manyi demo`: the whole service on librdkafka's in-process mock cluster, fed by a generated
//! stream, through exactly the code path of `manyi run`, with a live table in the terminal.

pub mod generate;
mod table;
pub mod texts;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use crate::aggregate::state::now_ms;
use crate::config::Config;
use crate::model::DEFAULT_MODEL_PATH;
use crate::pipeline::{Pipeline, PipelineError};
use generate::{Dip, Generator};

pub const TOPIC: &str = "feedback";
pub const DEAD_LETTER_TOPIC: &str = "feedback.dlq";
const PARTITIONS: i32 = 3;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("mock cluster: {0}")]
    Cluster(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("config: {0}")]
    Config(#[from] crate::config::ConfigError),
}

/// `manyi demo`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:9898")]
    pub listen: SocketAddr,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Generated events per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Model artifact.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// Don't draw the live table (logs only).
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the demo until `shutdown` or `--duration`.
pub async fn run(args: &DemoArgs, shutdown: impl Future<Output = ()>) -> Result<(), DemoError> {
    let cluster = MockCluster::new(1)?;
    cluster.create_topic(TOPIC, PARTITIONS, 1)?;
    cluster.create_topic(DEAD_LETTER_TOPIC, 1, 1)?;
    let brokers = cluster.bootstrap_servers();

    let mut config = Config::for_brokers(&brokers, &[TOPIC]);
    config.http.listen = args.listen.to_string();
    config.model.path = args.model.clone();
    config.kafka.group_id = "manyi-demo".into();
    config.kafka.dead_letter_topic = Some(DEAD_LETTER_TOPIC.into());
    // Short fetch waits: the mock cluster makes an empty fetch wait the full time.
    config
        .kafka
        .properties
        .insert("fetch.wait.max.ms".into(), "50".into());
    config.dimensions.labels = vec!["channel".into()];
    let cfg = config.validate()?;
    let pipeline = Pipeline::build(cfg).await?;
    let state = pipeline.state();
    let addr = pipeline.local_addr();

    let dip = match args.duration {
        Some(d) => Dip {
            start_ms: d as i64 * 350,
            end_ms: d as i64 * 750,
        },
        None => Dip {
            start_ms: 60_000,
            end_ms: 180_000,
        },
    };
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let stop = stop.clone();
        let rate = args.rate.max(1);
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("linger.ms", "5")
            .create()?;
        std::thread::Builder::new()
            .name("manyi-demo-producer".into())
            .spawn(move || produce(producer, rate, dip, &stop))
            .expect("spawn producer")
    };
    tracing::info!(%addr, brokers = %brokers, "demo running: metrics at http://{addr}/metrics");

    let table = {
        let state = state.clone();
        let quiet = args.quiet;
        let started = Instant::now();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(2));
            loop {
                every.tick().await;
                let dropping = dip.contains(started.elapsed().as_millis() as i64);
                table::print(&state, addr, dropping, quiet);
            }
        })
    };

    let duration = args.duration;
    let stop_after = async move {
        match duration {
            Some(secs) => {
                tokio::select! {
                    _ = shutdown => {}
                    _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                }
            }
            None => shutdown.await,
        }
    };
    let result = pipeline.run(stop_after).await;
    table.abort();
    stop.store(true, Ordering::Release);
    let _ = producer.join();
    table::print(&state, addr, false, args.quiet);
    // The mock cluster lives until the pipeline has drained and committed.
    drop(cluster);
    Ok(result?)
}

/// Produces `rate` events per second until `stop`.
fn produce(producer: BaseProducer, rate: u32, dip: Dip, stop: &AtomicBool) {
    let mut generator = Generator::new(20261125, dip);
    let started = Instant::now();
    let mut sent: u64 = 0;
    while !stop.load(Ordering::Acquire) {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            let payload = generator.next(now_ms(), started.elapsed().as_millis() as i64);
            let key = sent.to_string();
            if let Err((e, _)) = producer.send(BaseRecord::to(TOPIC).key(&key).payload(&payload)) {
                tracing::warn!(error = %e, "demo produce failed");
                break;
            }
            sent += 1;
        }
        producer.poll(Duration::from_millis(10));
    }
    let _ = producer.flush(Duration::from_secs(5));
}
