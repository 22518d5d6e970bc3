package topology_test

import (
	"slices"
	"testing"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// shape is what a test checks of a subtopology: node names and topics.
type shape struct {
	id         int
	sources    []string
	processors []string
	sinks      []string
	stores     []string
	topics     []string
}

func shapeOf(s *plan.Subtopology) shape {
	got := shape{id: s.ID, topics: s.SourceTopics()}
	for _, n := range s.Sources {
		got.sources = append(got.sources, n.Name)
	}
	for _, n := range s.Processors {
		got.processors = append(got.processors, n.Name)
	}
	for _, n := range s.Sinks {
		got.sinks = append(got.sinks, n.Name)
	}
	for _, d := range s.Stores {
		got.stores = append(got.stores, d.Def.Name())
	}
	return got
}

func TestSubtopologies(t *testing.T) {
	customers := store.KeyValue("customers", serde.String(), serde.String())
	tests := []struct {
		name  string
		build func(b *topology.Builder)
		want  []shape
	}{
		{
			name: "unconnected parts are numbered in the order of their first node",
			build: func(b *topology.Builder) {
				topology.AddSink(b, "late-sink", "late-out", serde.String(), serde.String(), []string{"late"})
				topology.AddSource(b, "early", serde.String(), serde.String(), []string{"e2", "e1"})
				topology.AddSource(b, "late", serde.String(), serde.String(), []string{"l"})
				topology.AddProcessor(b, "early-p", pass[string, string](), "early")
			},
			want: []shape{
				{id: 0, sources: []string{"late"}, sinks: []string{"late-sink"}, topics: []string{"l"}},
				{id: 1, sources: []string{"early"}, processors: []string{"early-p"}, topics: []string{"e1", "e2"}},
			},
		},
		{
			name: "processors sharing a store are in one subtopology",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "orders", serde.String(), serde.String(), []string{"orders"})
				topology.AddSource(b, "audit", serde.String(), serde.String(), []string{"audit"})
				topology.AddSource(b, "payments", serde.String(), serde.String(), []string{"payments"})
				topology.AddProcessor(b, "enrich", pass[string, string](), "orders")
				topology.AddProcessor(b, "log", pass[string, string](), "audit")
				topology.AddProcessor(b, "check", pass[string, string](), "payments")
				topology.AddStore(b, customers, "enrich", "check")
				topology.AddSink(b, "checked", "checked", serde.String(), serde.String(), []string{"check"})
			},
			want: []shape{
				{
					id: 0, sources: []string{"orders", "payments"}, processors: []string{"enrich", "check"},
					sinks: []string{"checked"}, stores: []string{"customers"}, topics: []string{"orders", "payments"},
				},
				{id: 1, sources: []string{"audit"}, processors: []string{"log"}, topics: []string{"audit"}},
			},
		},
		{
			name: "processors come parents first, the earliest added first among the ready",
			build: func(b *topology.Builder) {
				topology.AddProcessor(b, "join", pass[string, string](), "left", "right")
				topology.AddProcessor(b, "right", pass[string, string](), "split")
				topology.AddProcessor(b, "left", pass[string, string](), "split")
				topology.AddProcessor(b, "split", pass[string, string](), "src")
				topology.AddProcessor(b, "side", pass[string, string](), "src")
				topology.AddSource(b, "src", serde.String(), serde.String(), []string{"in"})
			},
			want: []shape{
				{id: 0, sources: []string{"src"}, processors: []string{"split", "right", "left", "join", "side"}, topics: []string{"in"}},
			},
		},
		{
			name: "two sources feeding one processor are one subtopology",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "a", serde.String(), serde.String(), []string{"ta"})
				topology.AddSource(b, "b", serde.String(), serde.String(), []string{"tb"})
				topology.AddProcessor(b, "merge", pass[string, string](), "b", "a")
			},
			want: []shape{
				{id: 0, sources: []string{"a", "b"}, processors: []string{"merge"}, topics: []string{"ta", "tb"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := topology.NewBuilder()
			tt.build(b)
			topo, err := b.Build()
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			subs := plan.Of(topo).Subtopologies
			if len(subs) != len(tt.want) {
				t.Fatalf("got %d subtopologies, want %d:\n%s", len(subs), len(tt.want), topo.Describe())
			}
			for i, s := range subs {
				if got := shapeOf(s); !equalShapes(got, tt.want[i]) {
					t.Errorf("subtopology %d is %+v, want %+v", i, got, tt.want[i])
				}
			}
		})
	}
}

func equalShapes(a, b shape) bool {
	return a.id == b.id && slices.Equal(a.sources, b.sources) && slices.Equal(a.processors, b.processors) &&
		slices.Equal(a.sinks, b.sinks) && slices.Equal(a.stores, b.stores) && slices.Equal(a.topics, b.topics)
}

// wordCount builds a topology of two subtopologies joined through a repartition topic.
func wordCount(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	counts := store.KeyValue("counts", serde.String(), serde.Int64())
	topology.AddSource(b, "lines", serde.String(), serde.String(), []string{"text-lines"},
		topology.WithOffsetReset(topology.Latest))
	topology.AddProcessor(b, "split", pass[string, string](), "lines")
	topology.AddSink(b, "to-words", "words", serde.String(), serde.String(), []string{"split"})
	topology.AddSource(b, "words", serde.String(), serde.String(), []string{"words"})
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "words")
	topology.AddStore(b, counts, "count")
	topology.AddSink(b, "to-counts", "word-counts", serde.String(), serde.Int64(), []string{"count"})
	topology.AddSink(b, "to-audit", "audit", serde.String(), serde.String(), []string{"words"})
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return topo
}

func TestTopologyNodes(t *testing.T) {
	topo := wordCount(t)
	subs := plan.Of(topo).Subtopologies
	if len(subs) != 2 {
		t.Fatalf("got %d subtopologies, want 2", len(subs))
	}
	src := subs[0].Sources[0]
	if src.Name != "lines" || !slices.Equal(src.Topics, []string{"text-lines"}) ||
		!slices.Equal(src.Children, []string{"split"}) || !src.ResetToLatest || src.Decode == nil {
		t.Errorf("source lines is %+v", src)
	}
	split := subs[0].Processors[0]
	if split.Name != "split" || !slices.Equal(split.Parents, []string{"lines"}) ||
		!slices.Equal(split.Children, []string{"to-words"}) || len(split.Stores) != 0 || split.New == nil {
		t.Errorf("processor split is %+v", split)
	}
	if words := subs[1].Sources[0]; words.ResetToLatest || !slices.Equal(words.Children, []string{"count", "to-audit"}) {
		t.Errorf("source words is %+v, want Earliest by default and children count, to-audit", words)
	}
	count := subs[1].Processors[0]
	if !slices.Equal(count.Stores, []string{"counts"}) || !slices.Equal(count.Children, []string{"to-counts"}) {
		t.Errorf("processor count is %+v", count)
	}
	var sinks []string
	for _, s := range subs[1].Sinks {
		sinks = append(sinks, s.Name+"->"+s.Topic)
		if s.Encode == nil || s.Partition != nil {
			t.Errorf("sink %s has Encode %v and Partition %v, want an encoder and no partitioner", s.Name, s.Encode != nil, s.Partition != nil)
		}
	}
	if !slices.Equal(sinks, []string{"to-counts->word-counts", "to-audit->audit"}) {
		t.Errorf("sinks of subtopology 1 are %v", sinks)
	}
}

func TestTopologyTopicsAndStores(t *testing.T) {
	topo := wordCount(t)
	if got, want := plan.Of(topo).SourceTopics(), []string{"text-lines", "words"}; !slices.Equal(got, want) {
		t.Errorf("SourceTopics() = %v, want %v", got, want)
	}
	if got, want := plan.Of(topo).SinkTopics(), []string{"audit", "word-counts", "words"}; !slices.Equal(got, want) {
		t.Errorf("SinkTopics() = %v, want %v", got, want)
	}
	if stores := plan.Of(topo).Subtopologies[1].Stores; len(stores) != 1 || stores[0].Def.Name() != "counts" || stores[0].Changelog != "" {
		t.Errorf("stores of subtopology 1 = %v, want counts, without a changelog topic before Complete", stores)
	}
	if stores := plan.Of(topo).Complete("app").Subtopologies[1].Stores; len(stores) != 1 || stores[0].Changelog != "app-counts-changelog" {
		t.Errorf("stores of subtopology 1 after Complete = %v, want counts with changelog app-counts-changelog", stores)
	}
	for topic, id := range map[string]int{"text-lines": 0, "words": 1} {
		s, ok := subtopologyReading(plan.Of(topo), topic)
		if !ok || s.ID != id {
			t.Errorf("the subtopology reading %q = %v, %t, want subtopology %d", topic, s, ok, id)
		}
	}
	if s, ok := subtopologyReading(plan.Of(topo), "word-counts"); ok {
		t.Errorf("the subtopology reading a sink topic = %v, want none", s)
	}
}

// subtopologyReading returns the subtopology whose sources read topic.
func subtopologyReading(p *plan.Topology, topic string) (*plan.Subtopology, bool) {
	for _, s := range p.Subtopologies {
		if slices.Contains(s.SourceTopics(), topic) {
			return s, true
		}
	}
	return nil, false
}
