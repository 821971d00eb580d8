//! The demo's live terminal table: the 5m indices per channel, then the measures per channel.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;

use crate::aggregate::state::{now_ms, LiveState};
use crate::score::indices::Index;

const COLUMNS: &[Index] = &[
    Index::Composite,
    Index::Csat,
    Index::Nps,
    Index::Ces,
    Index::Sentiment,
    Index::NegativeShare,
    Index::ComplaintShare,
];

/// Width of a measure column.
const WIDTH: usize = 14;

/// A column header that fits: the shipped measures' names shortened, others cut.
fn short(name: &str) -> &str {
    match name {
        "first_response_seconds" => "frt_s",
        "resolution_seconds" => "resolution_s",
        "first_response_within_slo" => "frt_in_slo",
        "survey_response_rate" => "response_rate",
        "churn_share" => "churn",
        "repeat_purchase_share" => "repeat",
        _ => &name[..name.len().min(WIDTH - 1)],
    }
}

/// Prints the table (redrawing in place on a terminal).
pub fn print(state: &LiveState, addr: SocketAddr, dropping: bool, quiet: bool) {
    if quiet {
        return;
    }
    let snap = state.snapshot(state.end_ms(now_ms()));
    let window = state
        .windows
        .iter()
        .position(|w| w.label == "5m")
        .unwrap_or(0);
    let mut keys: Vec<_> = snap.series.keys().cloned().collect();
    keys.sort();
    let mut out = String::new();
    let tty = std::io::stdout().is_terminal();
    if tty {
        out.push_str("\x1b[2J\x1b[H");
    }
    out.push_str(&format!(
        "manyi demo — window {} — metrics at http://{addr}/metrics{}\n",
        state.windows[window].label,
        if dropping {
            "   ⚠ app channel: delivery problems, slow first responses now"
        } else {
            ""
        }
    ));
    out.push_str(&format!("{:<10}{:>7}", state.labels.join(","), "n"));
    for c in COLUMNS {
        out.push_str(&format!("{:>16}", c.name()));
    }
    out.push('\n');
    for key in &keys {
        let accs = &snap.series[key][window];
        out.push_str(&format!(
            "{:<10}{:>7}",
            key.join(","),
            accs[Index::ComplaintShare as usize].count
        ));
        for c in COLUMNS {
            match accs[*c as usize].mean() {
                Some(v) => out.push_str(&format!("{v:>16.1}")),
                None => out.push_str(&format!("{:>16}", "-")),
            }
        }
        out.push('\n');
    }
    let measures = state.measures.list();
    if !measures.is_empty() {
        out.push_str(&format!("\n{:<17}", state.labels.join(",")));
        for m in measures {
            out.push_str(&format!("{:>w$}", short(&m.name), w = WIDTH));
        }
        out.push('\n');
        for key in &keys {
            let accs = &snap.series[key][window];
            out.push_str(&format!("{:<17}", key.join(",")));
            for m in 0..measures.len() {
                match accs[state.layout.measure(m)].mean() {
                    Some(v) => out.push_str(&format!("{v:>w$.1}", w = WIDTH)),
                    None => out.push_str(&format!("{:>w$}", "-", w = WIDTH)),
                }
            }
            out.push('\n');
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}
