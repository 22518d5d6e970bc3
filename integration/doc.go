// Package integration holds Eddy's tests against real Apache Kafka: the broker smoke tests
// here, and the end-to-end tests of the engine. Package kafkatest below it starts the
// brokers. This directory is a module of its own, so that testcontainers and the Docker
// client never enter the module graph of applications that embed Eddy.
//
// Run with `make test-integration`, which also makes sure a Kafka image exists.
package integration
