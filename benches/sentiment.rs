//! Cost of scoring one review with the default model: `Model::p_positive` (normalise, segment,
//! featurise, sparse dot product, calibrate), on Simplified and on Traditional text (which is
//! converted to Simplified first), and jieba segmentation alone.

use std::hint::black_box;
use std::path::Path;
use std::sync::LazyLock;

use criterion::{criterion_group, criterion_main, Criterion};
use manyi::model::Model;
use manyi::text::segment::Segmenter;

static SEGMENTER: LazyLock<Segmenter> =
    LazyLock::new(|| Segmenter::new(None).expect("default dictionary"));
static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json"))
        .expect("default model")
});

const SHORT: &str = "物流太慢了，客服也不理人";
const LONG: &str = "买之前看评价还不错，收到货发现做工一般，屏幕有划痕，联系客服说可以换货，\
但是等了一个星期都没有人处理，退款申请也被拒绝了，总体来说不太满意，不会再买了。";
/// `LONG` in Traditional characters.
const LONG_TRADITIONAL: &str =
    "買之前看評價還不錯，收到貨發現做工一般，屏幕有劃痕，聯繫客服說可以換貨，\
但是等了一個星期都沒有人處理，退款申請也被拒絕了，總體來說不太滿意，不會再買了。";

fn bench(c: &mut Criterion) {
    let (model, seg) = (&*MODEL, &*SEGMENTER);
    c.bench_function("p_positive/short_12_chars", |b| {
        b.iter(|| model.p_positive(seg, black_box(SHORT)))
    });
    c.bench_function("p_positive/long_80_chars", |b| {
        b.iter(|| model.p_positive(seg, black_box(LONG)))
    });
    c.bench_function("p_positive/long_80_chars_traditional", |b| {
        b.iter(|| model.p_positive(seg, black_box(LONG_TRADITIONAL)))
    });
    let mut words = Vec::new();
    c.bench_function("segment/long_80_chars", |b| {
        b.iter(|| {
            seg.cut(black_box(LONG), &mut words);
            words.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
