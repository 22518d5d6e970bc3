# Sourced by build.sh and select.sh: the name of the image build.sh makes. Its tag holds
# the Kafka version and a hash of everything the build uses, so that a changed entrypoint
# or dependency list makes a new image instead of reusing a stale one.
# KAFKA_LOCAL_IMAGE overrides it.
local_image_name() {
	local here=$1 version hash
	version=$(<"$here/VERSION")
	hash=$(cat "$here/VERSION" "$here/Dockerfile" "$here/entrypoint.sh" "$here/pom.xml" | sha256sum | cut -c1-12)
	echo "${KAFKA_LOCAL_IMAGE:-eddy/kafka:$version-$hash}"
}
