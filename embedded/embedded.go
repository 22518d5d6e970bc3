// Package embedded runs a Kafka broker inside the process, so that an Eddy application
// (or any Kafka client) can `go run` with nothing installed: a demo, a first try, a
// local run of a service before it meets a cluster.
//
//	broker, err := embedded.Start(ctx, embedded.Topic("orders", 3), embedded.Topic("alerts", 3))
//	if err != nil { ... }
//	defer broker.Close()
//	app, err := eddy.New(topo, eddy.SeedBrokers(broker.Seeds()...), ...)
//
// The broker is franz-go's kfake: an implementation of the Kafka protocol in memory, one
// broker listening on 127.0.0.1, that speaks enough of it for everything Eddy does:
// producing and fetching, consumer groups (Eddy's cooperative assignment included),
// transactions and read_committed fetching (so exactly-once runs on it), topic creation
// and deletion, DeleteRecords, and the admin requests of Kafka's tools. Eddy's own engine
// tests run on it.
//
// It is not Kafka, and not for production: its data lives in memory and is gone when
// the broker closes or the process ends; there is one broker and no replication; it does
// not enforce quotas, retention runs only when asked, and its timing (a produce is
// visible at once) is not a real cluster's. A topic is created only when asked (by Topic
// here, or by any admin client; Eddy creates its internal topics itself): a client
// producing to a topic that does not exist fails after its retries. Test what depends on
// Kafka's behaviour on real Kafka.
//
// This is a module of its own (github.com/eddy-streams/eddy/embedded), so that kfake
// stays out of the build of applications that do not import it.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures Start.
type Option func(*config)

type config struct {
	topics []topic
	port   int
}

type topic struct {
	name       string
	partitions int32
}

// Topic makes Start create the topic name with partitions partitions (at least 1),
// replication factor 1 and the broker's default configs. Default: no topic is created.
// A name given twice is an error.
func Topic(name string, partitions int32) Option {
	return func(c *config) { c.topics = append(c.topics, topic{name, partitions}) }
}

// Port makes the broker listen on 127.0.0.1:port. Default (or 0): a free port that the
// system chooses; Broker.Seeds says which.
func Port(port int) Option {
	return func(c *config) { c.port = port }
}

// validate checks every option.
func (c *config) validate() error {
	var errs []error
	if c.port < 0 || c.port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is not between 0 and 65535", c.port))
	}
	seen := map[string]bool{}
	for _, t := range c.topics {
		switch {
		case t.name == "":
			errs = append(errs, errors.New("a topic without a name"))
		case seen[t.name]:
			errs = append(errs, fmt.Errorf("topic %q given twice", t.name))
		}
		seen[t.name] = true
		if t.partitions < 1 {
			errs = append(errs, fmt.Errorf("topic %q: %d partitions, want at least 1", t.name, t.partitions))
		}
	}
	return errors.Join(errs...)
}

// Broker is a running embedded broker. Its methods are safe for concurrent use.
type Broker struct {
	cluster *kfake.Cluster
	seeds   []string
}

// Start starts a broker on 127.0.0.1 and creates the topics the options name; ctx
// bounds the creation. It returns once the broker answers and every topic exists. The
// caller must Close the broker.
func Start(ctx context.Context, opts ...Option) (*Broker, error) {
	var c config
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("embedded: a nil Option")
		}
		opt(&c)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(c.port))
	if err != nil {
		return nil, fmt.Errorf("embedded: starting the broker: %w", err)
	}
	b := &Broker{cluster: cluster, seeds: cluster.ListenAddrs()}
	if err := b.createTopics(ctx, c.topics); err != nil {
		b.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return b, nil
}

// createTopics creates topics through the broker's own protocol, as any client would.
func (b *Broker) createTopics(ctx context.Context, topics []topic) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(b.Seeds()...))
	if err != nil {
		return err
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	for _, t := range topics {
		resp, err := admin.CreateTopic(ctx, t.partitions, 1, nil, t.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("creating topic %q: %w", t.name, err)
		}
	}
	return nil
}

// Seeds returns the broker's address, host:port, as seed brokers for a client
// (eddy.SeedBrokers, kgo.SeedBrokers).
func (b *Broker) Seeds() []string {
	return slices.Clone(b.seeds)
}

// Close stops the broker and drops everything it held; clients still connected see
// their connections close. It may be called more than once.
func (b *Broker) Close() {
	b.cluster.Close()
}
