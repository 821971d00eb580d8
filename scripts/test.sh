#!/usr/bin/env bash
# The project's test command: installs what the tests need (Debian prometheus/promtool, Apache
# Kafka's jars from Maven Central) when missing, then runs every test. Tests that need a tool fail
# loudly without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo test --locked --all-targets
