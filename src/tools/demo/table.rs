//! The demo's live terminal table: the 5m indices per channel.

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
            "   ⚠ app channel: delivery problems now"
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
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}
