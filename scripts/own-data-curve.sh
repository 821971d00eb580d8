#!/usr/bin/env bash
# How much labelled text of your own domain helps, and how much `manyi train --repeat` adds.
# For each topic hold-out of scripts/topic-holdout.sh (hotel, book, PC), the topic's texts are
# shuffled (seed 11): the first 1,000 are the "own" pool, the rest the evaluation set. Models are
# trained on the texts without the topic plus the first N of the pool (N = 0, 250, 1000), each
# pool text counting R times (R = 1, 4, 10), and evaluated on the same rest. One JSON line per
# model. Settings of `scripts/topic-holdout.sh --quick` (one alpha, no refit, 12,000 columns).
# Usage: scripts/own-data-curve.sh [TOPIC...]   (default: hotel book pc)
# Outputs go to target/own-data-curve/ (override with CURVE_DIR); MANYI=path uses that binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${CURVE_DIR:-$ROOT/target/own-data-curve}"
mkdir -p "$OUT"
HOLDOUT_DIR="$OUT" scripts/topic-holdout.sh --splits-only
if [ -z "${MANYI:-}" ]; then
    cargo build --release --quiet
    MANYI="$ROOT/target/release/manyi"
fi
TOPICS=("$@")
[ "${#TOPICS[@]}" -gt 0 ] || TOPICS=(hotel book pc)

for topic in "${TOPICS[@]}"; do
    python3 - "$OUT/$topic-test.csv" "$OUT/$topic" <<'PY'
import csv, random, sys
src, out = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8", newline="") as f:
    rows = list(csv.reader(f))[1:]
random.Random(11).shuffle(rows)
def write(path, data):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(data)
for n in (250, 1000):
    write(f"{out}-own{n}.csv", rows[:n])
write(f"{out}-rest.csv", rows[1000:])
PY
    for run in 0:1 250:1 250:4 1000:1 1000:4 1000:10; do
        n=${run%:*}
        r=${run#*:}
        data=("$OUT/$topic-train.csv")
        repeat=()
        if [ "$n" != 0 ]; then
            data+=("$OUT/$topic-own$n.csv")
            repeat=(--repeat "1,$r")
        fi
        model="$OUT/$topic-own$n-x$r.json"
        nice -n 5 "$MANYI" train --data "${data[@]}" "${repeat[@]}" --out "$model" \
            --name "own-$topic" --refit train-only --max-columns 12000 --alpha 0.3 \
            2> "$model.log" || { cat "$model.log" >&2; exit 1; }
        printf '{"topic":"%s","own":%s,"repeat":%s,' "$topic" "$n" "$r"
        "$MANYI" eval --data "$OUT/$topic-rest.csv" --model "$model" --json | cut -c2-
    done
done
