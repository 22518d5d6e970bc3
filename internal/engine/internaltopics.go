package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file creates the internal (repartition) topics at start-up, with the partition
// counts Kafka Streams would give them (RepartitionTopics and
// CopartitionedTopicsEnforcer).

// internalPartitions returns the partition count of every internal topic. groups are
// the source topics of each subtopology, in subtopology order: the topics of a group
// are copartitioned. known holds the counts of the external topics (every topic that is
// not internal).
//
// A topic's count is, in this order of precedence:
//   - the count of the external topics its reading subtopology also reads
//     (copartitioning); an internal topic that asks for another count is an
//     ErrCopartitioning error;
//   - the count that one of the internal topics of its group asks for (all that ask
//     must agree);
//   - the largest count among the topics upstream of the internal topics of its group
//     (the source topics of the subtopologies that write them), once all of those are
//     known: internal upstream topics are resolved first, to a fixpoint. When groups
//     wait on each other, a group takes the largest count among those of its topics
//     whose upstream is known, one group at a time; internal topics that wait on each
//     other with none known are an ErrInternalTopic error.
//
// The internal topics of one group always get one count, so the group stays
// copartitioned.
func internalPartitions(internal []plan.InternalTopic, groups [][]string, known map[string]int32) (map[string]int32, error) {
	byName := make(map[string]plan.InternalTopic, len(internal))
	for _, it := range internal {
		byName[it.Name] = it
	}
	type group struct {
		sub      int // -1: read by no subtopology
		external []string
		internal []string
	}
	var pending []*group
	grouped := map[string]bool{}
	for i, topics := range groups {
		g := &group{sub: i}
		for _, t := range topics {
			if _, ok := byName[t]; ok {
				g.internal = append(g.internal, t)
				grouped[t] = true
			} else {
				g.external = append(g.external, t)
			}
		}
		if len(g.internal) > 0 {
			pending = append(pending, g)
		}
	}
	for _, it := range internal {
		if !grouped[it.Name] {
			pending = append(pending, &group{sub: -1, internal: []string{it.Name}})
		}
	}

	counts := map[string]int32{}
	set := func(g *group, n int32) {
		for _, t := range g.internal {
			counts[t] = n
		}
	}
	// describe lists the external topics of g with their counts.
	describe := func(g *group) string {
		all := map[string]int32{}
		for _, t := range g.external {
			all[t] = known[t]
		}
		return describeCounts(all)
	}

	// Groups whose count is fixed: by external topics or by the user.
	var derive []*group
	for _, g := range pending {
		asked := map[string]int32{}
		for _, t := range g.internal {
			if n := byName[t].Partitions; n > 0 {
				asked[t] = n
			}
		}
		if len(g.external) > 0 {
			n := known[g.external[0]]
			for _, t := range g.external {
				m, found := known[t]
				if !found {
					return nil, fmt.Errorf("subtopology %d reads topic %s, whose partition count is unknown", g.sub, t)
				}
				if m != n {
					return nil, fmt.Errorf("%w: subtopology %d reads %s", ErrCopartitioning, g.sub, describe(g))
				}
			}
			for _, t := range slices.Sorted(maps.Keys(asked)) {
				if asked[t] != n {
					return nil, fmt.Errorf("%w: internal topic %s asks for %d partitions, but subtopology %d also reads %s",
						ErrCopartitioning, t, asked[t], g.sub, describe(g))
				}
			}
			set(g, n)
			continue
		}
		if len(asked) > 0 {
			n := asked[slices.Min(slices.Collect(maps.Keys(asked)))]
			for _, m := range asked {
				if m != n {
					return nil, fmt.Errorf("%w: subtopology %d reads internal topics that ask for different partition counts: %s",
						ErrCopartitioning, g.sub, describeCounts(asked))
				}
			}
			set(g, n)
			continue
		}
		derive = append(derive, g)
	}

	// The others, from their upstream topics, to a fixpoint.
	count := func(t string) (int32, bool) {
		if _, ok := byName[t]; ok {
			n, ok := counts[t]
			return n, ok
		}
		n, ok := known[t]
		return n, ok
	}
	// upstreamCount is the largest count among the upstream topics of t, and whether
	// all of them are known.
	upstreamCount := func(t string) (int32, bool, error) {
		upstream := byName[t].Upstream
		if len(upstream) == 0 {
			return 0, false, fmt.Errorf("%w: no subtopology writes internal topic %s, so its partition count cannot be derived", ErrInternalTopic, t)
		}
		var n int32
		for _, u := range upstream {
			m, ok := count(u)
			if !ok {
				if _, isInternal := byName[u]; !isInternal {
					return 0, false, fmt.Errorf("internal topic %s: upstream topic %s has an unknown partition count", t, u)
				}
				return 0, false, nil
			}
			n = max(n, m)
		}
		return n, true, nil
	}
	for len(derive) > 0 {
		var waiting []*group
		for _, g := range derive {
			var n int32
			ready := true
			for _, t := range g.internal {
				m, ok, err := upstreamCount(t)
				if err != nil {
					return nil, err
				}
				if !ok {
					ready = false
					break
				}
				n = max(n, m)
			}
			if ready {
				set(g, n)
			} else {
				waiting = append(waiting, g)
			}
		}
		if len(waiting) == len(derive) {
			// Stuck: internal topics of different groups wait on each other, as the
			// subscription and response topics of a foreign-key join between two
			// tables that read internal topics do. A group with some topic whose
			// upstream is known takes the count of those topics; Kafka Streams gives
			// such topics the count of their copartitioned peers the same way.
			progress := false
			waiting = waiting[:0]
			for _, g := range derive {
				var n int32
				for _, t := range g.internal {
					if m, ok, _ := upstreamCount(t); ok {
						n = max(n, m)
					}
				}
				if n > 0 && !progress {
					set(g, n)
					progress = true
					continue
				}
				waiting = append(waiting, g)
			}
			if !progress {
				var names []string
				for _, g := range waiting {
					names = append(names, g.internal...)
				}
				slices.Sort(names)
				return nil, fmt.Errorf("%w: the partition counts of internal topics %s depend on each other in a cycle; give one of them a partition count",
					ErrInternalTopic, strings.Join(names, ", "))
			}
		}
		derive = waiting
	}
	return counts, nil
}

// prepareInternalTopics resolves the partition counts of the topology's internal
// topics, adds them to partitions (which holds the counts of the external topics), and
// creates those that do not exist with their configuration. An existing internal topic
// with another count is an ErrInternalTopic error. existing lists the cluster's topics.
func prepareInternalTopics(ctx context.Context, admin *kadm.Client, topo *plan.Topology, existing kadm.TopicDetails, partitions map[string]int32, replication int16) error {
	internal := topo.InternalTopics
	if len(internal) == 0 {
		return nil
	}
	var groups [][]string
	for _, sub := range topo.Subtopologies {
		groups = append(groups, sub.SourceTopics())
	}
	counts, err := internalPartitions(internal, groups, partitions)
	if err != nil {
		return err
	}
	var created []string
	for _, it := range internal {
		want := counts[it.Name]
		partitions[it.Name] = want
		if d, ok := existing[it.Name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != want {
				return fmt.Errorf("%w: internal topic %s has %d partitions, the topology needs %d", ErrInternalTopic, it.Name, got, want)
			}
			continue
		}
		cfg := make(map[string]*string, len(it.Config))
		for k, v := range it.Config {
			cfg[k] = kadm.StringPtr(v)
		}
		// Another instance starting at the same time may have created it first.
		if _, err := admin.CreateTopic(ctx, want, replication, cfg, it.Name); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating internal topic %s: %w", it.Name, err)
		}
		created = append(created, it.Name)
	}
	if len(created) > 0 {
		return awaitLeaders(ctx, admin, created)
	}
	return nil
}
