# Sourced by build.sh and select.sh. Every function prints its result alone on stdout (its
# callers capture it with $(...)); messages go to stderr.
#
# kafka_version prints the Apache Kafka version to build or run: $KAFKA_VERSION when set
# (make bench sets it to the Kafka Streams contender's version), else the VERSION file.
kafka_version() {
	local here=$1 version
	if [[ -n ${KAFKA_VERSION:-} ]]; then
		version=$KAFKA_VERSION
	else
		version=$(<"$here/VERSION") || return 1
	fi
	# It becomes part of an image tag and a Maven property.
	if [[ ! $version =~ ^[0-9A-Za-z][0-9A-Za-z._-]*$ ]]; then
		printf 'kafka-image: %q is not a Kafka version\n' "$version" >&2
		return 1
	fi
	echo "$version"
}

# rebuild_requested succeeds when KAFKA_IMAGE_REBUILD=1 (set by .ci/run): build the image
# afresh under a throwaway name instead of reusing one. Unset, empty or 0 mean no; any other
# value is an error rather than a silent no.
rebuild_requested() {
	case ${KAFKA_IMAGE_REBUILD:-0} in
	1) return 0 ;;
	0) return 1 ;;
	*)
		printf 'kafka-image: KAFKA_IMAGE_REBUILD=%q: want 1 (rebuild) or 0/unset\n' "$KAFKA_IMAGE_REBUILD" >&2
		exit 1
		;;
	esac
}

# local_image_name prints the name of the image build.sh makes. Its tag holds the Kafka
# version and a hash of that version and of every file the build uses, so that a changed
# entrypoint or dependency list makes a new image instead of reusing a stale one.
# KAFKA_LOCAL_IMAGE overrides it.
#
# With KAFKA_IMAGE_REBUILD=1 it prints a throwaway name instead, unique to this call:
# eddy/kafka-fresh:<version>-<hash>-<UTC time>-<pid>, in a repository of its own so that
# leftovers are easy to list and remove (docker images eddy/kafka-fresh). KAFKA_LOCAL_IMAGE
# is refused then: a rebuild must not overwrite, or be mistaken for, a kept image.
local_image_name() {
	local here=$1 version hash
	version=$(kafka_version "$here") || return 1
	# The version is hashed as the VERSION file holds it (one line), so that the default
	# name does not depend on whether the version came from the file or the environment.
	hash=$({ printf '%s\n' "$version" && cat "$here/Dockerfile" "$here/entrypoint.sh" "$here/pom.xml"; } | sha256sum | cut -c1-12) || return 1
	if rebuild_requested; then
		if [[ -n ${KAFKA_LOCAL_IMAGE:-} ]]; then
			echo "kafka-image: KAFKA_IMAGE_REBUILD=1 builds under a throwaway name; unset KAFKA_LOCAL_IMAGE ($KAFKA_LOCAL_IMAGE)" >&2
			return 1
		fi
		echo "eddy/kafka-fresh:$version-$hash-$(date -u +%Y%m%dT%H%M%SZ)-$$"
		return
	fi
	echo "${KAFKA_LOCAL_IMAGE:-eddy/kafka:$version-$hash}"
}

# check_image_name fails, saying why on stderr, unless its argument is a single well-formed
# Docker image reference of an image present in the local engine. Callers print a name
# only after it passed, so that nothing but an image name reaches their stdout: a stray
# line there (such as Maven's colour codes once were) would otherwise become the image
# the tests are told to run.
check_image_name() {
	local name=$1
	# [registry[:port]/]path[:tag], lower-case path, as docker accepts it; no digests.
	local ref='^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$'
	if [[ ! $name =~ $ref ]]; then
		printf 'kafka-image: %q is not an image name; refusing to hand it to the tests\n' "$name" >&2
		return 1
	fi
	if ! docker image inspect -- "$name" >/dev/null 2>&1; then
		printf 'kafka-image: image %s is not present in the Docker engine\n' "$name" >&2
		return 1
	fi
}
