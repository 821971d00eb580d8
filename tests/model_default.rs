//! The committed default model (models/default.json) loads, has a stable version string, and puts
//! clearly positive and clearly negative feedback on the right side of 0.5.

use std::path::Path;
use std::sync::LazyLock;

use manyi::model::Model;
use manyi::segment::Segmenter;

static SEGMENTER: LazyLock<Segmenter> =
    LazyLock::new(|| Segmenter::new(None).expect("default dictionary"));
static MODEL: LazyLock<Model> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json");
    Model::load(&path).expect("models/default.json loads")
});

#[test]
fn version_names_the_model_and_its_weights() {
    let v = MODEL.version();
    assert!(v.starts_with("snownlp-v1-"), "{v}");
    assert_eq!(v.len(), "snownlp-v1-".len() + 8, "{v}");
}

#[test]
fn clearly_positive_feedback_scores_above_half() {
    for text in [
        "质量非常好，物流也很快，非常满意！",
        "客服态度很好，耐心解答问题，好评",
        "东西很好用，性价比高，推荐购买",
        "包装完好，发货速度快，很喜欢",
    ] {
        let p = MODEL.p_positive(&SEGMENTER, text);
        assert!(p > 0.5, "{text}: {p}");
    }
}

#[test]
fn clearly_negative_feedback_scores_below_half() {
    for text in [
        "质量太差了，用了两天就坏了，非常失望",
        "客服态度恶劣，一直不处理退款",
        "物流太慢了，等了半个月才到，差评",
        "完全是垃圾，千万别买",
    ] {
        let p = MODEL.p_positive(&SEGMENTER, text);
        assert!(p < 0.5, "{text}: {p}");
    }
}

#[test]
fn negation_lowers_the_score() {
    let plain = MODEL.p_positive(&SEGMENTER, "我很满意");
    let negated = MODEL.p_positive(&SEGMENTER, "我很不满意");
    assert!(negated < plain, "满意 {plain} vs 不满意 {negated}");
    assert!(negated < 0.5, "不满意 {negated}");
}

#[test]
fn empty_text_is_neutral_and_scores_are_probabilities() {
    assert_eq!(MODEL.p_positive(&SEGMENTER, ""), 0.5);
    assert_eq!(MODEL.p_positive(&SEGMENTER, "   "), 0.5);
    for text in ["。。。", "a", "好", "1234567890"] {
        let p = MODEL.p_positive(&SEGMENTER, text);
        assert!((0.0..=1.0).contains(&p), "{text}: {p}");
    }
}
