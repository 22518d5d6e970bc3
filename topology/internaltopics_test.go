package topology_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// rekey makes the value the key.
func rekey() processor.Processor[string, string, string, string] {
	return processor.ProcessFunc[string, string, string, string](func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		r.Key = r.Value
		ctx.Forward(r)
		return nil
	})
}

// repartitionTopology rekeys "in" through the internal topic rekeyed-repartition and
// counts the new keys in a second subtopology.
func repartitionTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "rekey", rekey, "in")
	topology.AddInternalSink(b, "to-rekeyed", "rekeyed-repartition", serde.String(), serde.String(), 0, "rekey")
	topology.AddInternalSource(b, "from-rekeyed", serde.String(), serde.String(), "rekeyed-repartition", 0)
	topology.AddProcessor(b, "count", func() processor.Processor[string, string, string, int64] { return &counter{} }, "from-rekeyed")
	topology.AddSink(b, "out", "counts", serde.String(), serde.Int64(), []string{"count"})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestCompleteNamesInternalTopicsAndChangelogs(t *testing.T) {
	built := plan.Of(repartitionTopology(t)).Complete("app")
	internal := built.InternalTopics
	if len(internal) != 1 {
		t.Fatalf("%d internal topics, want 1", len(internal))
	}
	it := internal[0]
	if it.Name != "app-rekeyed-repartition" || it.Partitions != 0 || !slices.Equal(it.Upstream, []string{"in"}) {
		t.Errorf("internal topic %+v", it)
	}
	if got, want := built.SourceTopics(), []string{"app-rekeyed-repartition", "in"}; !slices.Equal(got, want) {
		t.Errorf("source topics %v, want %v", got, want)
	}
	if got, want := built.SinkTopics(), []string{"app-rekeyed-repartition", "counts"}; !slices.Equal(got, want) {
		t.Errorf("sink topics %v, want %v", got, want)
	}
	for _, s := range built.Subtopologies {
		for _, st := range s.Stores {
			if want := "app-" + st.Def.Name() + "-changelog"; st.Changelog != want {
				t.Errorf("store %s has changelog %q, want %q", st.Def.Name(), st.Changelog, want)
			}
		}
	}
}

func TestTheDriverRunsInternalTopicsUnderTheApplicationID(t *testing.T) {
	d, err := eddytest.New(repartitionTopology(t), eddytest.ApplicationID("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
	for i, v := range []string{"x", "y", "x"} {
		if err := in.Pipe(fmt.Sprint(i), v, time.UnixMilli(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.Written("app-rekeyed-repartition")); n != 3 {
		t.Errorf("%d records in app-rekeyed-repartition, want 3", n)
	}
	got, err := eddytest.LatestValues(eddytest.OutputTopic(d, "counts", serde.String(), serde.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"x": 2, "y": 1}; !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}
