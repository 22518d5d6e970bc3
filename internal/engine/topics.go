package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/store"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Errors of start-up checks. The root package re-exports them.
var (
	// ErrMissingTopics: a source or sink topic does not exist. Eddy creates only its
	// internal topics.
	ErrMissingTopics = errors.New("topics do not exist")
	// ErrCopartitioning: topics read by one subtopology have different partition counts.
	ErrCopartitioning = errors.New("copartitioned topics have different partition counts")
	// ErrInternalTopic: an existing internal topic does not match what the topology needs.
	ErrInternalTopic = errors.New("internal topic does not match the topology")
)

// prepareTopics checks the topology against the cluster and creates missing changelog
// and internal topics: source, sink and global store topics, and the dead-letter topic
// if any, must exist; internal topics are created as prepareInternalTopics says; the
// source topics of each subtopology must have the same partition count; each changelog
// has that count and is compacted. It
// returns the partition count of every topic the tasks read or write and of the global
// stores' topics.
func prepareTopics(ctx context.Context, admin *kadm.Client, topo *plan.Topology, replication int16, deadLetter string) (map[string]int32, error) {
	partitions := map[string]int32{}
	external := externalTopics(topo)
	if deadLetter != "" {
		external = append(external, deadLetter)
	}
	// Every topic at once: asking for topics that do not exist makes the client retry
	// until its retry timeout, and missing changelogs are the normal first start.
	details, err := admin.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var missing []string
	for _, t := range external {
		d, ok := details[t]
		if !ok || d.Err != nil {
			missing = append(missing, t)
			continue
		}
		partitions[t] = int32(len(d.Partitions))
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("%w: %s (create them before starting the application)", ErrMissingTopics, strings.Join(slices.Compact(missing), ", "))
	}
	if err := prepareInternalTopics(ctx, admin, topo, details, partitions, replication); err != nil {
		return nil, err
	}

	changelogs := map[string]int32{}
	configs := map[string]map[string]string{}
	for _, sub := range topo.Subtopologies {
		topics := sub.SourceTopics()
		counts := map[string]int32{}
		for _, t := range topics {
			counts[t] = partitions[t]
		}
		n := counts[topics[0]]
		for _, t := range topics[1:] {
			if counts[t] != n {
				return nil, fmt.Errorf("%w: subtopology %d reads %s", ErrCopartitioning, sub.ID, describeCounts(counts))
			}
		}
		for _, st := range sub.Stores {
			if st.Changelog != "" {
				changelogs[st.Changelog] = n
				configs[st.Changelog] = changelogConfig(st.Def)
			}
		}
	}
	if len(changelogs) == 0 {
		return partitions, nil
	}

	names := slices.Sorted(maps.Keys(changelogs))
	existing := details
	var toCheck []string
	for _, name := range names {
		want := changelogs[name]
		partitions[name] = want
		if d, ok := existing[name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != want {
				return nil, fmt.Errorf("%w: changelog %s has %d partitions, its subtopology's input has %d", ErrInternalTopic, name, got, want)
			}
			toCheck = append(toCheck, name)
			continue
		}
		cfg := make(map[string]*string, len(configs[name]))
		for k, v := range configs[name] {
			cfg[k] = kadm.StringPtr(v)
		}
		// Another instance starting at the same time may have created it first.
		if _, err := admin.CreateTopic(ctx, want, replication, cfg, name); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("creating changelog %s: %w", name, err)
		}
	}
	if created := len(names) - len(toCheck); created > 0 {
		if err := awaitLeaders(ctx, admin, names); err != nil {
			return nil, err
		}
	}
	if len(toCheck) > 0 {
		described, err := admin.DescribeTopicConfigs(ctx, toCheck...)
		if err != nil {
			return nil, fmt.Errorf("describing changelog topics: %w", err)
		}
		for _, rc := range described {
			if rc.Err != nil {
				return nil, fmt.Errorf("describing changelog %s: %w", rc.Name, rc.Err)
			}
			for _, c := range rc.Configs {
				if c.Key == "cleanup.policy" && !compacts(c.MaybeValue()) {
					return nil, fmt.Errorf("%w: changelog %s has cleanup.policy=%s, not compact", ErrInternalTopic, rc.Name, c.MaybeValue())
				}
			}
		}
	}
	return partitions, nil
}

// changelogConfig is the topic configuration of a store's changelog: the store's own,
// with a cleanup.policy that compacts. A policy of the store that compacts is kept
// (window and session stores ask for compact,delete, as in Kafka Streams); any other is
// replaced by compact. The timestamp type is CreateTime unless the store sets another
// (plan.TimestampTypeConfig).
func changelogConfig(def store.Definition) map[string]string {
	cfg := def.ChangelogConfig()
	if !compacts(cfg["cleanup.policy"]) {
		cfg["cleanup.policy"] = "compact"
	}
	if _, set := cfg[plan.TimestampTypeConfig]; !set {
		cfg[plan.TimestampTypeConfig] = "CreateTime"
	}
	return cfg
}

// compacts reports whether a cleanup.policy value (a comma-separated list) includes
// compact.
func compacts(policy string) bool {
	for p := range strings.SplitSeq(policy, ",") {
		if strings.TrimSpace(p) == "compact" {
			return true
		}
	}
	return false
}

func describeCounts(counts map[string]int32) string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s (%d partitions)", t, counts[t]))
	}
	return strings.Join(parts, ", ")
}

// awaitLeaders waits until every partition of topics has a leader in the cluster's
// metadata: a topic just created is not served at once.
func awaitLeaders(ctx context.Context, admin *kadm.Client, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		details, err := admin.ListTopics(ctx, topics...)
		if err == nil {
			err = ledEverywhere(details, topics)
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for new topics to be served: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ledEverywhere(details kadm.TopicDetails, topics []string) error {
	for _, t := range topics {
		d, ok := details[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return fmt.Errorf("topic %s is not in the metadata yet", t)
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("topic %s partition %d has no leader yet", t, p.Partition)
			}
		}
	}
	return nil
}

// externalTopics are the topics the application reads and writes but does not own:
// those of sources, sinks and global stores, without the internal topics.
func externalTopics(topo *plan.Topology) []string {
	internal := map[string]bool{}
	for _, it := range topo.InternalTopics {
		internal[it.Name] = true
	}
	var external []string
	for _, t := range append(topo.SourceTopics(), topo.SinkTopics()...) {
		if !internal[t] {
			external = append(external, t)
		}
	}
	for _, g := range topo.GlobalStores {
		external = append(external, g.Topic)
	}
	return external
}
