#!/usr/bin/env bash
# The project's test command (the README's; `.ci/run` calls it): installs what the tests need
# (Debian prometheus/promtool, Apache Kafka's jars from Maven Central) when missing, then runs both tiers. Plain
# `cargo test` runs only the first, tool-free tier; the tests that need external tools are built
# only with the `external-tools` feature (Cargo.toml), which this script always enables. Those
# tests fail loudly when a tool is missing; nothing skips.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo test --locked --all-targets --features external-tools
