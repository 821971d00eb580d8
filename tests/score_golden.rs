//! Scores pinned bit for bit: every text of tests/fixtures/score-golden.jsonl goes through the
//! public scoring path (decode → `score::score` with the default aspect lexicon) and through
//! `Model::p_positive`, with models/default.json, and must give exactly the recorded P(positive),
//! aspect values and feature vector (count plus an xxhash64 of its indices and value bits).
//!
//! The fixture was first written by the code of main at b583dac, before the scoring path was
//! optimised, and every speed-up since (feature extraction, shared segmentation of aspect
//! clauses) passed against it unchanged. It was regenerated for each retrained default model (the
//! 1,375-word lexicon, length balancing, the 2,879-word lexicon with naive-Bayes weighting and
//! prior-neutral calibration, the lexicon without "negated" keys, and later models). A speed-up must not move
//! a single bit. Regenerate it (`MANYI_REGENERATE_GOLDEN=1 cargo test --test score_golden`) only
//! when a change of scores is intended, e.g. a retrained default model.

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use manyi::config::Config;
use manyi::decode::{decode, DecodeLimits};
use manyi::features::SparseVec;
use manyi::model::featurize;
use manyi::score::aspects::Lexicon;
use manyi::score::indices::IndexSettings;
use manyi::score::{score, ScoreParts, Scored};
use manyi::{Model, Segmenter};
use serde_json::{json, Value};
use twox_hash::XxHash64;

static SEGMENTER: LazyLock<Segmenter> =
    LazyLock::new(|| Segmenter::new(None).expect("default dictionary"));
/// The default aspect lexicon, as `manyi run` builds it from a config without `[aspects]`.
static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let cfg = Config::for_brokers("x:9092", &["t"]).validate().unwrap();
    Lexicon::new(cfg.aspects.clone())
});
static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json"))
        .expect("models/default.json loads")
});

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/score-golden.jsonl")
}

/// Everything recorded about one text, as one JSON line. Floats are written by serde_json in
/// their shortest round-trip form, so parsing them back gives the same bits.
fn outputs(text: &str) -> Value {
    let settings = IndexSettings::default();
    let parts = ScoreParts {
        model: &MODEL,
        segmenter: &SEGMENTER,
        settings: &settings,
        lexicon: &LEXICON,
    };
    let payload = serde_json::to_vec(&json!({
        "id": "golden", "ts": 1_764_000_000_000i64, "kind": "review", "text": text,
        "scores": {"csat": 3}
    }))
    .unwrap();
    let fb = decode(&payload, None, &DecodeLimits::default()).expect("golden events decode");
    let mut scored = Scored::default();
    score(&fb, &parts, &mut scored).expect("golden events have no measure fields");

    let (mut text_buf, mut words, mut features) = (String::new(), Vec::new(), SparseVec::default());
    featurize(
        MODEL.featurizer(),
        &SEGMENTER,
        text,
        &mut text_buf,
        &mut words,
        &mut features,
    );
    let mut h = XxHash64::with_seed(0);
    for (i, v) in features.iter() {
        h.write(&i.to_le_bytes());
        h.write(&v.to_bits().to_le_bytes());
    }
    json!({
        "text": text,
        "p_positive": scored.p_positive,
        "p_text": MODEL.p_positive(&SEGMENTER, text),
        "aspects": scored.aspects,
        "features": [features.len(), format!("{:016x}", h.finish())],
    })
}

fn bits(v: &Value) -> Option<u64> {
    v.as_f64().map(f64::to_bits)
}

fn aspect_bits(v: &Value) -> Vec<(u64, u64)> {
    v["aspects"]
        .as_array()
        .expect("aspects")
        .iter()
        .map(|a| (a[0].as_u64().unwrap(), a[1].as_f64().unwrap().to_bits()))
        .collect()
}

/// The first output of `want["text"]` that differs from the recorded one in `want`, if any.
fn mismatch(want: &Value) -> Option<String> {
    let got = outputs(want["text"].as_str().expect("text"));
    for key in ["p_positive", "p_text"] {
        if bits(&got[key]) != bits(&want[key]) {
            return Some(format!("{key}: got {}, want {}", got[key], want[key]));
        }
    }
    if aspect_bits(&got) != aspect_bits(want) {
        return Some(format!(
            "aspects: got {}, want {}",
            got["aspects"], want["aspects"]
        ));
    }
    if got["features"] != want["features"] {
        return Some(format!(
            "features: got {}, want {}",
            got["features"], want["features"]
        ));
    }
    None
}

fn fixture() -> Vec<Value> {
    std::fs::read_to_string(fixture_path())
        .expect("fixture exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect()
}

#[test]
fn scores_match_the_recorded_outputs_bit_for_bit() {
    if std::env::var_os("MANYI_REGENERATE_GOLDEN").is_some() {
        regenerate_golden_from_current_code();
    }
    let fixture = fixture();
    assert!(fixture.len() >= 50, "only {} golden texts", fixture.len());
    for (n, want) in fixture.iter().enumerate() {
        if let Some(diff) = mismatch(want) {
            panic!("fixture line {} {}: {diff}", n + 1, want["text"]);
        }
    }
}

/// The comparison is exact: one ulp off in an aspect value, or one feature more, is a mismatch.
#[test]
fn a_one_ulp_difference_is_a_mismatch() {
    let fixture = fixture();
    let mut want = fixture
        .iter()
        .find(|w| !w["aspects"].as_array().unwrap().is_empty())
        .expect("a golden text with aspects")
        .clone();
    assert_eq!(mismatch(&want), None);
    let v = want["aspects"][0][1].as_f64().unwrap();
    want["aspects"][0][1] = json!(f64::from_bits(v.to_bits() + 1));
    assert!(mismatch(&want).is_some());

    let mut want = fixture[fixture.len() / 2].clone();
    want["features"][0] = json!(want["features"][0].as_u64().unwrap() + 1);
    assert!(mismatch(&want).is_some());
}

/// Hand-picked texts: short and long, negation, degree adverbs, contrast, several aspects per
/// clause, full-width and ASCII punctuation and letters, emoji, digits, whitespace, empty,
/// Traditional characters (converted to Simplified first) and Simplified text that a
/// character-by-character conversion would change (著名, 乾隆).
const TEXTS: &[&str] = &[
    "",
    "   ",
    "好",
    "差",
    "。。。",
    "a",
    "1234567890",
    "好评",
    "差评！！！",
    "物流很快，包装也不错，就是价格有点贵",
    "这次在你们店买的冰箱送货速度还可以，但是安装师傅迟到了两个小时，打客服电话也一直没人接，最后还多收了我一百块的安装费，真的非常失望，以后不会再买了",
    "我很不高兴",
    "我很满意",
    "我很不满意",
    "不是不好",
    "没有问题",
    "一点也不慢",
    "并不便宜，质量也不太行",
    "不太满意，客服态度一般",
    "物流很快但是客服态度太差了",
    "包装不错。快递和客服都很好！",
    "物流",
    "快递太慢了",
    "价格贵",
    "质量非常好，物流也很快，非常满意！",
    "客服态度恶劣，一直不处理退款",
    "完全是垃圾，千万别买",
    "虽然便宜，但是用两天就坏了，还是不值",
    "虽然价格高了一些，但是用着确实放心",
    "味道不错，但是包装漏了，洒了一半",
    "口感很好，好吃不贵，性价比高",
    "售后维修拖了一个月，退货也不给退",
    "ＡＢＣ质量ＯＫ，物流ＦＡＳＴ！",
    "iPhone 的包装 Very Good, 物流 fast.",
    "快递员态度好😊，东西也不错👍",
    "😡😡😡 客服不回复",
    "🙂",
    "质量\n还行\r\n物流慢",
    "质量　很好　价格　便宜",
    "物流~很快～客服…一般",
    "质量;不错;价格?还行!",
    "好.很好.非常好",
    "发货快、包装好、质量棒、价格实惠",
    "不不不不不",
    "很很很好",
    "没让我失望，物流和包装都很棒",
    "不比大牌差，价格也划算",
    "理解大家都不容易，不过等了快一个小时确实有点过分",
    "麻烦你们转达一下对那位师傅的感谢",
    "只是味道有点咸，可是价钱很便宜，然而送货太慢",
    "退款退款退款退款退款退款退款退款",
    "性价比性价比性价比，物流物流，客服客服客服",
    "https://example.com/item?id=42 质量差",
    "订单号 2024112500001 还没发货",
    "东西收到了",
    "请问今天下单什么时候能发货？",
    "a,b,c;d.e!f?g",
    "１２３４５６７８９０元，太贵了",
    "「质量」『不错』（物流）【很快】",
    "但是",
    "但是但是但是",
    "，，好！！ 不过  ",
    "這家店的服務態度很好，送餐也很快",
    "質量太差了，物流也慢，客服不理人",
    "乾燥的天氣，頭髮很乾",
    "著名的老店，乾隆年间就有了，味道不错",
    "好吃👍👍👍",
    "差评😡😡，送餐太慢了😤",
    "木有问题，👍🏻",
];

/// Writes the fixture from the current code: the hand-picked texts, the complaint-style
/// evaluation set and the demo texts. Only for intended score changes; see the file's header.
fn regenerate_golden_from_current_code() {
    let mut texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/complaints.csv"),
    )
    .unwrap();
    texts.extend(
        csv.lines()
            .skip(1)
            .map(|l| l.split_once(',').expect("label,text").1.to_string()),
    );
    use manyi::tools::demo::texts::{ASPECTS, MIXED, NEUTRAL};
    for a in ASPECTS {
        texts.extend(a.positive.iter().chain(a.negative).map(|t| t.to_string()));
    }
    texts.extend(NEUTRAL.iter().chain(MIXED).map(|t| t.to_string()));
    let mut out = String::new();
    for t in &texts {
        out.push_str(&outputs(t).to_string());
        out.push('\n');
    }
    std::fs::write(fixture_path(), out).unwrap();
}
