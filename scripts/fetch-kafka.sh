#!/usr/bin/env bash
# Fetches Apache Kafka (the broker, kafka_2.13, and its runtime jars) from Maven Central for the
# real-broker tests (tests/common/kafka.rs), by `mvn dependency:copy-dependencies` on
# scripts/kafka/pom.xml. Nothing is built; Java 17+ runs it (`java -cp 'LIBS/*' kafka.Kafka`).
#
# The jars go to a cache outside the work tree:
#   ${MANYI_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/manyi}/kafka-<version>/libs
# (the tests look there too). Idempotent: a complete cache is left alone. Prints the libs folder.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/kafka/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)"
[ -n "$version" ] || { echo "fetch-kafka: no <kafka.version> in $pom" >&2; exit 1; }

cache="${MANYI_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/manyi}"
home="$cache/kafka-$version"
libs="$home/libs"
# The marker names the pom it was fetched from: a changed pom (another log4j, say) fetches again.
stamp="$(sha256sum "$pom" | cut -c1-16)"

if [ -f "$home/.complete" ] && [ "$(cat "$home/.complete")" = "$stamp" ] \
    && [ -f "$libs/kafka_2.13-$version.jar" ]; then
    echo "$libs"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || { echo "fetch-kafka: mvn (Maven) is not installed" >&2; exit 1; }
echo "fetch-kafka: fetching Apache Kafka $version (kafka_2.13 and its runtime jars) from Maven Central" >&2
mkdir -p "$home"
tmp="$(mktemp -d "$home/.libs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" > "$home/mvn.log" 2>&1; then
    cat "$home/mvn.log" >&2
    echo "fetch-kafka: mvn failed (log above, also in $home/mvn.log)" >&2
    exit 1
fi
[ -f "$tmp/kafka_2.13-$version.jar" ] || { echo "fetch-kafka: kafka_2.13-$version.jar missing after mvn" >&2; exit 1; }
rm -rf "$libs"
mv "$tmp" "$libs"
trap - EXIT
echo "$stamp" > "$home/.complete"
echo "fetch-kafka: $(ls "$libs" | wc -l) jars in $libs" >&2
echo "$libs"
