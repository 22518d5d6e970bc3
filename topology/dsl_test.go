package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// dslWordCount is the DSL word count of the README.
func dslWordCount(b *topology.Builder) {
	lines := topology.StreamFrom(b, "text-lines", serde.String(), serde.String())
	words := topology.FlatMapValues(lines, func(_, line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := topology.Count(topology.GroupBy(words, "by-word", func(_, w string) string { return w }, serde.String()), "word-counts-store")
	topology.To(topology.ToStream(counts), "word-counts", serde.String(), serde.Int64())
}

func TestDSLWordCountRepartitionsAndCounts(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	dslWordCount(b)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(plan.Of(topo).Subtopologies); got != 2 {
		t.Fatalf("%d subtopologies, want 2 (split by the repartition topic):\n%s", got, topo.Describe())
	}
	d, err := eddytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "text-lines", serde.String(), serde.String())
	for i, line := range []string{"the cat", "The dog", "a cat"} {
		if err := in.Pipe("", line, time.UnixMilli(int64(1000*i))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := eddytest.LatestValues(eddytest.OutputTopic(d, "word-counts", serde.String(), serde.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"the": 2, "cat": 2, "dog": 1, "a": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("count of %q = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}

func TestRequireExplicitNamesRefusesGeneratedNames(t *testing.T) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	lines := topology.StreamFrom(b, "in", serde.String(), serde.String())
	topology.Count(topology.GroupBy(lines, "", func(_, v string) string { return v }, serde.String()), "")
	_, err := b.Build()
	if err == nil || !strings.Contains(err.Error(), "generated name") {
		t.Fatalf("Build() = %v, want problems naming the generated names", err)
	}
	t.Log(err)
}
