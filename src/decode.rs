//! Kafka message bytes → [`Feedback`], or a [`DecodeError`] with a small fixed reason code.
//!
//! Decoding never panics and never allocates for the payload beyond the fields it keeps. The
//! reason codes are the only thing about a bad message that reaches metrics labels; the payload
//! and the id never do.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

/// What kind of event it is: feedback (review, complaint, survey), or an operational event from
/// a ticketing or CRM system that only measures (`[[measures]]`) read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Review,
    Complaint,
    Survey,
    /// A support ticket: first-response and resolution times.
    Ticket,
    /// A survey invitation: the denominator of the response rate.
    SurveyInvite,
    /// An account decision, e.g. churned or renewed.
    Account,
    /// An order.
    Order,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Review,
        Kind::Complaint,
        Kind::Survey,
        Kind::Ticket,
        Kind::SurveyInvite,
        Kind::Account,
        Kind::Order,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Review => "review",
            Kind::Complaint => "complaint",
            Kind::Survey => "survey",
            Kind::Ticket => "ticket",
            Kind::SurveyInvite => "survey_invite",
            Kind::Account => "account",
            Kind::Order => "order",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Returns true if and only if the kind is customer feedback (text or survey scores), which
    /// the built-in indices read; the other kinds only feed measures.
    pub fn is_feedback(self) -> bool {
        matches!(self, Kind::Review | Kind::Complaint | Kind::Survey)
    }
}

/// Survey answers carried by an event; each is checked against its scale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// CSAT, 1–5.
    pub csat: Option<u8>,
    /// NPS likelihood to recommend, 0–10.
    pub nps: Option<u8>,
    /// Customer effort score, 1–7.
    pub ces: Option<u8>,
    /// CSI dimension scores, 0–10 each, in key order.
    pub csi: Vec<(String, f64)>,
}

impl Scores {
    /// Returns true if and only if the event carries at least one score.
    pub fn any(&self) -> bool {
        self.csat.is_some() || self.nps.is_some() || self.ces.is_some() || !self.csi.is_empty()
    }
}

/// One decoded feedback event.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub id: String,
    /// Event time in Unix milliseconds: `ts` of the event, else the Kafka message timestamp.
    pub event_time_ms: i64,
    pub kind: Kind,
    /// Free text, trimmed; `None` when absent or blank.
    pub text: Option<String>,
    pub scores: Scores,
    /// `dims` of the event, in key order.
    pub dims: Vec<(String, String)>,
    /// Every other top-level field (`ticket`, `account`, `order`, …), in message order, for the
    /// measures to read by path. Empty for plain feedback, so it costs nothing there.
    pub fields: Vec<(String, serde_json::Value)>,
}

impl Feedback {
    /// The value at a path of top-level field names and nested keys (`["ticket",
    /// "first_response_s"]`); `None` when any step is missing or JSON `null`.
    pub fn field<S: AsRef<str>>(&self, path: &[S]) -> Option<&serde_json::Value> {
        let (first, rest) = path.split_first()?;
        let mut v = self
            .fields
            .iter()
            .find(|(k, _)| k == first.as_ref())
            .map(|(_, v)| v)?;
        for step in rest {
            v = v.get(step.as_ref())?;
        }
        (!v.is_null()).then_some(v)
    }

    /// The value of dimension `key`, if the event has it.
    pub fn dim(&self, key: &str) -> Option<&str> {
        self.dims
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a message could not be decoded. Each variant has a stable code for metrics and dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not valid UTF-8")]
    InvalidUtf8,
    #[error("message is not valid JSON")]
    InvalidJson,
    #[error("a required field is missing")]
    MissingField,
    #[error("a field has the wrong type or an unknown value")]
    WrongType,
    #[error("a score is outside its scale")]
    ScoreOutOfRange,
    #[error("the text is longer than limits.max_text_chars")]
    TextTooLong,
    #[error("the event has neither text nor any score")]
    EmptyEvent,
    #[error("the timestamp is neither RFC 3339 nor epoch milliseconds")]
    InvalidTimestamp,
    #[error("the message is larger than limits.max_message_bytes")]
    TooLarge,
    #[error("a field a measure reads has a value of the wrong type or outside its range")]
    BadFieldValue,
}

impl DecodeError {
    pub const ALL: [DecodeError; 10] = [
        DecodeError::InvalidUtf8,
        DecodeError::InvalidJson,
        DecodeError::MissingField,
        DecodeError::WrongType,
        DecodeError::ScoreOutOfRange,
        DecodeError::TextTooLong,
        DecodeError::EmptyEvent,
        DecodeError::InvalidTimestamp,
        DecodeError::TooLarge,
        DecodeError::BadFieldValue,
    ];

    /// The reason code used in `manyi_invalid_messages_total{reason}` and in dead-letter envelopes.
    pub fn code(self) -> &'static str {
        match self {
            DecodeError::InvalidUtf8 => "invalid_utf8",
            DecodeError::InvalidJson => "invalid_json",
            DecodeError::MissingField => "missing_field",
            DecodeError::WrongType => "wrong_type",
            DecodeError::ScoreOutOfRange => "score_out_of_range",
            DecodeError::TextTooLong => "text_too_long",
            DecodeError::EmptyEvent => "empty_event",
            DecodeError::InvalidTimestamp => "invalid_timestamp",
            DecodeError::TooLarge => "too_large",
            DecodeError::BadFieldValue => "bad_field_value",
        }
    }
}

/// Limits applied while decoding: the `[limits]` section of the config.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeLimits {
    /// Texts longer than this many characters are rejected as `text_too_long`.
    #[serde(default = "default_max_text_chars")]
    pub max_text_chars: usize,
    /// Messages larger than this many bytes are rejected before parsing.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

/// 5000 characters: longer than any review, short enough to bound per-message cost.
const fn default_max_text_chars() -> usize {
    5000
}
const fn default_max_message_bytes() -> usize {
    1 << 20
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_text_chars: default_max_text_chars(),
            max_message_bytes: default_max_message_bytes(),
        }
    }
}

impl DecodeLimits {
    pub fn validate(self) -> Result<DecodeLimits, crate::invalid::Invalid> {
        if self.max_text_chars == 0 {
            return Err(crate::invalid::invalid(
                "limits.max_text_chars",
                "must be at least 1",
            ));
        }
        if self.max_message_bytes < 64 {
            return Err(crate::invalid::invalid(
                "limits.max_message_bytes",
                "must be at least 64",
            ));
        }
        Ok(self)
    }
}

/// The event as parsed. Deserialized by hand (below) rather than derived, so that top-level keys
/// other than the known ones can be kept for the measures instead of being skipped.
#[derive(Default)]
struct RawEvent<'a> {
    id: Option<IdValue<'a>>,
    ts: Option<TsValue<'a>>,
    kind: Option<Cow<'a, str>>,
    text: Option<Cow<'a, str>>,
    scores: Option<RawScores<'a>>,
    dims: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    fields: Vec<(String, serde_json::Value)>,
}

/// A string borrowed from the message when it has no escapes.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// A string field, borrowed when possible, `null` as absent.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Option<Cow<'a, str>>);

/// Which other top-level fields to keep.
#[derive(Debug, Clone, Copy)]
pub enum Keep<'k> {
    /// Every one.
    All,
    /// Only these keys; the others are skipped without building a value (the hot path).
    Only(&'k [String]),
}

impl Keep<'_> {
    fn keeps(&self, key: &str) -> bool {
        match self {
            Keep::All => true,
            Keep::Only(keys) => keys.iter().any(|k| k == key),
        }
    }
}

/// Parses a [`RawEvent`], keeping the other fields that [`Keep`] names.
struct RawEventSeed<'k>(Keep<'k>);

impl<'de> serde::de::DeserializeSeed<'de> for RawEventSeed<'_> {
    type Value = RawEvent<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RawEvent<'de>, D::Error> {
        struct Visit<'k>(Keep<'k>);
        impl<'de> serde::de::Visitor<'de> for Visit<'_> {
            type Value = RawEvent<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<RawEvent<'de>, M::Error> {
                use serde::de::Error;
                let mut ev = RawEvent::default();
                let mut seen = [false; 6];
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let slot = ["id", "ts", "kind", "text", "scores", "dims"]
                        .iter()
                        .position(|k| *k == key);
                    if let Some(i) = slot {
                        if std::mem::replace(&mut seen[i], true) {
                            return Err(M::Error::custom(format!("duplicate field `{key}`")));
                        }
                    }
                    match slot {
                        Some(0) => ev.id = map.next_value()?,
                        Some(1) => ev.ts = map.next_value()?,
                        Some(2) => ev.kind = map.next_value::<Text<'de>>()?.0,
                        Some(3) => ev.text = map.next_value::<Text<'de>>()?.0,
                        Some(4) => ev.scores = map.next_value()?,
                        Some(5) => ev.dims = map.next_value()?,
                        _ if self.0.keeps(&key) => {
                            let v: serde_json::Value = map.next_value()?;
                            ev.fields.push((key.into_owned(), v));
                        }
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(ev)
            }
        }
        d.deserialize_map(Visit(self.0))
    }
}

/// Ids are strings; integer ids are accepted too because many producers use them.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue<'a> {
    Str(#[serde(borrow)] Cow<'a, str>),
    Int(i64),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TsValue<'a> {
    Millis(i64),
    Float(f64),
    Text(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Deserialize)]
struct RawScores<'a> {
    #[serde(default)]
    csat: Option<f64>,
    #[serde(default)]
    nps: Option<f64>,
    #[serde(default)]
    ces: Option<f64>,
    #[serde(borrow, default)]
    csi: Option<BTreeMap<Cow<'a, str>, f64>>,
}

/// Decodes one message. `kafka_ts_ms` is the message timestamp, used when the event has no `ts`.
/// Keeps every other top-level field (one nested deeper than serde_json's limit of 128 levels is
/// then `invalid_json`); the pipeline keeps only those its measures read, see [`decode_keeping`].
pub fn decode(
    payload: &[u8],
    kafka_ts_ms: Option<i64>,
    limits: &DecodeLimits,
) -> Result<Feedback, DecodeError> {
    decode_keeping(payload, kafka_ts_ms, limits, Keep::All)
}

/// As [`decode`], keeping only the other top-level fields `keep` names in
/// [`Feedback::fields`]: the pipeline keeps those its measures read.
pub fn decode_keeping(
    payload: &[u8],
    kafka_ts_ms: Option<i64>,
    limits: &DecodeLimits,
    keep: Keep<'_>,
) -> Result<Feedback, DecodeError> {
    use serde::de::DeserializeSeed;
    if payload.len() > limits.max_message_bytes {
        return Err(DecodeError::TooLarge);
    }
    let text = std::str::from_utf8(payload).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = RawEventSeed(keep)
        .deserialize(&mut de)
        .and_then(|raw| de.end().map(|()| raw))
        .map_err(classify_json_error)?;

    let id = match raw.id {
        Some(IdValue::Str(s)) if !s.trim().is_empty() => s.into_owned(),
        Some(IdValue::Int(i)) => i.to_string(),
        Some(IdValue::Str(_)) | None => return Err(DecodeError::MissingField),
    };
    let event_time_ms = match raw.ts {
        Some(ts) => parse_ts(&ts)?,
        None => kafka_ts_ms.ok_or(DecodeError::MissingField)?,
    };
    let kind = match raw.kind.as_deref() {
        None => Kind::Review,
        Some(name) => Kind::from_name(name).ok_or(DecodeError::WrongType)?,
    };
    let text = match raw.text {
        Some(t) => {
            let trimmed = t.trim();
            if trimmed.chars().count() > limits.max_text_chars {
                return Err(DecodeError::TextTooLong);
            }
            (!trimmed.is_empty()).then(|| trimmed.to_owned())
        }
        None => None,
    };
    let scores = match raw.scores {
        Some(s) => Scores {
            csat: integer_score(s.csat, 1, 5)?,
            nps: integer_score(s.nps, 0, 10)?,
            ces: integer_score(s.ces, 1, 7)?,
            csi: match s.csi {
                Some(map) => map
                    .into_iter()
                    .map(|(k, v)| {
                        if (0.0..=10.0).contains(&v) {
                            Ok((k.into_owned(), v))
                        } else {
                            Err(DecodeError::ScoreOutOfRange)
                        }
                    })
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            },
        },
        None => Scores::default(),
    };
    // Operational events (tickets, invitations, accounts, orders) carry their facts in other
    // fields, which the measures check.
    if kind.is_feedback() && text.is_none() && !scores.any() {
        return Err(DecodeError::EmptyEvent);
    }
    let dims = raw
        .dims
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Feedback {
        id,
        event_time_ms,
        kind,
        text,
        scores,
        dims,
        fields: raw.fields,
    })
}

/// Survey scales are whole numbers; 4.0 is accepted as 4, 4.5 is not a CSAT answer.
fn integer_score(v: Option<f64>, lo: u8, hi: u8) -> Result<Option<u8>, DecodeError> {
    match v {
        None => Ok(None),
        Some(x) if x.fract() == 0.0 && x >= lo as f64 && x <= hi as f64 => Ok(Some(x as u8)),
        Some(_) => Err(DecodeError::ScoreOutOfRange),
    }
}

/// Epoch seconds are not accepted: a bare number below year 2001 in milliseconds is almost
/// certainly seconds, and silently reading it as 1970 would put the event in no window.
fn parse_ts(ts: &TsValue<'_>) -> Result<i64, DecodeError> {
    const MIN_MS: i64 = 978_307_200_000; // 2001-01-01
    const MAX_MS: i64 = 32_503_680_000_000; // 3000-01-01
    let ms = match ts {
        TsValue::Millis(ms) => *ms,
        TsValue::Float(f) if f.is_finite() && f.fract() == 0.0 => *f as i64,
        TsValue::Float(_) => return Err(DecodeError::InvalidTimestamp),
        TsValue::Text(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|_| DecodeError::InvalidTimestamp)?
            .timestamp_millis(),
    };
    if (MIN_MS..MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(DecodeError::InvalidTimestamp)
    }
}

fn classify_json_error(e: serde_json::Error) -> DecodeError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io | Category::Syntax | Category::Eof => DecodeError::InvalidJson,
        Category::Data => {
            if e.to_string().starts_with("missing field") {
                DecodeError::MissingField
            } else {
                DecodeError::WrongType
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Result<Feedback, DecodeError> {
        decode(
            s.as_bytes(),
            Some(1_700_000_000_000),
            &DecodeLimits::default(),
        )
    }

    #[test]
    fn full_event_decodes() {
        let fb = dec(r#"{"id":"r-1","ts":"2026-11-23T10:00:00+08:00","kind":"complaint","text":" 配送太慢了，饭都凉了 ",
            "scores":{"csat":1,"nps":3,"ces":6,"csi":{"quality":7.5,"service":2}},"dims":{"channel":"app","region":"华东"}}"#)
        .unwrap();
        assert_eq!(fb.id, "r-1");
        assert_eq!(fb.event_time_ms, 1_795_399_200_000);
        assert_eq!(fb.kind, Kind::Complaint);
        assert_eq!(fb.text.as_deref(), Some("配送太慢了，饭都凉了"));
        assert_eq!(fb.scores.csat, Some(1));
        assert_eq!(fb.scores.nps, Some(3));
        assert_eq!(fb.scores.ces, Some(6));
        assert_eq!(
            fb.scores.csi,
            vec![("quality".to_owned(), 7.5), ("service".to_owned(), 2.0)]
        );
        assert_eq!(fb.dim("channel"), Some("app"));
        assert_eq!(fb.dim("product"), None);
    }

    #[test]
    fn missing_ts_falls_back_to_kafka_time_and_epoch_ms_is_accepted() {
        assert_eq!(
            dec(r#"{"id":"a","text":"好"}"#).unwrap().event_time_ms,
            1_700_000_000_000
        );
        assert_eq!(
            dec(r#"{"id":"a","ts":1763863200000,"text":"好"}"#)
                .unwrap()
                .event_time_ms,
            1_763_863_200_000
        );
        assert_eq!(dec(r#"{"id":7,"scores":{"nps":9}}"#).unwrap().id, "7");
    }

    #[test]
    fn each_bad_input_gets_its_reason() {
        let cases: &[(&[u8], DecodeError)] = &[
            (b"\xff\xfe{}", DecodeError::InvalidUtf8),
            (b"{\"id\": ", DecodeError::InvalidJson),
            (br#""just a string""#, DecodeError::WrongType),
            (b"[1,2]", DecodeError::WrongType),
            (br#"{"text":"hi"}"#, DecodeError::MissingField),
            (br#"{"id":"a","text":5}"#, DecodeError::WrongType),
            (
                br#"{"id":"a","scores":{"csat":6}}"#,
                DecodeError::ScoreOutOfRange,
            ),
            (
                br#"{"id":"a","scores":{"csat":4.5}}"#,
                DecodeError::ScoreOutOfRange,
            ),
            (
                br#"{"id":"a","scores":{"nps":-1}}"#,
                DecodeError::ScoreOutOfRange,
            ),
            (
                br#"{"id":"a","scores":{"csi":{"quality":11}}}"#,
                DecodeError::ScoreOutOfRange,
            ),
            (br#"{"id":"a","scores":{}}"#, DecodeError::EmptyEvent),
            (br#"{"id":"a","text":"   "}"#, DecodeError::EmptyEvent),
            (
                br#"{"id":"a","ts":"yesterday","text":"ok"}"#,
                DecodeError::InvalidTimestamp,
            ),
            (
                br#"{"id":"a","ts":1763863200,"text":"ok"}"#,
                DecodeError::InvalidTimestamp,
            ),
            (
                br#"{"id":"a","kind":"rant","text":"ok"}"#,
                DecodeError::WrongType,
            ),
            (
                br#"{"id":"a","text":"ok","dims":{"channel":3}}"#,
                DecodeError::WrongType,
            ),
        ];
        for (input, want) in cases {
            let got = decode(input, Some(1_700_000_000_000), &DecodeLimits::default());
            assert_eq!(got.err(), Some(*want), "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = DecodeLimits {
            max_text_chars: 3,
            max_message_bytes: 100,
        };
        let long = r#"{"id":"a","text":"一二三四"}"#;
        assert_eq!(
            decode(long.as_bytes(), Some(1_700_000_000_000), &limits),
            Err(DecodeError::TextTooLong)
        );
        let big = format!(r#"{{"id":"a","text":"{}"}}"#, "x".repeat(200));
        assert_eq!(
            decode(big.as_bytes(), None, &limits),
            Err(DecodeError::TooLarge)
        );
    }

    #[test]
    fn operational_kinds_keep_their_other_fields() {
        let fb = dec(r#"{"id":"t1","kind":"ticket","ticket":{"first_response_s":90,"sla":{"tier":"gold"}},"extra":null,"dims":{"channel":"app"}}"#).unwrap();
        assert_eq!(fb.kind, Kind::Ticket);
        assert_eq!(
            fb.field(&["ticket", "first_response_s"]),
            Some(&serde_json::json!(90))
        );
        assert_eq!(
            fb.field(&["ticket", "sla", "tier"]),
            Some(&serde_json::json!("gold"))
        );
        assert_eq!(fb.field(&["ticket", "resolution_s"]), None);
        assert_eq!(fb.field(&["extra"]), None, "null reads as absent");
        // Only the fields asked for are kept.
        let keep = ["ticket".to_owned()];
        let kept = decode_keeping(
            br#"{"id":"t1","kind":"ticket","ticket":{"first_response_s":90},"crm":{"big":[1,2,3]}}"#,
            Some(1_700_000_000_000),
            &DecodeLimits::default(),
            Keep::Only(&keep),
        )
        .unwrap();
        assert_eq!(kept.fields.len(), 1);
        assert_eq!(
            kept.field(&["ticket", "first_response_s"]),
            Some(&serde_json::json!(90))
        );
        assert_eq!(fb.dim("channel"), Some("app"));
        // Feedback still needs text or a score; the other kinds do not.
        assert_eq!(
            dec(r#"{"id":"a","kind":"review","ticket":{}}"#).err(),
            Some(DecodeError::EmptyEvent)
        );
        for kind in ["survey_invite", "account", "order"] {
            let fb = dec(&format!(r#"{{"id":"a","kind":"{kind}"}}"#)).unwrap();
            assert_eq!(fb.kind.as_str(), kind);
        }
        assert_eq!(
            dec(r#"{"id":"a","id":"b","text":"好"}"#).err(),
            Some(DecodeError::WrongType),
            "a duplicate known field is refused"
        );
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = DecodeError::ALL.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), DecodeError::ALL.len());
    }
}
