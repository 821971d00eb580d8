//! The demo's generated stream over five channels: feedback (reviews, complaints, surveys) and
//! the operational events the shipped measures read (tickets, survey invitations, account
//! decisions, orders), with a satisfaction drop on the `app` channel (a delivery problem) partway
//! through, during which its tickets also wait far longer for a first response.
//!
//! Seeded and driven by an explicit clock, so the same seed and times give the same events.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::texts::{ASPECTS, MIXED, NEUTRAL};

pub const CHANNELS: &[&str] = &["app", "web", "wechat", "hotline", "store"];
const REGIONS: &[&str] = &["华东", "华北", "华南", "西南"];
const PRODUCTS: &[&str] = &["外卖", "生鲜", "家电", "话费套餐", "酒店"];

/// When the `app` channel's satisfaction drops, as offsets from the stream start in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dip {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Dip {
    /// Returns true if and only if `elapsed_ms` is inside the drop.
    pub fn contains(&self, elapsed_ms: i64) -> bool {
        elapsed_ms >= self.start_ms && elapsed_ms < self.end_ms
    }
}

/// Generates demo events.
pub struct Generator {
    rng: SmallRng,
    seq: u64,
    dip: Dip,
    /// Share of deliberately malformed messages, so invalid-message handling shows in the demo.
    invalid_share: f64,
}

impl Generator {
    pub fn new(seed: u64, dip: Dip) -> Generator {
        Generator {
            rng: SmallRng::seed_from_u64(seed),
            seq: 0,
            dip,
            invalid_share: 0.005,
        }
    }

    /// The next message payload, for an event at `now_ms`, `elapsed_ms` after the stream began.
    pub fn next(&mut self, now_ms: i64, elapsed_ms: i64) -> Vec<u8> {
        self.seq += 1;
        if self.rng.random_bool(self.invalid_share) {
            return self.malformed();
        }
        let channel = CHANNELS[self.rng.random_range(0..CHANNELS.len())];
        let dropping = channel == "app" && self.dip.contains(elapsed_ms);
        let ts = now_ms - self.rng.random_range(0..3000);
        let dims = json!({
            "channel": channel,
            "region": REGIONS[self.rng.random_range(0..REGIONS.len())],
            "product": PRODUCTS[self.rng.random_range(0..PRODUCTS.len())],
        });
        // About half the events come from ticketing and CRM systems.
        if let Some(event) = self.operational(dropping) {
            let mut event = event;
            event["id"] = json!(format!("demo-{}", self.seq));
            event["ts"] = json!(ts);
            event["dims"] = dims;
            return serde_json::to_vec(&event).expect("demo event serialises");
        }
        // Probability that a customer is satisfied.
        let mood = if dropping { 0.3 } else { 0.8 };
        let happy = self.rng.random_bool(mood);
        let r: f64 = self.rng.random();
        let kind = if r < 0.55 {
            "review"
        } else if r < 0.70 || (!happy && r < 0.80) {
            "complaint"
        } else {
            "survey"
        };
        let mut event = json!({
            "id": format!("demo-{}", self.seq),
            "ts": if self.seq % 2 == 0 { json!(ts) } else { json!(rfc3339(ts)) },
            "kind": kind,
            "dims": dims,
        });
        if kind != "survey" || self.rng.random_bool(0.5) {
            event["text"] = Value::String(self.text(happy, dropping).to_owned());
        }
        if kind == "survey" || self.rng.random_bool(0.3) {
            event["scores"] = self.scores(happy);
        }
        serde_json::to_vec(&event).expect("demo event serialises")
    }

    /// An operational event (without id, ts and dims), or `None` for a feedback event. Shares of
    /// all events: 10 % tickets, 35 % survey invitations (the surveys among the feedback answer
    /// roughly a third of them), 4 % account decisions, 6 % orders.
    fn operational(&mut self, dropping: bool) -> Option<Value> {
        let r: f64 = self.rng.random();
        if r < 0.10 {
            // Log-logistic durations: median 10 min to first response (3 h on app during the
            // drop), 6 h more to resolution; 30 % still open.
            let first = if dropping { 10_800.0 } else { 600.0 } * self.spread();
            let mut ticket = json!({ "first_response_s": first.round() });
            if self.rng.random_bool(0.7) {
                ticket["resolution_s"] = json!((first + 21_600.0 * self.spread()).round());
            }
            Some(json!({ "kind": "ticket", "ticket": ticket }))
        } else if r < 0.45 {
            Some(json!({ "kind": "survey_invite" }))
        } else if r < 0.49 {
            let u: f64 = self.rng.random();
            let status = if u < 0.08 {
                "churned"
            } else if u < 0.88 {
                "renewed"
            } else {
                "trial"
            };
            Some(json!({ "kind": "account", "account": { "status": status } }))
        } else if r < 0.55 {
            let count = if self.rng.random_bool(0.55) {
                1
            } else {
                self.rng.random_range(2..=20)
            };
            Some(json!({ "kind": "order", "order": { "customer_order_count": count } }))
        } else {
            None
        }
    }

    /// A log-logistic factor with median 1 (shape 2): most values within 0.3–3, a long tail.
    fn spread(&mut self) -> f64 {
        let u: f64 = self.rng.random_range(0.001..0.999);
        (u / (1.0 - u)).sqrt()
    }

    fn text(&mut self, happy: bool, dropping: bool) -> &'static str {
        let r: f64 = self.rng.random();
        if r < 0.08 {
            return NEUTRAL[self.rng.random_range(0..NEUTRAL.len())];
        }
        if r < 0.15 {
            return MIXED[self.rng.random_range(0..MIXED.len())];
        }
        // During the drop, unhappy customers mostly write about delivery.
        let aspect = if dropping && !happy && self.rng.random_bool(0.7) {
            &ASPECTS[0]
        } else {
            &ASPECTS[self.rng.random_range(0..ASPECTS.len())]
        };
        let pool = if happy {
            aspect.positive
        } else {
            aspect.negative
        };
        pool[self.rng.random_range(0..pool.len())]
    }

    fn scores(&mut self, happy: bool) -> Value {
        let (csat, nps, ces) = if happy {
            (
                self.rng.random_range(4..=5),
                self.rng.random_range(7..=10),
                self.rng.random_range(1..=3),
            )
        } else {
            (
                self.rng.random_range(1..=3),
                self.rng.random_range(0..=7),
                self.rng.random_range(4..=7),
            )
        };
        let base: f64 = if happy { 8.0 } else { 4.0 };
        let mut csi = serde_json::Map::new();
        for dim in ["quality", "service", "price", "after_sales"] {
            let v = (base + self.rng.random_range(-2.0..2.0f64)).clamp(0.0, 10.0);
            csi.insert(dim.into(), json!((v * 10.0).round() / 10.0));
        }
        json!({ "csat": csat, "nps": nps, "ces": ces, "csi": csi })
    }

    fn malformed(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..4) {
            0 => b"{\"id\": \"broken".to_vec(),
            1 => format!(r#"{{"id":"demo-{}","scores":{{"csat":9}}}}"#, self.seq).into_bytes(),
            2 => vec![0xff, 0xfe, b'{', b'}'],
            _ => format!(r#"{{"id":"demo-{}","kind":"rant","text":"？"}}"#, self.seq).into_bytes(),
        }
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeLimits};

    #[test]
    fn stream_is_mostly_valid_and_seeded() {
        let dip = Dip {
            start_ms: 1000,
            end_ms: 2000,
        };
        let mut a = Generator::new(7, dip);
        let mut b = Generator::new(7, dip);
        let now = 1_764_000_000_000;
        let mut valid = 0;
        for i in 0..2000 {
            let (x, y) = (a.next(now, i), b.next(now, i));
            assert_eq!(x, y);
            if decode(&x, Some(now), &DecodeLimits::default()).is_ok() {
                valid += 1;
            }
        }
        assert!(valid > 1950 && valid < 2000, "{valid}");
    }

    /// Mean first response of the app channel's tickets among `n` events at `elapsed_ms`.
    fn app_first_response(elapsed_ms: i64, n: usize) -> f64 {
        let dip = Dip {
            start_ms: 1000,
            end_ms: 2000,
        };
        let mut g = Generator::new(11, dip);
        let (mut sum, mut count) = (0.0, 0);
        for _ in 0..n {
            let Ok(v) = serde_json::from_slice::<Value>(&g.next(1_764_000_000_000, elapsed_ms))
            else {
                continue;
            };
            if v["kind"] == "ticket" && v["dims"]["channel"] == "app" {
                sum += v["ticket"]["first_response_s"].as_f64().unwrap();
                count += 1;
            }
        }
        assert!(count > 100, "{count}");
        sum / count as f64
    }

    #[test]
    fn app_tickets_wait_longer_for_a_first_response_during_the_drop() {
        let (before, during) = (
            app_first_response(0, 20_000),
            app_first_response(1500, 20_000),
        );
        assert!(during > 5.0 * before, "{before} → {during}");
    }
}
