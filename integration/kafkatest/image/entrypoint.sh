#!/bin/bash
# Starts one Apache Kafka node in KRaft mode, configured from the environment with the same
# conventions as the official apache/kafka image, so that the test harness drives both images
# alike:
#   KAFKA_<NAME>  becomes the server property <name>: the prefix is dropped, the rest is lower
#                 cased, "_" becomes ".", "__" becomes "_" and "___" becomes "-";
#   CLUSTER_ID    is the id the storage is formatted with (required);
#   KAFKA_HEAP_OPTS and KAFKA_OPTS are passed to the JVM, not written as properties.
set -euo pipefail

: "${CLUSTER_ID:?CLUSTER_ID must be set to format the storage}"
config=/opt/kafka/config/server.properties
mkdir -p "$(dirname "$config")"
: >"$config"

property_name() {
	local name=${1#KAFKA_}
	name=${name//___/-}
	name=${name//__/$'\x01'}
	name=${name//_/.}
	name=${name//$'\x01'/_}
	printf '%s' "${name,,}"
}

for var in $(compgen -e); do
	case $var in
	KAFKA_HEAP_OPTS | KAFKA_OPTS) ;;
	KAFKA_*) printf '%s=%s\n' "$(property_name "$var")" "${!var}" >>"$config" ;;
	esac
done

format_args=("--cluster-id=$CLUSTER_ID" -c "$config" --ignore-formatted)
# Without a static voter set, a single node bootstraps a dynamic quorum of itself.
grep -q '^controller\.quorum\.voters=' "$config" || format_args+=(--standalone)

classpath='/opt/kafka/libs/*'
java -cp "$classpath" kafka.tools.StorageTool format "${format_args[@]}"

# shellcheck disable=SC2086 # the option strings are word-split on purpose, as kafka-run-class.sh does
exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
	-Djava.awt.headless=true \
	-Dorg.slf4j.simpleLogger.showDateTime=true \
	-Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSS" \
	-Dorg.slf4j.simpleLogger.logFile=System.out \
	${KAFKA_OPTS:-} -cp "$classpath" kafka.Kafka "$config"
