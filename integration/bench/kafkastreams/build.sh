#!/usr/bin/env bash
# Builds the Kafka Streams contender of the benchmarks (see the doc comment of
# src/main/java/io/github/eddystreams/bench/kafkastreams/Main.java) and prints, on stdout, the
# command line that runs it; the contender's flags follow it. Messages go to stderr.
# With an argument, the name of another main class of the same jar (the differential suite's
# io.github.eddystreams.differential.Main), the command line runs that class instead.
#
# Maven resolves Kafka Streams and its dependencies from Maven Central and packages
# target/eddy-bench-kafkastreams.jar, whose manifest names the jars it copies to target/lib.
# The build runs only when its inputs changed: a hash of pom.xml and everything under src is
# kept in target/inputs.sha256 after a successful build. Needs Java 17 or later and Maven.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jar=$here/target/eddy-bench-kafkastreams.jar
stamp=$here/target/inputs.sha256

log() { printf 'bench-kafkastreams: %s\n' "$*" >&2; }
fail() { log "$*"; exit 1; }

command -v java >/dev/null || fail "java is not installed (Java 17 or later is needed, e.g. apt-get install openjdk-17-jdk-headless)"
command -v javac >/dev/null || fail "javac is not installed: building needs a JDK, not only a JRE (e.g. apt-get install openjdk-17-jdk-headless)"
command -v mvn >/dev/null || fail "mvn is not installed (apt-get install maven)"
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
[[ -n $java_major && $java_major -ge 17 ]] || fail "java is version ${java_major:-unknown}; Java 17 or later is needed"

inputs_hash() {
	(
		cd "$here"
		sha256sum pom.xml
		find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	) | sha256sum | cut -d' ' -f1
}

want=$(inputs_hash)
if [[ -f $jar && -d $here/target/lib && -f $stamp && $(<"$stamp") == "$want" ]]; then
	log "$jar is up to date"
else
	log "building $jar with Maven"
	rm -f "$stamp"
	began=$SECONDS
	out=$(mktemp)
	trap 'rm -f "$out"' EXIT
	# Maven's output is shown only when it fails.
	mvn -q -B -Dstyle.color=never -f "$here/pom.xml" clean package >"$out" 2>&1 ||
		{ cat "$out" >&2; fail "mvn package failed"; }
	[[ -f $jar ]] || fail "mvn package made no $jar"
	echo "$want" >"$stamp"
	log "built $jar in $((SECONDS - began)) s"
fi

if [[ $# -gt 0 ]]; then
	echo "java -cp $jar $1"
else
	echo "java -jar $jar"
fi
