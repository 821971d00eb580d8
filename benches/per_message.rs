//! Per-message cost of each stage and of the whole path after the consumer: decode, segment,
//! score (features + sparse dot), and decode → score → dimensions → window update.

use std::hint::black_box;
use std::sync::{Arc, LazyLock};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use manyi::aggregate::dimensions::DimensionGuard;
use manyi::aggregate::windows::WindowSpec;
use manyi::aggregate::windows::{Layout, PartitionStore};
use manyi::config::Config;
use manyi::decode::{decode, DecodeLimits};
use manyi::score::aspects::Lexicon;
use manyi::score::indices::IndexSettings;
use manyi::score::{score, ScoreParts, Scored};
use manyi::{Model, Segmenter};

static SEGMENTER: LazyLock<Segmenter> = LazyLock::new(|| Segmenter::new(None).expect("segmenter"));
static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.json").as_ref())
        .expect("model")
});

const SHORT: &str = "物流很快，包装也不错，就是价格有点贵"; // 18 characters
const LONG: &str = "这次在你们店买的冰箱送货速度还可以，但是安装师傅迟到了两个小时，打客服电话也一直没人接，最后还多收了我一百块的安装费，真的非常失望，以后不会再买了"; // 70 characters

fn event(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": "r-1", "ts": 1_764_000_000_000i64, "kind": "review", "text": text,
        "scores": {"csat": 2, "nps": 4}, "dims": {"channel": "app", "product": "冰箱"}
    }))
    .unwrap()
}

fn stages(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    let cfg = Config::for_brokers("x:9092", &["t"]).validate().unwrap();
    let lexicon = Lexicon::new(cfg.aspects.clone());
    let settings = IndexSettings::default();
    let parts = ScoreParts {
        model: &MODEL,
        segmenter: &SEGMENTER,
        settings: &settings,
        lexicon: &lexicon,
    };
    let guard = DimensionGuard::new(&cfg.dimensions);
    let windows: Arc<[WindowSpec]> = cfg.windows.specs.clone().into();

    for (name, text) in [("short", SHORT), ("long", LONG)] {
        let payload = event(text);
        let mut g = c.benchmark_group(format!("per_message/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("decode", |b| {
            b.iter(|| decode(black_box(&payload), None, &limits).unwrap())
        });
        let mut words = Vec::new();
        g.bench_function("segment", |b| {
            b.iter(|| {
                SEGMENTER.cut(black_box(text), &mut words);
                words.len()
            })
        });
        g.bench_function("p_positive", |b| {
            b.iter(|| MODEL.p_positive(&SEGMENTER, black_box(text)))
        });
        let fb = decode(&payload, None, &limits).unwrap();
        let mut scored = Scored::default();
        g.bench_function("score_with_aspects", |b| {
            b.iter(|| score(black_box(&fb), &parts, &mut scored))
        });
        let mut store = PartitionStore::new(
            windows.clone(),
            cfg.windows.buckets,
            Layout {
                aspects: lexicon.len(),
                measures: settings.measures.slots(),
            },
        );
        g.bench_function("whole_path", |b| {
            b.iter(|| {
                let fb = decode(black_box(&payload), None, &limits).unwrap();
                score(&fb, &parts, &mut scored).unwrap();
                let mapped = guard.map(&fb);
                store.apply(
                    &mapped.key,
                    fb.event_time_ms,
                    &scored.values,
                    &scored.aspects,
                    &scored.measures,
                    fb.event_time_ms,
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
