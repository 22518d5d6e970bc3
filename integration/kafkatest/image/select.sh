#!/usr/bin/env bash
# Prints the Kafka image the integration tests should run, and makes sure it exists:
#   1. $KAFKA_IMAGE when set, as it is;
#   2. else the official apache/kafka image of the Kafka version ($KAFKA_VERSION, else the
#      VERSION file), when it is present or can be pulled;
#   3. else the image build.sh makes without a registry, of the same version, built now if
#      absent.
# Says on stderr which one it chose and why.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=name.sh
. "$here/name.sh"
version=$(kafka_version "$here")
official=apache/kafka:$version
local_image=$(local_image_name "$here")

log() { printf 'kafka-image: %s\n' "$*" >&2; }

if [[ -n ${KAFKA_IMAGE:-} ]]; then
	log "using $KAFKA_IMAGE from KAFKA_IMAGE"
	echo "$KAFKA_IMAGE"
elif docker image inspect "$official" >/dev/null 2>&1; then
	log "using the official $official, present locally"
	echo "$official"
elif pull_error=$(docker pull -q "$official" 2>&1 >/dev/null); then
	log "using the official $official, pulled"
	echo "$official"
else
	log "the official $official cannot be pulled (${pull_error//$'\n'/ }); using $local_image, built without a registry"
	# Standard output is the image name alone: whatever the build prints goes to stderr.
	KAFKA_LOCAL_IMAGE=$local_image "$here/build.sh" >&2
	echo "$local_image"
fi
