//! Metric definitions and the HTTP endpoint.
//!
//! [`Metrics`] holds the process-wide counters with their handles resolved once (no label lookup
//! on the hot path). The index families (`manyi_index`, `_sum`, `_count`, Wilson bounds, raw
//! counters per series) are computed at scrape time from the live windows by
//! [`collector::IndexCollector`]; the standard `process_*` families by prometheus's
//! `ProcessCollector` (Linux).

pub mod collector;
pub mod config;
pub mod http;
pub mod web;

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::decode::DecodeError;

/// Outcome of one consumed message, for `manyi_messages_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied = 0,
    Invalid,
    Late,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Applied, Outcome::Invalid, Outcome::Late];
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Invalid => "invalid",
            Outcome::Late => "late",
        }
    }
}

/// Process-wide metrics with cached handles.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    messages: Vec<IntCounter>,
    invalid: Vec<IntCounter>,
    pub dead_letters_ok: IntCounter,
    pub dead_letters_error: IntCounter,
    pub processing_seconds: Histogram,
    pub event_lag_seconds: Gauge,
    pub last_event_timestamp_seconds: Gauge,
    pub ready: IntGauge,
    pub consumer_lag: IntGaugeVec,
    pub series_dropped: IntCounterVec,
    pub model_reloads: IntCounterVec,
    follow_ups_ok: IntCounter,
    follow_ups_error: IntCounter,
    build_info: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let messages_vec = IntCounterVec::new(
            Opts::new(
                "manyi_messages_total",
                "Consumed messages by outcome (applied, invalid, late).",
            ),
            &["outcome"],
        )
        .expect("metric");
        let invalid_vec = IntCounterVec::new(
            Opts::new(
                "manyi_invalid_messages_total",
                "Messages that could not be decoded, by reason code.",
            ),
            &["reason"],
        )
        .expect("metric");
        let dead_vec = IntCounterVec::new(
            Opts::new(
                "manyi_dead_letters_total",
                "Dead-letter writes by result (ok, error).",
            ),
            &["result"],
        )
        .expect("metric");
        let processing_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "manyi_processing_seconds",
                "Time from receiving a message to applying it to the windows.",
            )
            .buckets(vec![
                0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .expect("metric");
        let event_lag_seconds = Gauge::new(
            "manyi_event_lag_seconds",
            "Wall clock minus the event time of the newest applied event.",
        )
        .expect("metric");
        let last_event_timestamp_seconds = Gauge::new(
            "manyi_last_event_timestamp_seconds",
            "Event time of the newest applied event, Unix seconds.",
        )
        .expect("metric");
        let ready = IntGauge::new(
            "manyi_ready",
            "1 when the consumer is connected and assigned, else 0.",
        )
        .expect("metric");
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "manyi_consumer_lag_messages",
                "High watermark minus committed position, per owned partition.",
            ),
            &["topic", "partition"],
        )
        .expect("metric");
        let series_dropped = IntCounterVec::new(
            Opts::new(
                "manyi_series_dropped_total",
                "Dimension values exported as \"other\" by the cardinality guard.",
            ),
            &["dimension"],
        )
        .expect("metric");
        let model_reloads = IntCounterVec::new(
            Opts::new(
                "manyi_model_reloads_total",
                "Model reload attempts by result (ok, error).",
            ),
            &["result"],
        )
        .expect("metric");
        let follow_vec = IntCounterVec::new(
            Opts::new(
                "manyi_follow_ups_total",
                "Close-the-loop follow-up deliveries by result (ok, error; errors are retried).",
            ),
            &["result"],
        )
        .expect("metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "manyi_build_info",
                "Always 1; labels carry the manyi and model versions.",
            ),
            &["version", "model_version"],
        )
        .expect("metric");
        for c in [
            Box::new(messages_vec.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(invalid_vec.clone()),
            Box::new(dead_vec.clone()),
            Box::new(processing_seconds.clone()),
            Box::new(event_lag_seconds.clone()),
            Box::new(last_event_timestamp_seconds.clone()),
            Box::new(ready.clone()),
            Box::new(consumer_lag.clone()),
            Box::new(series_dropped.clone()),
            Box::new(model_reloads.clone()),
            Box::new(build_info.clone()),
            Box::new(follow_vec.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        // The standard process_* families (CPU, resident memory, file descriptors, threads,
        // start time) that every Prometheus exporter offers, read from /proc at scrape time.
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric names");
        Metrics {
            messages: Outcome::ALL
                .iter()
                .map(|o| messages_vec.with_label_values(&[o.as_str()]))
                .collect(),
            invalid: DecodeError::ALL
                .iter()
                .map(|e| invalid_vec.with_label_values(&[e.code()]))
                .collect(),
            dead_letters_ok: dead_vec.with_label_values(&["ok"]),
            dead_letters_error: dead_vec.with_label_values(&["error"]),
            registry,
            processing_seconds,
            event_lag_seconds,
            last_event_timestamp_seconds,
            ready,
            consumer_lag,
            series_dropped,
            model_reloads,
            follow_ups_ok: follow_vec.with_label_values(&["ok"]),
            follow_ups_error: follow_vec.with_label_values(&["error"]),
            build_info,
        }
    }

    /// Adds a worker's applied and late messages (counted locally, see `worker::WorkerState`).
    pub fn messages_applied(&self, applied: u64, late: u64) {
        self.messages[Outcome::Applied as usize].inc_by(applied);
        self.messages[Outcome::Late as usize].inc_by(late);
    }

    /// Messages consumed so far, whatever their outcome.
    pub fn consumed(&self) -> u64 {
        self.messages.iter().map(|c| c.get()).sum()
    }

    pub fn invalid(&self, reason: DecodeError) {
        let i = DecodeError::ALL
            .iter()
            .position(|e| *e == reason)
            .unwrap_or(0);
        self.invalid[i].inc();
        self.messages[Outcome::Invalid as usize].inc();
    }

    /// Counts a follow-up acknowledged by the broker.
    pub fn follow_up_delivered(&self) {
        self.follow_ups_ok.inc();
    }

    /// Counts a failed follow-up delivery (it is retried).
    pub fn follow_up_failed(&self) {
        self.follow_ups_error.inc();
    }

    /// Sets `manyi_build_info` for the running model, replacing the previous model's series.
    pub fn set_model_version(&self, model_version: &str) {
        self.build_info.reset();
        self.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), model_version])
            .set(1);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
