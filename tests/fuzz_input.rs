//! Hostile input, property-tested: arbitrary bytes, huge strings, deeply nested JSON, numbers
//! outside f64 (1e999), NaN/Infinity spellings and odd Unicode, through `decode` alone and
//! through the whole per-message path (`worker::process`: decode → score → windows →
//! acknowledge). Never a panic; every input is either applied or invalid with a reason code,
//! acknowledged exactly once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use common::ev;
use manyi::aggregate::dimensions::DimensionGuard;
use manyi::aggregate::state::{LiveState, PartitionId, Totals};
use manyi::decode::{decode, decode_keeping, DecodeError, DecodeLimits, Keep};
use manyi::ingest::Acknowledge;
use manyi::pipeline::worker::{process, Job, Mode, Shared, WorkerState};
use manyi::score::aspects::Lexicon;
use manyi::serve::Metrics;
use manyi::{Config, Model, Segmenter};
use proptest::prelude::*;
use serde_json::{json, Value};

const CASES: u32 = 10_000;

/// Records every acknowledgement.
#[derive(Default)]
struct Acks {
    applied: AtomicUsize,
    invalid: Mutex<Vec<&'static str>>,
}

impl Acknowledge for Acks {
    fn applied(&self, _: &PartitionId, _: i64) {
        self.applied.fetch_add(1, Ordering::Relaxed);
    }
    fn dead_letter(&self, _: &PartitionId, _: i64, _: &[u8], reason: DecodeError) -> bool {
        self.invalid.lock().unwrap().push(reason.code());
        true
    }
}

struct Path {
    shared: Shared,
    acks: Arc<Acks>,
    state: LiveState,
    totals: Mutex<Totals>,
}

fn path() -> Path {
    let cfg = Config::for_brokers("127.0.0.1:1", &["t"]);
    let mut cfg = cfg;
    cfg.model.path = common::model_path();
    let cfg = cfg.validate().unwrap();
    let acks = Arc::new(Acks::default());
    let shared = Shared {
        model: Arc::new(ArcSwap::from_pointee(Model::load(&cfg.model.path).unwrap())),
        segmenter: Arc::new(Segmenter::new(None).unwrap()),
        settings: cfg.index_settings(),
        lexicon: Lexicon::new(cfg.aspects.clone()),
        guard: Arc::new(DimensionGuard::new(&cfg.dimensions)),
        limits: DecodeLimits {
            max_text_chars: cfg.limits.max_text_chars,
            max_message_bytes: cfg.limits.max_message_bytes,
        },
        metrics: Metrics::new(),
        ack: acks.clone(),
        follow_ups: None,
    };
    let state = LiveState::new(
        cfg.windows.specs.clone().into(),
        cfg.windows.buckets,
        cfg.dimensions.labels.clone(),
        cfg.aspects.iter().map(|(a, _)| a.clone()).collect(),
        cfg.measures.clone(),
        1,
    );
    Path {
        shared,
        acks,
        state,
        totals: Mutex::new(Totals::default()),
    }
}

thread_local! {
    /// One path per test thread, so acknowledgements can be counted per input.
    static PATH: Path = path();
}

/// Runs one payload through the whole path and checks it was acknowledged exactly once.
fn through_the_path(payload: Vec<u8>, kafka_ts: Option<i64>) {
    PATH.with(|p| one_input(p, payload, kafka_ts));
}

fn one_input(p: &Path, payload: Vec<u8>, kafka_ts: Option<i64>) {
    let id = PartitionId {
        topic: "t".into(),
        partition: 0,
    };
    let store = p.state.assign(id.clone());
    let before = (
        p.acks.applied.load(Ordering::Relaxed),
        p.acks.invalid.lock().unwrap().len(),
    );
    // What the path must decide: decode (keeping the fields the measures read, as the worker
    // does), then the measures' fields (bad values are invalid too).
    let keep = Keep::Only(p.shared.settings.measures.fields());
    let direct = decode_keeping(&payload, kafka_ts, &p.shared.limits, keep).and_then(|fb| {
        p.shared
            .settings
            .measures
            .evaluate(&fb, &mut Vec::new())
            .map(|_| fb)
    });
    let job = Job {
        partition: id,
        offset: 0,
        payload,
        kafka_ts_ms: kafka_ts,
        store,
        received: Instant::now(),
        mode: Mode::Live,
    };
    process(
        job,
        &p.shared,
        &p.totals,
        &mut WorkerState::new(&p.shared.metrics),
    );
    let after = (
        p.acks.applied.load(Ordering::Relaxed),
        p.acks.invalid.lock().unwrap().len(),
    );
    // Every input is acknowledged exactly once; an invalid one is routed first, exactly once.
    assert_eq!(after.0 - before.0, 1, "acknowledged exactly once");
    match direct {
        Ok(_) => assert_eq!(after.1 - before.1, 0, "valid input not dead-lettered"),
        Err(e) => {
            assert_eq!(after.1 - before.1, 1, "invalid input dead-lettered once");
            let last = *p.acks.invalid.lock().unwrap().last().unwrap();
            assert_eq!(last, e.code(), "invalid with its reason");
            assert!(!e.code().is_empty());
        }
    }
}

fn decode_never_panics(payload: &[u8]) {
    let limits = DecodeLimits::default();
    match decode(payload, Some(1_700_000_000_000), &limits) {
        Ok(fb) => {
            for s in [fb.scores.csat.map(f64::from), fb.scores.nps.map(f64::from)]
                .into_iter()
                .flatten()
            {
                assert!(s.is_finite());
            }
        }
        Err(e) => assert!(!e.code().is_empty()),
    }
}

/// JSON values of any shape, nested up to 8 levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("ts".to_owned()),
                    Just("text".to_owned()),
                    Just("scores".to_owned()),
                    Just("csat".to_owned()),
                    Just("nps".to_owned()),
                    Just("ces".to_owned()),
                    Just("csi".to_owned()),
                    Just("dims".to_owned()),
                    Just("kind".to_owned()),
                    // Fields the shipped measures read.
                    Just("ticket".to_owned()),
                    Just("first_response_s".to_owned()),
                    Just("account".to_owned()),
                    Just("status".to_owned()),
                    ".{0,8}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Raw number spellings serde_json or a careless parser may mishandle.
fn odd_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e999".to_owned()),
        Just("-1e999".to_owned()),
        Just("NaN".to_owned()),
        Just("Infinity".to_owned()),
        Just("-0".to_owned()),
        Just("4.0000000000000000001".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775809".to_owned()),
        Just("1e-999".to_owned()),
        Just("5e0".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
    ]
}

/// Text with odd Unicode: controls, surrogate-adjacent, RTL marks, combining marks, emoji, CJK.
fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        "[\u{0}-\u{1f}\u{7f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{fe0f}\u{feff}\u{fffd}\u{d7ff}\u{e000}\u{10ffff}]{0,50}",
        "[\u{4e00}-\u{9fff}，。！？；、 ]{0,300}",
        "[\u{0300}-\u{036f}]{0,100}",
        "[\u{1f600}-\u{1f64f}但是不过]{0,100}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        decode_never_panics(&bytes);
        through_the_path(bytes, Some(1_700_000_000_000));
    }

    #[test]
    fn arbitrary_json(v in any_json(), ts in prop::option::of(any::<i64>())) {
        let bytes = serde_json::to_vec(&v).unwrap();
        decode_never_panics(&bytes);
        through_the_path(bytes, ts);
    }

    #[test]
    fn events_with_odd_numbers_and_text(
        field in prop::sample::select(vec!["csat", "nps", "ces", "csi_quality", "ts", "id"]),
        number in odd_number(),
        text in odd_text(),
        channel in odd_text(),
    ) {
        let score = if field == "csi_quality" {
            format!("\"csi\": {{\"quality\": {number}}}")
        } else if ["csat", "nps", "ces"].contains(&field) {
            format!("\"{field}\": {number}")
        } else {
            "\"csat\": 4".to_owned()
        };
        let ts = if field == "ts" { number.clone() } else { "1700000000000".to_owned() };
        let id = if field == "id" { number } else { "\"x\"".to_owned() };
        let raw = format!(
            "{{\"id\": {id}, \"ts\": {ts}, \"text\": {}, \"scores\": {{{score}}}, \"dims\": {{\"channel\": {}}}}}",
            serde_json::to_string(&text).unwrap(),
            serde_json::to_string(&channel).unwrap(),
        );
        decode_never_panics(raw.as_bytes());
        through_the_path(raw.into_bytes(), None);
    }
}

#[test]
fn huge_and_deep_inputs() {
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n)).into_bytes();
    let deep_obj = |n: usize| {
        format!(
            "{{\"id\":1,\"scores\":{{\"csat\":4}},\"x\":{}1{}}}",
            "{\"a\":".repeat(n),
            "}".repeat(n)
        )
        .into_bytes()
    };
    let inputs: Vec<Vec<u8>> = vec![
        deep(100),
        deep(10_000),
        deep(1_000_000),
        deep_obj(127),
        deep_obj(129),
        deep_obj(100_000),
        // A text of 4,999 and 5,001 characters around max_text_chars, and one over max_message_bytes.
        ev(json!({"id": 1, "text": "好".repeat(4_999)})),
        ev(json!({"id": 1, "text": "好".repeat(5_001)})),
        ev(json!({"id": 1, "text": "a".repeat(2 << 20)})),
        ev(json!({"id": "x".repeat(1 << 19), "scores": {"nps": 3}})),
        ev(json!({"id": 1, "scores": {"csat": 4}, "dims": {"channel": "c".repeat(100_000)}})),
        br#"{"id":1,"scores":{"csat":1e999}}"#.to_vec(),
        br#"{"id":1,"scores":{"csi":{"quality":1e999,"service":-1e999}}}"#.to_vec(),
        br#"{"id":1,"ts":1e999,"scores":{"csat":4}}"#.to_vec(),
        br#"{"id":1,"ts":"9999999-01-01T00:00:00Z","scores":{"csat":4}}"#.to_vec(),
        br#"{"id":1,"ts":-9223372036854775808,"scores":{"csat":4}}"#.to_vec(),
        br#"{"id":1,"ts":9223372036854775807,"scores":{"csat":4}}"#.to_vec(),
        b"\xef\xbb\xbf{\"id\":1,\"scores\":{\"csat\":4}}".to_vec(),
        Vec::new(),
    ];
    for bytes in inputs {
        decode_never_panics(&bytes);
        through_the_path(bytes.clone(), Some(i64::MAX));
        through_the_path(bytes.clone(), Some(i64::MIN));
        through_the_path(bytes, None);
    }
}
