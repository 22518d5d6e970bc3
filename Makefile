# Eddy's build. The repository holds four Go modules: the library (.), the embedded broker
# for users, the runnable examples and the integration tests against real Kafka, each with
# its own go.mod.

GO ?= go
# Go 1.27.3 or later (the go line of every go.mod): Go 1.26.8 miscompiles closures of
# generic DSL functions that two packages of one binary instantiate alike (DESIGN.md,
# "Go toolchain"). The go command fetches this toolchain from the Go module proxy when
# the installed Go is older; exported so that every go command below uses it.
export GOTOOLCHAIN ?= go1.27.3
MODULES := . embedded examples integration
IMAGE_DIR := integration/kafkatest/image
KS_POM := integration/bench/kafkastreams/pom.xml

.PHONY: test test-unit test-integration lint host kafka-image demo demo-pageviews demo-service bench

## test: everything CI runs: lint (gofmt, vet), unit tests with -race, integration tests on real Kafka
test: lint test-unit test-integration

## lint: gofmt and go vet over every module
lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do echo "go vet in $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

## test-unit: the tests that need no broker (every module but integration), with the race detector
test-unit:
	@for m in $(filter-out integration,$(MODULES)); do echo "go test in $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

## host: install (Debian, as root) and start what the broker tests need: the Docker engine, debootstrap, Maven, a JDK; see scripts/host.sh
host:
	bash scripts/host.sh

# on_kafka_image runs $(1) in the integration module with KAFKA_IMAGE set to the image
# select.sh prints (its stdout is that name alone, checked before it prints it). With
# KAFKA_IMAGE_REBUILD=1 (CI: .ci/run) select.sh builds the image afresh under a throwaway
# name, and it is removed afterwards whatever the outcome; a removal that fails only warns
# (leftovers: docker images eddy/kafka-fresh).
define on_kafka_image
image=$$(bash $(IMAGE_DIR)/select.sh) || exit 1; \
status=0; (cd integration && KAFKA_IMAGE=$$image $(1)) || status=$$?; \
if [ "$${KAFKA_IMAGE_REBUILD:-0}" = 1 ]; then \
	if docker image rm "$$image" >/dev/null; then echo "kafka-image: removed the throwaway $$image" >&2; \
	else echo "kafka-image: warning: could not remove the throwaway $$image" >&2; fi; \
fi; \
exit $$status
endef

# The suite takes some 21 minutes on two cores, most of it in the fault tests (stalls,
# kills, broker freezes and outages, which wait out real timeouts): the bound leaves
# room for a slower machine.
## test-integration: the tests against a real Kafka broker in Docker (see integration/kafkatest); KAFKA_IMAGE_REBUILD=1 tests on a freshly built image, as CI does
test-integration: host
	@$(call on_kafka_image,$(GO) test -race -count=1 -v -timeout 45m ./...)

## kafka-image: build the Kafka test image without a registry, unless it exists; prints its name
kafka-image: host
	bash $(IMAGE_DIR)/build.sh

## demo: the word count on an embedded broker (no install); DEMO_ARGS="-brokers host:port" for a real cluster
demo:
	cd examples && $(GO) run ./cmd/wordcount $(DEMO_ARGS)

## demo-pageviews: page views joined with users and counted per region and minute, on an embedded broker; DEMO_ARGS as for demo
demo-pageviews:
	cd examples && $(GO) run ./cmd/pageviews $(DEMO_ARGS)

## demo-service: the example service (orders, alerts, health endpoints on 127.0.0.1:8080, a dead-letter topic, graceful shutdown on Ctrl-C) on an embedded broker; DEMO_ARGS as for demo
demo-service:
	cd examples && $(GO) run ./cmd/service $(DEMO_ARGS)

## bench: Eddy, Kafka Streams and the raw-client ceiling side by side on real Kafka (issue 6), the broker at the Kafka Streams contender's version (kafka.version in integration/bench/kafkastreams/pom.xml) unless KAFKA_IMAGE names another; prints the table and writes BENCHMARKS.md (quick: BENCH_ARGS="-records 100000 -contenders eddy,ceiling"; every input: "-full")
bench:
	bash scripts/host.sh
	@version=$$(sed -n 's:^ *<kafka\.version>\([^<]*\)</kafka\.version> *$$:\1:p' $(KS_POM)) && \
	[ -n "$$version" ] || { echo "bench: no <kafka.version> in $(KS_POM)" >&2; exit 1; }; \
	export KAFKA_VERSION=$$version; \
	$(call on_kafka_image,$(GO) run ./cmd/bench $(BENCH_ARGS))
