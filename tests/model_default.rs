//! The committed default model (models/default.json) loads, has a stable version string, puts
//! clearly positive and clearly negative feedback on the right side of 0.5, handles negation, and
//! keeps its accuracy on the hand-labelled complaint-style fixture (a regression guard: the floors
//! sit a little below the measured values, see the README section "Sentiment model").

use std::path::Path;
use std::sync::LazyLock;

use ferrous_opencc::{config::BuiltinConfig, OpenCC};
use manyi::model::Model;
use manyi::text::segment::Segmenter;
use manyi::tools::eval::{evaluate, EvalArgs, EvalReport};

static SEGMENTER: LazyLock<Segmenter> =
    LazyLock::new(|| Segmenter::new(None).expect("default dictionary"));
static MODEL: LazyLock<Model> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.json");
    Model::load(&path).expect("models/default.json loads")
});

#[test]
fn version_names_the_model_and_its_weights() {
    let v = MODEL.version();
    assert!(v.starts_with("snownlp-v2-"), "{v}");
    assert_eq!(v.len(), "snownlp-v2-".len() + 8, "{v}");
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
fn traditional_text_scores_as_its_simplified_form() {
    for (traditional, simplified) in [
        (
            "這家店的服務態度很好，送餐也很快",
            "这家店的服务态度很好，送餐也很快",
        ),
        (
            "質量太差了，用了兩天就壞了，非常失望",
            "质量太差了，用了两天就坏了，非常失望",
        ),
        ("沒讓我失望，不會後悔", "没让我失望，不会后悔"),
    ] {
        let (t, s) = (
            MODEL.p_positive(&SEGMENTER, traditional),
            MODEL.p_positive(&SEGMENTER, simplified),
        );
        assert_eq!(t, s, "{traditional} {t} vs {simplified} {s}");
    }
}

#[test]
fn emoji_and_internet_spellings_carry_their_verdict() {
    // Emoji are lexicon words since snownlp-v2-38d3fbfe; before, 👍👍👍 and 😡😡 both
    // scored 0.40, as any text of unknown tokens does. 木有 is 没有 spelt online.
    assert_each_on_its_side(&[
        ("👍👍👍", true),
        ("赞赞赞", true),
        ("好评❤️", true),
        ("木有问题", true),
        ("😡😡", false),
        ("差评💩", false),
        ("送餐太慢了😤", false),
    ]);
}

/// Each text scores above 0.5 if it is marked positive, below if not.
fn assert_each_on_its_side(cases: &[(&str, bool)]) {
    for &(text, positive) in cases {
        let p = MODEL.p_positive(&SEGMENTER, text);
        assert_eq!(p > 0.5, positive, "{text}: {p}");
    }
}

/// Every hand-written fixture converted to Traditional characters with OpenCC's s2t: the default
/// model converts such text back before segmentation, so it scores as the Simplified original.
/// Not always bit for bit: s2t and t2s are not exact inverses (背 becomes 揹, which t2s keeps; 回复
/// becomes 回覆), so a few reviews differ, by little.
#[test]
fn fixtures_in_traditional_characters_score_as_their_originals() {
    let s2t = OpenCC::from_config(BuiltinConfig::S2t).expect("s2t loads");
    let (mut rows, mut converted, mut same) = (0, 0, 0);
    for fixture in FIXTURES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
        let mut reader = csv::Reader::from_path(&path).expect("fixture opens");
        let text_col = reader.headers().unwrap().iter().position(|h| h == "text");
        for record in reader.records() {
            let record = record.expect("fixture row");
            let text = &record[text_col.expect("a text column")];
            let traditional = s2t.convert(text);
            let (s, t) = (
                MODEL.p_positive(&SEGMENTER, text),
                MODEL.p_positive(&SEGMENTER, &traditional),
            );
            assert!((s - t).abs() < 0.05, "{text} {s} vs {traditional} {t}");
            rows += 1;
            converted += usize::from(traditional != text);
            same += usize::from(s == t);
        }
    }
    assert_eq!(rows, 414 + 480 + 660 + 600);
    assert!(
        converted * 100 >= rows * 95,
        "s2t changed {converted} of {rows} texts"
    );
    assert!(
        same * 100 >= rows * 99,
        "{same} of {rows} scored bit for bit the same"
    );
}

const FIXTURES: [&str; 4] = [
    "complaints.csv",
    "reviews-other-domains.csv",
    "reviews-more-domains.csv",
    "reviews-platforms.csv",
];

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

#[test]
fn negation_pairs_land_on_the_right_side() {
    assert_each_on_its_side(RIGHT_SIDE);
}

/// Negated evaluative words the model puts on the right side of 0.5.
const RIGHT_SIDE: &[(&str, bool)] = &[
    ("很慢", false),
    ("很失望", false),
    ("很满意", true),
    ("不太满意", false),
    ("很便宜", true),
    ("并不便宜", false),
    ("没有问题", true),
    // Litotes: the cue yields to the negated lexicon word in its scope (snownlp-v2-dfc8f99a on;
    // snownlp-v2-d7b68c22 scored them 0.54, 0.38 and 0.34).
    ("没让我失望", true),
    ("没有坏果", true),
    ("不贵", true),
];

#[test]
fn attribute_pairs_land_on_the_right_side() {
    // The verdict is in the pair, not in either word: 高 is bad for a price and good for value.
    assert_each_on_its_side(&[
        ("价格偏高", false),
        ("价格不高", true),
        ("性价比低", false),
        ("性价比不高", false),
        ("性价比很高", true),
        ("噪音很小", true),
        ("噪音太大", false),
        ("油耗低", true),
        ("续航短", false),
        ("延迟低", true),
        ("耗电快", false),
    ]);
    // Neither 分量 nor 很足 is frequent enough in the corpus for a column of its own, so this
    // short text scores little more than its one positive lexicon match against the intercept
    // (分量 or 很足 alone scores 0.40, as any text of unknown words does): 0.505 under
    // snownlp-v2-d7b68c22, 0.497 under snownlp-v2-dfc8f99a, 0.502 under snownlp-v2-2a212dab,
    // 0.498 under snownlp-v2-38d3fbfe. The pair still parts it from its opposite.
    let (full, scant) = (
        MODEL.p_positive(&SEGMENTER, "分量很足"),
        MODEL.p_positive(&SEGMENTER, "分量少"),
    );
    assert!(full > scant + 0.2, "分量很足 {full} vs 分量少 {scant}");
}

#[test]
fn litotes_score_above_their_plain_negative() {
    // The corpus ties 不/没 to negative reviews (see the README, "Sentiment model"); a negated
    // negative must still score well above its plain negative.
    for (negated, plain) in [("一点也不慢", "很慢"), ("没让我失望", "很失望")] {
        let (n, p) = (
            MODEL.p_positive(&SEGMENTER, negated),
            MODEL.p_positive(&SEGMENTER, plain),
        );
        assert!(n > p + 0.1, "{negated} {n} vs {plain} {p}");
    }
}

fn default_model_on(fixture: &str) -> EvalReport {
    default_model_with_bootstrap(fixture, manyi::tools::eval::DEFAULT_BOOTSTRAP)
}

fn default_model_with_bootstrap(fixture: &str, bootstrap: usize) -> EvalReport {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    evaluate(&EvalArgs {
        data: vec![root.join("tests/fixtures").join(fixture)],
        model: root.join("models/default.json"),
        json: true,
        user_dict: None,
        bootstrap,
    })
    .expect("eval runs")
}

/// Evaluates the default model on `fixture` (tests/fixtures), checks its row count and that it
/// scores at least `accuracy` and `roc_auc`.
fn assert_default_model_above(fixture: &str, rows: usize, accuracy: f64, roc_auc: f64) {
    let report = default_model_on(fixture);
    assert_eq!(report.metrics.n, rows, "{fixture}");
    assert!(report.metrics.accuracy >= accuracy, "{fixture}: {report:?}");
    assert!(report.metrics.roc_auc >= roc_auc, "{fixture}: {report:?}");
}

/// Measured 0.845 accuracy, 0.916 ROC-AUC with snownlp-v2-38d3fbfe (0.841 / 0.916 with
/// snownlp-v2-dfc8f99a).
#[test]
fn complaints_fixture_stays_above_its_floor() {
    assert_default_model_above("complaints.csv", 414, 0.82, 0.90);
}

/// Measured 0.906 accuracy, 0.971 ROC-AUC with snownlp-v2-38d3fbfe (0.904 / 0.970 with
/// snownlp-v2-dfc8f99a): the goal of issue 3 (0.86 / 0.92) is met on this fixture, and this test
/// keeps it met.
#[test]
fn other_domains_fixture_stays_above_its_floor() {
    assert_default_model_above("reviews-other-domains.csv", 480, 0.86, 0.95);
}

/// Measured 0.792 accuracy, 0.876 ROC-AUC with snownlp-v2-38d3fbfe (0.785 / 0.873 with
/// snownlp-v2-d4269c65, the first model ever run on it): below the goal of issue 3. This is a
/// regression floor, not the goal.
#[test]
fn more_domains_fixture_stays_above_its_floor() {
    assert_default_model_above("reviews-more-domains.csv", 660, 0.76, 0.85);
}

/// Measured 0.912 accuracy, 0.967 ROC-AUC with snownlp-v2-dfc8f99a, the first model scored on
/// it after it was written blind (tests/fixtures/README.md), and with snownlp-v2-38d3fbfe: the
/// goal of issue 3 met on a second set, and this test keeps it met.
#[test]
fn platforms_fixture_stays_above_its_floor() {
    assert_default_model_above("reviews-platforms.csv", 600, 0.88, 0.94);
}

#[test]
fn eval_reports_each_domain_of_a_fixture_that_has_them() {
    let report = default_model_on("reviews-more-domains.csv");
    assert_eq!(report.by_domain.len(), 11, "{report:?}");
    assert!(report.by_domain.iter().all(|d| d.metrics.n == 60));
    let confusions = report.by_domain.iter().map(|d| d.metrics.confusion);
    let (false_neg, false_pos) =
        confusions.fold((0, 0), |(n, p), c| (n + c.false_neg, p + c.false_pos));
    let whole = report.metrics.confusion;
    assert_eq!((false_neg, false_pos), (whole.false_neg, whole.false_pos));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["by_domain"][0]["n"], 60, "{json}");
    // complaints.csv has no domain column: no breakdown, and no key in the JSON.
    let report = default_model_on("complaints.csv");
    assert!(report.by_domain.is_empty());
    assert!(serde_json::to_value(&report)
        .unwrap()
        .get("by_domain")
        .is_none());
}

#[test]
fn eval_brackets_accuracy_and_roc_auc_with_bootstrap_intervals() {
    let report = default_model_on("reviews-other-domains.csv");
    let m = &report.metrics;
    let ci = report.intervals.as_ref().expect("480 rows of both labels");
    assert_eq!(ci.bootstrap_resamples, 1000);
    for (estimate, [lo, hi]) in [(m.accuracy, ci.accuracy_ci95), (m.roc_auc, ci.roc_auc_ci95)] {
        // 480 rows: the interval is a few points wide, not a point and not everything.
        assert!(lo < estimate && estimate < hi, "{ci:?} {m:?}");
        assert!(hi - lo > 0.01 && hi - lo < 0.1, "{ci:?}");
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["accuracy_ci95"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
    // Seeded: the same report twice.
    let again = default_model_on("reviews-other-domains.csv");
    assert_eq!(again.intervals.as_ref(), Some(ci));
    // --bootstrap 0: no intervals, and no keys in the JSON.
    let none = default_model_with_bootstrap("reviews-other-domains.csv", 0);
    assert!(none.intervals.is_none());
    let json = serde_json::to_value(&none).unwrap();
    assert!(json.get("accuracy_ci95").is_none() && json.get("roc_auc_ci95").is_none());
}
