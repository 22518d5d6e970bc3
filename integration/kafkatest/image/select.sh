#!/usr/bin/env bash
# Prints the Kafka image the integration tests should run, and makes sure it exists:
#   1. $KAFKA_IMAGE when set, as it is (pulled if absent);
#   2. else, with KAFKA_IMAGE_REBUILD=1 (set by .ci/run), an image build.sh builds now,
#      afresh, under a throwaway name (eddy/kafka-fresh:...), whatever images exist: the
#      official image is not even looked for, so that CI always goes through the build a
#      machine without a registry needs, and tests on what it built. The base image
#      eddy/debian-jre17:bookworm is reused when present. The caller removes the throwaway
#      image after use (the Makefile does);
#   3. else the official apache/kafka image of the Kafka version ($KAFKA_VERSION, else the
#      VERSION file), when it is present or can be pulled;
#   4. else the image build.sh makes without a registry, of the same version, built now if
#      absent and reused if present.
#
# Stdout: the image name, alone on one line, and only after it passed check_image_name
# (name.sh): a well-formed reference to an image present in the Docker engine. Anything
# else makes it fail loudly (exit 1, nothing on stdout) rather than hand the tests a wrong
# name. It says on stderr which image it chose and why; everything it runs writes there too.
#
# KAFKA_IMAGE_REBUILD=1 refuses KAFKA_IMAGE and KAFKA_LOCAL_IMAGE: a named image is not a
# fresh build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=name.sh
. "$here/name.sh"
version=$(kafka_version "$here")
official=apache/kafka:$version

log() { printf 'kafka-image: %s\n' "$*" >&2; }

# build runs build.sh, whose stdout is the image name; anything else it prints is caught by
# the check below.
build() { "$here/build.sh"; }

if rebuild_requested; then
	if [[ -n ${KAFKA_IMAGE:-} ]]; then
		log "KAFKA_IMAGE_REBUILD=1 builds the image afresh; unset KAFKA_IMAGE ($KAFKA_IMAGE) or KAFKA_IMAGE_REBUILD"
		exit 1
	fi
	if [[ -n ${KAFKA_LOCAL_IMAGE:-} ]]; then
		log "KAFKA_IMAGE_REBUILD=1 builds under a throwaway name; unset KAFKA_LOCAL_IMAGE ($KAFKA_LOCAL_IMAGE) or KAFKA_IMAGE_REBUILD"
		exit 1
	fi
	log "KAFKA_IMAGE_REBUILD=1: building Apache Kafka $version afresh under a throwaway name, the official image not considered"
	image=$(build)
elif [[ -n ${KAFKA_IMAGE:-} ]]; then
	image=$KAFKA_IMAGE
	if docker image inspect -- "$image" >/dev/null 2>&1; then
		log "using $image from KAFKA_IMAGE"
	elif pull_error=$(docker pull -q -- "$image" 2>&1 >/dev/null); then
		log "using $image from KAFKA_IMAGE, pulled"
	else
		log "KAFKA_IMAGE=$(printf %q "$image") is not present and cannot be pulled (${pull_error//$'\n'/ })"
		exit 1
	fi
elif docker image inspect "$official" >/dev/null 2>&1; then
	log "using the official $official, present locally"
	image=$official
elif pull_error=$(docker pull -q "$official" 2>&1 >/dev/null); then
	log "using the official $official, pulled"
	image=$official
else
	log "the official $official cannot be pulled (${pull_error//$'\n'/ }); using the image built without a registry"
	image=$(build)
fi

check_image_name "$image" || { log "no image for the tests"; exit 1; }
echo "$image"
