// Package kafkatest starts real Apache Kafka for tests, in the spirit of net/http/httptest.
//
// Start runs a KRaft cluster of combined broker and controller nodes in Docker through
// testcontainers-go. Every node uses host networking and listens only on 127.0.0.1, on
// ports that were free when it started; readiness is the broker's own log line, not a
// mapped port. The image is the official apache/kafka image of the version pinned in
// image/VERSION unless KAFKA_IMAGE names another; image/build.sh makes an equivalent
// image on machines that reach no image registry. Both are configured the same way,
// through KAFKA_* environment variables.
//
// KAFKA_BOOTSTRAP=host:port[,host:port] makes Start use an already running cluster on
// loopback instead of starting one.
//
// Tests of one package share one cluster through Shared:
//
//	var kafka = kafkatest.NewShared()
//
//	func TestMain(m *testing.M) { os.Exit(kafka.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		cluster := kafka.Cluster(t)
//		topic := cluster.NewTopic(t, 3, nil)
//		client := cluster.Client(t)
//		...
//	}
package kafkatest
