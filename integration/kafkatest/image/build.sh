#!/usr/bin/env bash
# Builds the Apache Kafka image for Eddy's tests without any image registry:
#   1. a Debian bookworm root filesystem with a headless Java 17 runtime, made by debootstrap
#      and imported as the base image (kept, so later Kafka versions reuse it);
#   2. the broker's jars for the version in VERSION, resolved from Maven Central by pom.xml;
#   3. a docker build that puts the jars and entrypoint.sh on the base.
# Does nothing when the image exists already. Needs root (debootstrap), Docker, Maven.
#
# Environment: KAFKA_LOCAL_IMAGE names the image (default: see name.sh);
# DEBIAN_MIRROR picks the mirror (default http://deb.debian.org/debian).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=name.sh
. "$here/name.sh"
version=$(<"$here/VERSION")
image=$(local_image_name "$here")
base_image=eddy/debian-jre17:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf 'kafka-image: %s\n' "$*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then
	log "$image exists already; nothing to build"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! docker image inspect "$base_image" >/dev/null 2>&1; then
	log "making $base_image with debootstrap from $mirror"
	command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
	debootstrap --variant=minbase --include=openjdk-17-jre-headless bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
	rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
	tar -C "$work/rootfs" -c . | docker import - "$base_image" >/dev/null
	rm -rf "$work/rootfs"
fi

log "resolving Apache Kafka $version and its runtime dependencies from Maven Central"
mkdir -p "$work/context/libs"
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" dependency:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$work/context/libs"
cp "$here/Dockerfile" "$here/entrypoint.sh" "$work/context/"

log "building $image"
DOCKER_BUILDKIT=0 docker build -q --build-arg BASE_IMAGE="$base_image" -t "$image" "$work/context" >/dev/null
log "built $image"
