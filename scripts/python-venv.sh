#!/usr/bin/env bash
# Creates (once) the virtualenv the Python comparison scripts use, under target/python-baseline,
# with pinned versions from PyPI: jieba, scikit-learn and snownlp (whose built-in sentiment model
# is one of the baselines issue 3 names). Prints the path of its python.
# Usage: PY="$(scripts/python-venv.sh)"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/python-baseline/venv"
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
fi
"$VENV/bin/pip" install --quiet jieba==0.42.1 scikit-learn==1.9.1 snownlp==0.12.3 >&2
echo "$VENV/bin/python"
