#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine:
#  - Debian's prometheus package (prometheus + promtool) for rule tests and scrape tests
#  - tansu 0.6.0 (a Kafka-compatible broker) for the real-broker tests, into ~/.cargo/bin
#  - libssl-dev and pkg-config, which the rdkafka `ssl` feature (TLS, SASL SCRAM) builds against
# Idempotent: tools already present are left alone.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    echo "install-test-deps: installing Debian prometheus (prometheus, promtool)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package starts a system service on some hosts; the tests start their own servers.
    $SUDO systemctl stop prometheus 2>/dev/null || true
    pkill -x prometheus 2>/dev/null || true
fi

# rdkafka's `ssl` feature (TLS, SASL SCRAM) builds against the system OpenSSL.
if ! dpkg -s libssl-dev >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1; then
    echo "install-test-deps: installing libssl-dev and pkg-config (rdkafka ssl feature)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >/dev/null
fi

TANSU="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
if [ ! -x "$TANSU" ] || ! "$TANSU" --version 2>/dev/null | grep -q '0\.6\.0'; then
    echo "install-test-deps: building tansu 0.6.0 (about 20 minutes on 2 cores)"
    cargo install tansu --version 0.6.0 --locked --features dynostore,libsql
fi

command -v promtool
"$TANSU" --version
