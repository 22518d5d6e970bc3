#!/usr/bin/env bash
# Builds the Apache Kafka image for Eddy's tests without any image registry:
#   1. a Debian bookworm root filesystem with a headless Java 17 runtime, made by debootstrap
#      and imported as the base image eddy/debian-jre17:bookworm (kept, and reused by every
#      later build, rebuilds included: making it is the slow part);
#   2. the broker's jars for the Kafka version (VERSION, or $KAFKA_VERSION), resolved from
#      Maven Central by pom.xml, with an slf4j-simple of the slf4j-api that version resolves to;
#   3. a docker build that puts the jars and entrypoint.sh on the base.
# Does nothing when the image exists already, unless KAFKA_IMAGE_REBUILD=1. Needs root
# (debootstrap), Docker, Maven.
#
# Stdout: the name of the image, alone on one line, printed only once the image is there
# (callers capture it; select.sh checks it). Everything else (progress, Maven, docker) goes
# to stderr.
#
# Environment: KAFKA_VERSION overrides the VERSION file (make bench uses it to build the
# version of the Kafka Streams contender); KAFKA_LOCAL_IMAGE names the image (default: see
# name.sh); DEBIAN_MIRROR picks the mirror (default http://deb.debian.org/debian).
# KAFKA_IMAGE_REBUILD=1 (set by .ci/run) builds the Kafka layers again even when an image of
# these inputs exists, under a throwaway name (eddy/kafka-fresh:..., see name.sh), with an
# empty local Maven repository and without docker's build cache, so that every CI run goes
# through the build as a fresh machine does; only the base image is reused. Whoever asked for it removes the throwaway image after use
# (the Makefile does; leftovers: docker images eddy/kafka-fresh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=name.sh
. "$here/name.sh"
version=$(kafka_version "$here")
image=$(local_image_name "$here")
rebuild=false
rebuild_requested && rebuild=true
base_image=eddy/debian-jre17:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf 'kafka-image: %s\n' "$*" >&2; }

if ! $rebuild && docker image inspect "$image" >/dev/null 2>&1; then
	log "$image exists already; nothing to build"
	echo "$image"
	exit 0
fi
began=$SECONDS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

base_state=reused
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
	base_state="made first, by debootstrap"
	log "making $base_image with debootstrap from $mirror"
	command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
	debootstrap --variant=minbase --include=openjdk-17-jre-headless bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
	rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
	tar -C "$work/rootfs" -c . | docker import - "$base_image" >/dev/null
	rm -rf "$work/rootfs"
fi

maven_args=(-q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version")
where="Maven Central"
if $rebuild; then
	# As on a fresh machine: nothing from the local Maven repository of earlier builds.
	maven_args+=(-Dmaven.repo.local="$work/m2")
	where="Maven Central, into an empty local Maven repository"
fi
log "resolving Apache Kafka $version and its runtime dependencies from $where"
mkdir -p "$work/context/libs"
copy_jars() {
	mvn "${maven_args[@]}" "$@" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$work/context/libs" >&2
}
copy_jars
# slf4j-simple binds only to the slf4j-api of its own version, and without a binding the
# broker logs nothing, so it follows whatever this Kafka version resolves slf4j-api to.
api_jars=("$work/context/libs"/slf4j-api-*.jar)
[[ ${#api_jars[@]} -eq 1 && -f ${api_jars[0]} ]] || { log "expected one slf4j-api jar, found: ${api_jars[*]##*/}"; exit 1; }
slf4j=${api_jars[0]##*/slf4j-api-}
slf4j=${slf4j%.jar}
if [[ ! -f $work/context/libs/slf4j-simple-$slf4j.jar ]]; then
	log "Apache Kafka $version resolves slf4j-api $slf4j; taking slf4j-simple $slf4j to match"
	rm -f "$work/context/libs"/slf4j-simple-*.jar
	copy_jars -Dslf4j.version="$slf4j"
fi
cp "$here/Dockerfile" "$here/entrypoint.sh" "$work/context/"

build_args=(-q --build-arg BASE_IMAGE="$base_image" -t "$image")
# A rebuild must not take its layers from the build cache of an earlier build of the same
# inputs; the base is a local image and is never pulled.
how=""
if $rebuild; then
	build_args+=(--no-cache)
	how=" afresh (KAFKA_IMAGE_REBUILD=1: no build cache)"
fi
log "building $image$how"
# docker build -q prints the image id on stdout: not ours to pass on.
DOCKER_BUILDKIT=0 docker build "${build_args[@]}" "$work/context" >/dev/null
docker image inspect "$image" >/dev/null 2>&1 || { log "docker build made no $image"; exit 1; }
log "built $image in $((SECONDS - began))s (Maven and docker build; the base image was $base_state)"
echo "$image"
