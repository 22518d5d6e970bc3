# Sourced by build.sh and select.sh.
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

# local_image_name prints the name of the image build.sh makes. Its tag holds the Kafka
# version and a hash of that version and of every file the build uses, so that a changed
# entrypoint or dependency list makes a new image instead of reusing a stale one.
# KAFKA_LOCAL_IMAGE overrides it.
local_image_name() {
	local here=$1 version hash
	version=$(kafka_version "$here") || return 1
	# The version is hashed as the VERSION file holds it (one line), so that the default
	# name does not depend on whether the version came from the file or the environment.
	hash=$({ printf '%s\n' "$version" && cat "$here/Dockerfile" "$here/entrypoint.sh" "$here/pom.xml"; } | sha256sum | cut -c1-12) || return 1
	echo "${KAFKA_LOCAL_IMAGE:-eddy/kafka:$version-$hash}"
}
