package kafkatest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// node is one combined broker and controller of a cluster the harness starts.
type node struct {
	id             int
	brokerPort     int
	controllerPort int
}

func (n node) brokerAddr() string {
	return net.JoinHostPort(loopback, strconv.Itoa(n.brokerPort))
}

const loopback = "127.0.0.1"

// brokerConfig returns the server properties of node n of a cluster of nodes, with
// overrides applied last. The defaults make transactions, consumer groups and compaction
// work on a cluster of any size down to one node, and make tests fast: internal topics
// replicated to at most three nodes, no initial rebalance delay, few internal partitions,
// a small cleaner buffer and a cleaner that looks for work every half second.
func brokerConfig(nodes []node, n node, overrides map[string]string) map[string]string {
	replication := min(len(nodes), 3)
	minISR := min(replication, 2)
	voters := make([]string, len(nodes))
	for i, v := range nodes {
		voters[i] = fmt.Sprintf("%d@%s:%d", v.id, loopback, v.controllerPort)
	}
	config := map[string]string{
		"node.id":                                          strconv.Itoa(n.id),
		"process.roles":                                    "broker,controller",
		"listeners":                                        fmt.Sprintf("PLAINTEXT://%s:%d,CONTROLLER://%s:%d", loopback, n.brokerPort, loopback, n.controllerPort),
		"advertised.listeners":                             "PLAINTEXT://" + n.brokerAddr(),
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name":                       "PLAINTEXT",
		"controller.listener.names":                        "CONTROLLER",
		"controller.quorum.voters":                         strings.Join(voters, ","),
		"log.dirs":                                         "/tmp/kafka-logs",
		"num.partitions":                                   "1",
		"default.replication.factor":                       strconv.Itoa(replication),
		"auto.create.topics.enable":                        "false",
		"group.initial.rebalance.delay.ms":                 "0",
		"offsets.topic.replication.factor":                 strconv.Itoa(replication),
		"offsets.topic.num.partitions":                     "10",
		"transaction.state.log.replication.factor":         strconv.Itoa(replication),
		"transaction.state.log.min.isr":                    strconv.Itoa(minISR),
		"transaction.state.log.num.partitions":             "10",
		"share.coordinator.state.topic.replication.factor": strconv.Itoa(replication),
		"share.coordinator.state.topic.min.isr":            strconv.Itoa(minISR),
		"log.cleaner.dedupe.buffer.size":                   strconv.Itoa(8 << 20),
		"log.cleaner.backoff.ms":                           "500",
	}
	for k, v := range overrides {
		config[k] = v
	}
	return config
}

// envName returns the environment variable that sets server property name in both the
// official apache/kafka image and image/entrypoint.sh: "KAFKA_", then the name in upper
// case with "_" written "__", "-" written "___" and "." written "_".
func envName(property string) string {
	name := strings.ReplaceAll(property, "_", "__")
	name = strings.ReplaceAll(name, "-", "___")
	name = strings.ReplaceAll(name, ".", "_")
	return "KAFKA_" + strings.ToUpper(name)
}

// containerEnv is the environment of one node's container.
func containerEnv(clusterID, heap string, config map[string]string) map[string]string {
	env := map[string]string{
		"CLUSTER_ID":      clusterID,
		"KAFKA_HEAP_OPTS": heap,
	}
	for k, v := range config {
		env[envName(k)] = v
	}
	return env
}

// newClusterID returns a random cluster id in the form Kafka's storage tool expects:
// a UUID in URL-safe base64 without padding. Like Kafka's own Uuid.randomUuid, it never
// starts with '-', which command lines would take for an option.
func newClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("kafkatest: cluster id: %w", err)
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

// freePorts returns n distinct TCP ports that were free on loopback a moment ago. All
// listeners stay open until every port is picked, so the ports differ from each other.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, fmt.Errorf("kafkatest: finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
