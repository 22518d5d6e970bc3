#!/usr/bin/env bash
# Prepares this machine for Eddy's integration tests and benchmarks, and does nothing
# more when it is ready: installs from Debian's packages what is missing (the Docker
# engine, debootstrap and Maven, which build the Kafka image without a registry, and a
# JDK, which builds the Kafka Streams side of the benchmarks and of the differential
# suite, integration/differential_test.go), and starts the Docker engine when none
# answers. Installing needs root; without it, it says what to install.
# It writes nothing on stdout: its messages, and those of what it runs, go to stderr.
#
# Used by `make test-integration` (so by `make test` and .ci/run), `make bench` and
# `make kafka-image`.
set -euo pipefail

log() { printf 'host: %s\n' "$*" >&2; }

install_packages() {
	local missing=()
	command -v dockerd >/dev/null || missing+=(docker.io)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v mvn >/dev/null || missing+=(maven)
	command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
	((${#missing[@]} == 0)) && return
	if ((EUID != 0)); then
		log "missing ${missing[*]}; install them as root: apt-get install ${missing[*]}"
		return 1
	fi
	log "installing ${missing[*]} from Debian's packages"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_docker() {
	docker info >/dev/null 2>&1 && return
	if ((EUID != 0)); then
		log "no Docker engine answers; start one (as root: dockerd &)"
		return 1
	fi
	local out=/tmp/eddy-dockerd.log
	log "starting dockerd (log: $out)"
	nohup dockerd >"$out" 2>&1 &
	for _ in $(seq 60); do
		if docker info >/dev/null 2>&1; then
			log "$(docker version --format 'Docker engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
			return
		fi
		sleep 1
	done
	log "dockerd did not answer within 60s; the end of its log:"
	tail -n 30 "$out" >&2
	return 1
}

install_packages
# Against a cluster that already runs (KAFKA_BOOTSTRAP), the tests start no container.
[[ -n ${KAFKA_BOOTSTRAP:-} ]] || start_docker
