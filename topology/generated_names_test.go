package topology_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// validTopicName is what Kafka accepts in a topic name.
var validTopicName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// Operators left unnamed get generated store and topic names, which become changelog and
// repartition topic names: each must be a name Kafka accepts, whatever the operator's
// label ("windowed count", "table <topic>") holds.
func TestGeneratedNamesAreValidTopicNames(t *testing.T) {
	b := topology.NewBuilder()
	clicks := topology.StreamFrom(b, "clicks", serde.String(), serde.String())
	byKey := topology.GroupByKey(clicks, "")
	topology.Count(byKey, "")
	topology.CountWindowed(topology.WindowedBy(byKey, topology.TimeWindowsOfSizeWithNoGrace(time.Minute)), "")
	topology.CountSession(topology.WindowedBySession(byKey, topology.SessionWindowsOfInactivityGapWithNoGrace(time.Minute)), "")
	users := topology.TableFrom(b, "users.v1", "", serde.String(), serde.String())
	regions := topology.GroupByTable(users, "", func(_, region string) topology.KeyValue[string, string] { return topology.Pair(region, region) }, serde.String(), serde.String())
	topology.CountTable(regions, "")
	topology.GlobalTableFrom(b, "rates", "", serde.String(), serde.String())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	built := plan.Of(topo).Complete("app")
	var names []string
	for _, s := range built.Subtopologies {
		for _, st := range s.Stores {
			names = append(names, st.Def.Name(), st.Changelog)
		}
	}
	for _, it := range built.InternalTopics {
		names = append(names, it.Name)
	}
	for _, g := range built.GlobalStores {
		names = append(names, g.Def.Name())
	}
	if len(names) < 10 {
		t.Fatalf("found %d store and topic names, want the stores of 6 operators with their changelogs and a repartition topic: %q", len(names), names)
	}
	for _, name := range names {
		if name != "" && !validTopicName.MatchString(name) {
			t.Errorf("generated name %q is not a valid topic name", name)
		}
	}
}
