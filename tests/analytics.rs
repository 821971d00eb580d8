//! The analytics of issue 4 through the whole pipeline on the mock cluster, against hand-worked
//! expectations: aspect sentiment per clause, Wilson bounds, text-vs-score disagreement, the
//! cardinality guard's `other` bucket, and the raw counters. One stream runs through one pipeline
//! (`RUN`); each test checks one of these on its final scrape.

mod common;

use std::sync::LazyLock;
use std::time::Duration;

use common::{config, ev, mock_cluster, now_ms, produce, start, value, wait_for, Sample};
use manyi::{Model, Segmenter};
use serde_json::json;

/// A sentence with two aspects, split at the contrastive conjunction.
const MIXED: &str = "物流很快，但是客服态度太差了";
/// Texts the model labels clearly negative and positive.
const NEG: &str = "质量太差了，非常失望，再也不买了";
const POS: &str = "非常满意，质量很好，推荐购买";

/// The final scrape of the stream below, and the model that scored it (to work expectations out).
struct Run {
    s: Vec<Sample>,
    model: Model,
    seg: Segmenter,
}

impl Run {
    /// The model's P(positive) of `text`.
    fn p(&self, text: &str) -> f64 {
        self.model.p_positive(&self.seg, text)
    }
}

static RUN: LazyLock<Run> = LazyLock::new(run_the_stream);

fn run_the_stream() -> Run {
    let model = Model::load(&common::model_path()).unwrap();
    let seg = Segmenter::new(None).unwrap();

    let cluster = mock_cluster(&[("fb", 2)]);
    let brokers = cluster.bootstrap_servers();
    let mut cfg = config(&brokers, &["fb"], "g-analytics");
    cfg.dimensions.labels = vec!["channel".into(), "product".into()];
    cfg.dimensions.max_values = 3;
    let running = start(cfg.validate().unwrap());
    let t = now_ms();
    let mut events = Vec::new();

    // Aspects: the two-aspect sentence is split at the contrastive conjunction.
    events.push(ev(
        json!({"id": "a1", "ts": t, "text": MIXED, "dims": {"channel": "app", "product": "p0"}}),
    ));
    events.push(ev(json!({"id": "a2", "ts": t, "text": "快递包装都很好", "dims": {"channel": "app", "product": "p0"}})));

    // Wilson: 8 of 10 satisfied on channel web.
    for i in 0..10 {
        let csat = if i < 8 { 5 } else { 1 };
        events.push(ev(json!({"id": format!("w{i}"), "ts": t, "kind": "survey", "scores": {"csat": csat}, "dims": {"channel": "web", "product": "p1"}})));
    }

    // Disagreement on channel wechat: satisfied score + negative text (contradicts), dissatisfied
    // score + positive text (contradicts), satisfied score + positive text (agrees).
    events.push(ev(json!({"id": "d1", "ts": t, "text": NEG, "scores": {"csat": 5}, "dims": {"channel": "wechat", "product": "p2"}})));
    events.push(ev(json!({"id": "d2", "ts": t, "text": POS, "scores": {"nps": 2}, "dims": {"channel": "wechat", "product": "p2"}})));
    events.push(ev(json!({"id": "d3", "ts": t, "text": POS, "scores": {"csat": 4}, "dims": {"channel": "wechat", "product": "p2"}})));
    // Only text, no score: not part of the disagreement denominator.
    events.push(ev(
        json!({"id": "d4", "ts": t, "text": NEG, "dims": {"channel": "wechat", "product": "p2"}}),
    ));

    // Cardinality: after p0..p2 have used the budget (3), 50 more distinct products arrive
    // (on a known channel: channel has a budget of 3 too, used by app, web, wechat).
    let first = events.len() as f64;
    produce(&brokers, "fb", &events, Some(2));
    wait_for(
        running.addr,
        "first batch applied",
        Duration::from_secs(60),
        |s| value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(first),
    );
    let mut events = Vec::new();
    for i in 0..50 {
        events.push(ev(json!({"id": format!("c{i}"), "ts": t, "kind": "survey", "scores": {"nps": 9}, "dims": {"channel": "app", "product": format!("sku-{i}")}})));
    }
    let n = first + events.len() as f64;
    produce(&brokers, "fb", &events, Some(2));
    let s = wait_for(running.addr, "all applied", Duration::from_secs(60), |s| {
        value(s, "manyi_messages_total", &[("outcome", "applied")]) == Some(n)
    });
    running.stop().unwrap();
    Run { s, model, seg }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn aspect_sentiment_is_scored_per_clause() {
    let run = &*RUN;
    let s = &run.s;
    // 物流: clauses "物流很快" and "快递包装都很好" (one per event) → mean of the two.
    let logistics = value(
        s,
        "manyi_index",
        &[
            ("index", "aspect_sentiment"),
            ("aspect", "物流"),
            ("window", "5m"),
            ("channel", "app"),
        ],
    );
    assert!(
        close(
            logistics,
            100.0 * (run.p("物流很快") + run.p("快递包装都很好")) / 2.0
        ),
        "{logistics:?}"
    );
    let service = value(
        s,
        "manyi_index",
        &[
            ("index", "aspect_sentiment"),
            ("aspect", "客服"),
            ("window", "5m"),
            ("channel", "app"),
        ],
    );
    assert!(
        close(service, 100.0 * run.p("但是客服态度太差了")),
        "{service:?}"
    );
    assert_eq!(
        value(
            s,
            "manyi_index_count",
            &[
                ("index", "aspect_sentiment"),
                ("aspect", "包装"),
                ("window", "1h"),
                ("channel", "app")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            s,
            "manyi_index",
            &[
                ("index", "aspect_sentiment"),
                ("aspect", "价格"),
                ("window", "5m"),
                ("channel", "app")
            ]
        ),
        None
    );
}

#[test]
fn wilson_bounds_of_8_satisfied_of_10() {
    let s = &RUN.s;
    // Wilson 95 % for 8/10: [49.016, 94.331] (reference values of the Wilson score interval).
    let lo = value(
        s,
        "manyi_index_wilson_lower",
        &[("index", "csat"), ("window", "5m"), ("channel", "web")],
    )
    .unwrap();
    let hi = value(
        s,
        "manyi_index_wilson_upper",
        &[("index", "csat"), ("window", "5m"), ("channel", "web")],
    )
    .unwrap();
    assert!(
        (lo - 49.0161).abs() < 1e-3 && (hi - 94.3315).abs() < 1e-3,
        "{lo} {hi}"
    );
    assert_eq!(
        value(
            s,
            "manyi_index",
            &[("index", "csat"), ("window", "5m"), ("channel", "web")]
        ),
        Some(80.0)
    );
    assert_eq!(
        value(
            s,
            "manyi_index_low_sample",
            &[("index", "csat"), ("window", "5m"), ("channel", "web")]
        ),
        Some(1.0)
    );
}

#[test]
fn disagreement_counts_texts_that_contradict_their_score() {
    let run = &*RUN;
    let s = &run.s;
    assert!(
        run.p(NEG) < 0.4 && run.p(POS) > 0.6,
        "precondition: the model labels these texts clearly ({}, {})",
        run.p(NEG),
        run.p(POS)
    );
    // Disagreement: 2 of 3 events with text and a score.
    assert!(close(
        value(
            s,
            "manyi_index",
            &[
                ("index", "disagreement"),
                ("window", "5m"),
                ("channel", "wechat")
            ]
        ),
        200.0 / 3.0
    ));
    assert_eq!(
        value(
            s,
            "manyi_index_count",
            &[
                ("index", "disagreement"),
                ("window", "5m"),
                ("channel", "wechat")
            ]
        ),
        Some(3.0)
    );
}

#[test]
fn values_over_the_cardinality_budget_go_to_other() {
    let s = &RUN.s;
    // Cardinality guard: p0, p1, p2 admitted; all 50 skus go to "other" and are counted.
    assert_eq!(
        value(
            s,
            "manyi_index_count",
            &[
                ("index", "nps"),
                ("window", "5m"),
                ("channel", "app"),
                ("product", "other")
            ]
        ),
        Some(50.0)
    );
    assert_eq!(
        value(s, "manyi_series_dropped_total", &[("dimension", "product")]),
        Some(50.0)
    );
    let products: std::collections::BTreeSet<_> = s
        .iter()
        .filter(|x| x.name == "manyi_index_count")
        .filter_map(|x| x.labels.get("product").cloned())
        .collect();
    assert_eq!(
        products.into_iter().collect::<Vec<_>>(),
        ["other", "p0", "p1", "p2"]
    );
}

#[test]
fn raw_counters_count_every_response() {
    let s = &RUN.s;
    assert_eq!(
        value(
            s,
            "manyi_csat_responses_total",
            &[("score", "5"), ("channel", "web"), ("product", "p1")]
        ),
        Some(8.0)
    );
    assert_eq!(
        value(
            s,
            "manyi_nps_responses_total",
            &[
                ("category", "promoter"),
                ("channel", "app"),
                ("product", "other")
            ]
        ),
        Some(50.0)
    );
    let mentions: f64 = ["negative", "neutral", "positive"]
        .iter()
        .map(|l| {
            value(
                s,
                "manyi_aspect_mentions_total",
                &[("aspect", "物流"), ("label", l)],
            )
            .unwrap()
        })
        .sum();
    assert_eq!(mentions, 2.0);
}
