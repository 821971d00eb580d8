//! `manyi bench`: end-to-end throughput, Kafka in → indices on /metrics, through the real
//! pipeline (consumer, workers, windows, exporter) on the in-process mock cluster or a real broker.
//!
//! The mock cluster keeps only 5 MiB per partition, so events are produced in chunks that fit.
//! The consumer is paused while a chunk is produced (else it would consume part of the chunk at
//! the producer's pace, outside the timed span, and inflate the rate), and only the time the
//! pipeline spends consuming is measured: from the first message applied after resuming to the
//! last. librdkafka's fetcher takes 0.7–0.9 s to notice a resume (it sleeps while nothing is
//! fetchable); a streaming consumer never pauses, so that restart is not counted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::Consumer;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde::Serialize;

use crate::aggregate::state::now_ms;
use crate::config::Config;
use crate::decode::{decode, DecodeLimits};
use crate::model::DEFAULT_MODEL_PATH;
use crate::pipeline::{Pipeline, PipelineError};
use crate::tools::demo::texts::{ASPECTS, MIXED, NEUTRAL};

const TOPIC: &str = "bench";
const PARTITIONS: i32 = 8;
/// Bytes per chunk: well under the mock cluster's 5 MiB per partition × 8 partitions.
const CHUNK_BYTES: usize = 24 << 20;

/// Why the benchmark could not run.
/// Text length of generated bench events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextLength {
    /// About 25 characters.
    Short,
    /// About 70 characters.
    Long,
    /// Half short, half long.
    Mixed,
}

/// `manyi bench`'s arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Events to produce and consume.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Text length of the events.
    #[arg(long, value_enum, default_value_t = TextLength::Short)]
    pub text: TextLength,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Use this broker instead of the in-process mock cluster (the topic "bench" must exist).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Model artifact.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    pub model: PathBuf,
    /// Produce at this steady rate (events/s) while the pipeline consumes, instead of in paused
    /// bursts: the latency then shows what the pipeline adds at that load, not queueing behind a
    /// burst. Pick a rate below the burst throughput.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the events a run with these arguments measures (JSON lines) to this file and
    /// exit, so another pipeline can be timed on the same messages (scripts/python-baseline.sh).
    #[arg(long)]
    pub write_events: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("config: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("the pipeline stopped consuming: {consumed} of {expected} messages after 120 s without progress")]
    Stalled { consumed: u64, expected: u64 },
}

/// The result, printed as a table or as one JSON object (`--json`).
#[derive(Debug, Serialize)]
pub struct Report {
    pub messages: u64,
    pub text: String,
    pub workers: usize,
    pub mean_text_chars: f64,
    pub seconds: f64,
    pub msgs_per_sec: f64,
    /// Steady production rate asked for with `--rate` (null: bursts with the consumer paused).
    pub rate: Option<u32>,
    /// CPU time of the whole process (all threads) during the timed span, and that divided by
    /// the span: how many cores the pipeline kept busy.
    pub cpu_seconds: f64,
    pub cores_used: f64,
    /// Messages per second of CPU time: throughput per core actually used (null when the span
    /// was too short for the 10 ms resolution of the CPU clock).
    pub msgs_per_cpu_sec: Option<f64>,
    pub mb_per_sec: f64,
    /// Received → applied, from the `manyi_processing_seconds` histogram (bucket-interpolated).
    pub p50_latency_ms: f64,
    pub p99_latency_ms: f64,
    pub peak_rss_mb: f64,
    /// Share of single-thread CPU time per stage, measured on a sample of the same messages.
    pub stage_shares: StageShares,
    pub broker: String,
}

#[derive(Debug, Serialize, Default)]
pub struct StageShares {
    pub decode: f64,
    pub score: f64,
    pub windows: f64,
}

/// Generates bench events of the requested text length.
struct EventSource {
    rng: SmallRng,
    length: TextLength,
    texts: Vec<&'static str>,
    seq: u64,
}

impl EventSource {
    fn new(length: TextLength, seed: u64) -> EventSource {
        let mut texts: Vec<&'static str> = ASPECTS
            .iter()
            .flat_map(|a| a.positive.iter().chain(a.negative.iter()))
            .copied()
            .collect();
        texts.extend(NEUTRAL);
        texts.extend(MIXED);
        EventSource {
            rng: SmallRng::seed_from_u64(seed),
            length,
            texts,
            seq: 0,
        }
    }

    /// A text of `lo..=hi` characters.
    fn text(&mut self, lo: usize, hi: usize) -> String {
        // Join demo texts until the length is in range (short texts are used as they are).
        loop {
            let mut t = String::new();
            while t.chars().count() < lo {
                if !t.is_empty() {
                    t.push('，');
                }
                t.push_str(self.texts[self.rng.random_range(0..self.texts.len())]);
            }
            if t.chars().count() <= hi {
                return t;
            }
        }
    }

    /// The next payload.
    fn next_event(&mut self, ts_ms: i64) -> Vec<u8> {
        self.seq += 1;
        let long = match self.length {
            TextLength::Short => false,
            TextLength::Long => true,
            TextLength::Mixed => self.rng.random_bool(0.5),
        };
        // Short ≈ 25 characters, long ≈ 70.
        let text = if long {
            self.text(60, 85)
        } else {
            self.text(18, 32)
        };
        let channel = crate::tools::demo::generate::CHANNELS[self
            .rng
            .random_range(0..crate::tools::demo::generate::CHANNELS.len())];
        let mut event = serde_json::json!({
            "id": format!("b-{}", self.seq), "ts": ts_ms, "kind": "review", "text": text,
            "dims": {"channel": channel},
        });
        if self.rng.random_bool(0.3) {
            event["scores"] = serde_json::json!({"csat": self.rng.random_range(1..=5), "nps": self.rng.random_range(0..=10)});
        }
        serde_json::to_vec(&event).expect("bench event serialises")
    }
}

/// Events generated per run before the measured ones (the warm-up).
const WARMUP: usize = 1000;
/// The generator's seed: every run measures the same messages.
const SEED: u64 = 42;

/// Writes the measured events of a run with `args` (after the warm-up), one JSON per line.
pub fn write_events(args: &BenchArgs, path: &std::path::Path) -> std::io::Result<u64> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut source = EventSource::new(args.text, SEED);
    let ts = now_ms();
    for _ in 0..WARMUP {
        source.next_event(ts);
    }
    for _ in 0..args.messages {
        out.write_all(&source.next_event(ts))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(args.messages)
}

/// Runs the benchmark.
pub async fn run(args: &BenchArgs) -> Result<Report, BenchError> {
    let cluster;
    let brokers = match &args.brokers {
        Some(b) => b.clone(),
        None => {
            cluster = rdkafka::mocking::MockCluster::new(1)?;
            cluster.create_topic(TOPIC, PARTITIONS, 1)?;
            cluster.bootstrap_servers()
        }
    };
    let mut config = Config::for_brokers(&brokers, &[TOPIC]);
    config.http.listen = "127.0.0.1:0".into();
    config.model.path = args.model.clone();
    config.kafka.group_id = format!("manyi-bench-{}", now_ms());
    config
        .kafka
        .properties
        .insert("fetch.wait.max.ms".into(), "10".into());
    config.pipeline.workers = args.workers.unwrap_or(0);
    let cfg = config.validate()?;
    let workers = cfg.workers;
    let pipeline = Pipeline::build(cfg).await?;
    let metrics = pipeline.metrics();
    let consumer = pipeline.consumer();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(pipeline.run(async move {
        let _ = stop_rx.await;
    }));

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let mut source = EventSource::new(args.text, SEED);
    // Warm-up, not measured: the group join and first fetch take up to seconds.
    let warmup: Vec<Vec<u8>> = (0..WARMUP).map(|_| source.next_event(now_ms())).collect();
    for (i, p) in warmup.iter().enumerate() {
        let key = (i as u64).to_le_bytes();
        let _ = producer.send(BaseRecord::to(TOPIC).key(&key[..]).payload(p));
    }
    producer.flush(Duration::from_secs(60))?;
    wait_consumed(&metrics, warmup.len() as u64, 0).await?;
    let latency_before = histogram(&metrics);
    let start_consumed = metrics.consumed();
    let progress = progress_bar(args);
    let timed = match args.rate {
        None => bursts(args, &producer, &consumer, &metrics, &mut source, &progress).await?,
        Some(rate) => paced(args, rate, &brokers, &metrics, source, &progress).await?,
    };
    progress.finish();
    let Timed {
        produced,
        bytes,
        sample,
        seconds,
        cpu_seconds,
    } = timed;
    debug_assert_eq!(metrics.consumed(), start_consumed + produced);
    let mut chars = 0u64;
    for p in &sample {
        if let Ok(fb) = decode(p, None, &DecodeLimits::default()) {
            chars += fb.text.map_or(0, |t| t.chars().count() as u64);
        }
    }
    let _ = stop_tx.send(());
    let _ = running.await;

    let (p50, p99) = latency_quantiles(&latency_before, &histogram(&metrics));
    Ok(Report {
        messages: produced,
        text: format!("{:?}", args.text).to_lowercase(),
        workers,
        mean_text_chars: chars as f64 / sample.len().max(1) as f64,
        seconds,
        msgs_per_sec: produced as f64 / seconds,
        rate: args.rate,
        cpu_seconds,
        cores_used: cpu_seconds / seconds,
        msgs_per_cpu_sec: (cpu_seconds > 0.0).then(|| produced as f64 / cpu_seconds),
        mb_per_sec: bytes as f64 / seconds / 1e6,
        p50_latency_ms: p50 * 1000.0,
        p99_latency_ms: p99 * 1000.0,
        peak_rss_mb: peak_rss_mb(),
        stage_shares: stage_shares(&sample, &args.model),
        broker: if args.brokers.is_some() {
            "external".into()
        } else {
            "mock".into()
        },
    })
}

/// What a run measured: messages and bytes produced, a sample of the payloads, and the timed
/// span's wall-clock and CPU seconds.
#[derive(Default)]
struct Timed {
    produced: u64,
    bytes: u64,
    sample: Vec<Vec<u8>>,
    seconds: f64,
    cpu_seconds: f64,
}

/// `bench: 1200/6000 messages` on stderr; hidden with `--json` and when stderr is not a terminal.
fn progress_bar(args: &BenchArgs) -> ProgressBar {
    if args.json {
        return ProgressBar::hidden();
    }
    ProgressBar::new(args.messages).with_style(
        ProgressStyle::with_template("bench: {pos}/{len} messages").expect("valid template"),
    )
}

/// Keeps the first payloads, for the text-length and stage-share measurements.
fn keep_sample(sample: &mut Vec<Vec<u8>>, payload: &[u8]) {
    if sample.len() < 2000 {
        sample.push(payload.to_vec());
    }
}

/// Produces `producer.send` until it is accepted, polling for delivery reports meanwhile.
fn send_retrying(producer: &BaseProducer, key: u64, payload: &[u8]) {
    let key = key.to_le_bytes();
    let mut record = BaseRecord::to(TOPIC).key(&key[..]).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, r)) => {
                record = r;
                producer.poll(Duration::from_millis(5));
            }
        }
    }
}

/// Chunks produced while the consumer is paused; only the consuming is timed.
async fn bursts(
    args: &BenchArgs,
    producer: &BaseProducer,
    consumer: &crate::ingest::Source,
    metrics: &crate::serve::Metrics,
    source: &mut EventSource,
    progress: &ProgressBar,
) -> Result<Timed, BenchError> {
    let mut t = Timed::default();
    let start_consumed = metrics.consumed();
    while t.produced < args.messages {
        // Produce one chunk while the pipeline's consumer is paused.
        let assignment = consumer.assignment()?;
        consumer.pause(&assignment)?;
        let mut chunk_bytes = 0;
        let ts = now_ms();
        while t.produced < args.messages && chunk_bytes < CHUNK_BYTES {
            let payload = source.next_event(ts);
            keep_sample(&mut t.sample, &payload);
            chunk_bytes += payload.len();
            send_retrying(producer, t.produced, &payload);
            t.produced += 1;
        }
        producer.flush(Duration::from_secs(60))?;
        t.bytes += chunk_bytes as u64;
        let before = metrics.consumed();
        consumer.resume(&assignment)?;
        wait_consumed(metrics, before + 1, start_consumed).await?;
        let (t0, cpu0) = (Instant::now(), process_cpu_seconds());
        wait_consumed(metrics, start_consumed + t.produced, start_consumed).await?;
        t.seconds += t0.elapsed().as_secs_f64();
        t.cpu_seconds += process_cpu_seconds() - cpu0;
        progress.set_position(t.produced);
    }
    Ok(t)
}

/// A producer thread sends `rate` events per second while the pipeline consumes; timed from the
/// first event produced to the last one applied. The mock cluster's 5 MiB per partition is no
/// limit as long as the pipeline keeps up.
async fn paced(
    args: &BenchArgs,
    rate: u32,
    brokers: &str,
    metrics: &crate::serve::Metrics,
    mut source: EventSource,
    progress: &ProgressBar,
) -> Result<Timed, BenchError> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "1")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let messages = args.messages;
    let start_consumed = metrics.consumed();
    let (t0, cpu0) = (Instant::now(), process_cpu_seconds());
    let producing = std::thread::spawn(move || -> Result<Timed, BenchError> {
        let mut t = Timed::default();
        let start = Instant::now();
        while t.produced < messages {
            // Every event due by now, then a short sleep: the rate holds to within a millisecond.
            let due = ((start.elapsed().as_secs_f64() * f64::from(rate)) as u64 + 1).min(messages);
            let ts = now_ms();
            while t.produced < due {
                let payload = source.next_event(ts);
                keep_sample(&mut t.sample, &payload);
                t.bytes += payload.len() as u64;
                send_retrying(&producer, t.produced, &payload);
                t.produced += 1;
            }
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_micros(500));
        }
        producer.flush(Duration::from_secs(60))?;
        Ok(t)
    });
    while !producing.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // indicatif redraws at most 20 times a second.
        progress.set_position(metrics.consumed() - start_consumed);
    }
    let mut t = producing
        .join()
        .expect("the producer thread does not panic")?;
    wait_consumed(metrics, start_consumed + t.produced, start_consumed).await?;
    t.seconds = t0.elapsed().as_secs_f64();
    t.cpu_seconds = process_cpu_seconds() - cpu0;
    progress.set_position(t.produced);
    Ok(t)
}

/// User + system CPU seconds of this process (all threads), from /proc/self/stat in clock
/// ticks (100 per second on Linux); 0 where there is no /proc.
#[cfg(target_os = "linux")]
fn process_cpu_seconds() -> f64 {
    procfs::process::Process::myself()
        .and_then(|me| me.stat())
        .map_or(0.0, |s| {
            (s.utime + s.stime) as f64 / procfs::ticks_per_second() as f64
        })
}

#[cfg(not(target_os = "linux"))]
fn process_cpu_seconds() -> f64 {
    0.0
}

/// Waits until `target` messages were consumed; fails after two minutes without progress.
async fn wait_consumed(
    metrics: &crate::serve::Metrics,
    target: u64,
    base: u64,
) -> Result<(), BenchError> {
    let mut last_progress = (metrics.consumed(), Instant::now());
    while metrics.consumed() < target {
        tokio::time::sleep(Duration::from_micros(500)).await;
        let c = metrics.consumed();
        if c != last_progress.0 {
            last_progress = (c, Instant::now());
        } else if last_progress.1.elapsed() > Duration::from_secs(120) {
            return Err(BenchError::Stalled {
                consumed: c - base,
                expected: target - base,
            });
        }
    }
    Ok(())
}

/// `(upper bound, cumulative count)` of the processing-time histogram's buckets.
fn histogram(metrics: &crate::serve::Metrics) -> Vec<(f64, u64)> {
    use prometheus::core::Collector;
    let mf = metrics.processing_seconds.collect();
    mf.first()
        .and_then(|f| f.get_metric().first())
        .map(|m| {
            m.get_histogram()
                .get_bucket()
                .iter()
                .map(|b| (b.upper_bound(), b.cumulative_count()))
                .collect()
        })
        .unwrap_or_default()
}

/// Quantiles of the latencies observed between two histogram snapshots, interpolated linearly
/// within buckets.
fn latency_quantiles(before: &[(f64, u64)], after: &[(f64, u64)]) -> (f64, f64) {
    let buckets: Vec<(f64, f64)> = after
        .iter()
        .enumerate()
        .map(|(i, &(ub, c))| (ub, (c - before.get(i).map_or(0, |b| b.1)) as f64))
        .collect();
    let total = buckets.last().map_or(0.0, |b| b.1);
    let q = |q: f64| {
        let rank = q * total;
        let mut prev = (0.0, 0.0);
        for &(ub, c) in &buckets {
            if c >= rank {
                let frac = if c > prev.1 {
                    (rank - prev.1) / (c - prev.1)
                } else {
                    1.0
                };
                return prev.0 + frac * (ub - prev.0);
            }
            prev = (ub, c);
        }
        prev.0
    };
    (q(0.5), q(0.99))
}

/// Single-thread time per stage on the sample (decode; segment + features + score + aspects; windows).
fn stage_shares(sample: &[Vec<u8>], model: &std::path::Path) -> StageShares {
    use crate::aggregate::windows::{Layout, PartitionStore};
    use crate::score::aspects::Lexicon;
    use crate::score::indices::IndexSettings;
    use crate::score::{score, ScoreParts, Scored};
    let Ok(model) = crate::model::Model::open(model) else {
        return StageShares::default();
    };
    let Ok(segmenter) = crate::text::segment::Segmenter::new(None) else {
        return StageShares::default();
    };
    let cfg = match Config::for_brokers("x:1", &["t"]).validate() {
        Ok(c) => c,
        Err(_) => return StageShares::default(),
    };
    let lexicon = Lexicon::new(cfg.aspects.clone());
    let settings = IndexSettings::default();
    let parts = ScoreParts {
        model: &model,
        segmenter: &segmenter,
        settings: &settings,
        lexicon: &lexicon,
    };
    let guard = crate::aggregate::dimensions::DimensionGuard::new(&cfg.dimensions);
    let mut store = PartitionStore::new(
        cfg.windows.specs.clone().into(),
        cfg.windows.buckets,
        Layout {
            aspects: lexicon.len(),
            measures: settings.measures.slots(),
        },
    );
    let limits = DecodeLimits::default();
    let (mut d, mut s, mut w) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut scored = Scored::default();
    for _ in 0..3 {
        for p in sample {
            let t = Instant::now();
            let Ok(fb) = decode(p, None, &limits) else {
                continue;
            };
            d += t.elapsed();
            let t = Instant::now();
            if score(&fb, &parts, &mut scored).is_err() {
                continue;
            }
            s += t.elapsed();
            let t = Instant::now();
            let key = guard.map(&fb).key;
            store.apply(
                &key,
                fb.event_time_ms,
                &scored.values,
                &scored.aspects,
                &scored.measures,
                fb.event_time_ms,
            );
            w += t.elapsed();
        }
    }
    let total = (d + s + w).as_secs_f64().max(1e-12);
    StageShares {
        decode: d.as_secs_f64() / total,
        score: s.as_secs_f64() / total,
        windows: w.as_secs_f64() / total,
    }
}

/// Peak resident set size of this process (`VmHWM` of /proc/self/status), in MB; 0 where
/// there is no /proc.
#[cfg(target_os = "linux")]
fn peak_rss_mb() -> f64 {
    procfs::process::Process::myself()
        .and_then(|me| me.status())
        .ok()
        .and_then(|s| s.vmhwm)
        .map_or(0.0, |kb| kb as f64 / 1024.0)
}

#[cfg(not(target_os = "linux"))]
fn peak_rss_mb() -> f64 {
    0.0
}

impl Report {
    /// Human-readable summary.
    pub fn table(&self) -> String {
        let mode = match self.rate {
            Some(r) => format!("steady {r} events/s"),
            None => "bursts, consumer paused while producing".to_string(),
        };
        format!(
            "messages        {}\ntext            {} (mean {:.1} chars)\nworkers         {}\nbroker          {}\nproduction      {mode}\ntimed span      {:.3} s\nthroughput      {:.0} msgs/s, {:.1} MB/s\nCPU             {:.2} s, {:.2} cores busy\nlatency         p50 {:.3} ms, p99 {:.3} ms (received → applied)\npeak RSS        {:.1} MB\nstage shares    decode {:.1}%, segment+features+score {:.1}%, windows {:.1}%\n",
            self.messages,
            self.text,
            self.mean_text_chars,
            self.workers,
            self.broker,
            self.seconds,
            self.msgs_per_sec,
            self.mb_per_sec,
            self.cpu_seconds,
            self.cores_used,
            self.p50_latency_ms,
            self.p99_latency_ms,
            self.peak_rss_mb,
            self.stage_shares.decode * 100.0,
            self.stage_shares.score * 100.0,
            self.stage_shares.windows * 100.0,
        )
    }
}
