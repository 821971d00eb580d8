#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine:
#  - Debian's prometheus package (prometheus + promtool) for rule tests and scrape tests
#  - Apache Kafka (jars from Maven Central, run by the machine's Java 17+) for the real-broker
#    tests, into a cache outside the work tree (scripts/fetch-kafka.sh)
#  - libssl-dev and pkg-config, which the rdkafka `ssl` feature (TLS, SASL SCRAM) builds against
# Idempotent: tools already present are left alone.
#
# Usage: install-test-deps.sh [build|tools|all]   (default all)
#   build: what compiling needs (libssl-dev, pkg-config);
#   tools: what running the second tier needs (prometheus, Java and Maven, Kafka's jars).
# scripts/test.sh installs `build` first, then `tools` while cargo compiles.
set -euo pipefail

part="${1:-all}"
case "$part" in
    build|tools|all) ;;
    *) echo "install-test-deps: unknown part '$part' (build, tools or all)" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "$part" != build ] \
    && { ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; }; then
    echo "install-test-deps: installing Debian prometheus (prometheus, promtool)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package starts a system service on some hosts; the tests start their own servers.
    # Only that service is stopped (never processes by name).
    $SUDO systemctl stop prometheus 2>/dev/null || true
fi

# rdkafka's `ssl` feature (TLS, SASL SCRAM) builds against the system OpenSSL.
if [ "$part" != tools ] && { ! dpkg -s libssl-dev >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1; }; then
    echo "install-test-deps: installing libssl-dev and pkg-config (rdkafka ssl feature)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >/dev/null
fi

[ "$part" = build ] && exit 0

# Apache Kafka 4 runs on Java 17+ (Debian 12's default JRE); Maven fetches its jars.
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    echo "install-test-deps: installing a Java runtime and Maven (Apache Kafka for the broker tests)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends default-jre-headless maven >/dev/null
fi
KAFKA_LIBS="$("$(dirname "$0")/fetch-kafka.sh")"

command -v promtool
echo "kafka jars: $KAFKA_LIBS"
