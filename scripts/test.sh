#!/usr/bin/env bash
# The project's test command (the README's; `.ci/run` calls it): installs what the tests need
# (Debian prometheus/promtool, Apache Kafka's jars from Maven Central) when missing, then runs both tiers. Plain
# `cargo test` runs only the first, tool-free tier; the tests that need external tools are built
# only with the `external-tools` feature (Cargo.toml), which this script always enables. Those
# tests fail loudly when a tool is missing; nothing skips.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/install-test-deps.sh build
# The second tier's tools (apt, Maven: network) install while cargo compiles (CPU): a fresh
# machine waits for the longer of the two, not for both one after the other.
tools_log="$(mktemp)"
trap 'rm -f "$tools_log"' EXIT
scripts/install-test-deps.sh tools >"$tools_log" 2>&1 &
tools=$!
if ! cargo test --locked --all-targets --features external-tools --no-run; then
    wait "$tools" || true
    cat "$tools_log"
    exit 1
fi
if ! wait "$tools"; then
    cat "$tools_log"
    echo "test.sh: installing the test tools failed (output above)" >&2
    exit 1
fi
cat "$tools_log"
cargo test --locked --all-targets --features external-tools
