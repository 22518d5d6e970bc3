package integration_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// TestWindowedCountInstantiatedByTwoPackages guards the toolchain the go.mod files
// require. This test binary instantiates CountWindowed[string, string] here and in
// examples/pageviews (linked in for its own tests). Built with Go 1.26.8, the binary kept
// one package's copy of the closures that the instantiation's inlined helpers make, and
// the other package's code called them by number: the window store's value serde called
// another closure, which returned no bytes, and a key's second record in a window failed
// with "a timestamped value of 0 bytes". Go 1.27.3 builds it right. The topology
// package's own tests cannot see this: nothing else in their binary instantiates the
// function alike.
func TestWindowedCountInstantiatedByTwoPackages(t *testing.T) {
	b := topology.NewBuilder()
	windows := topology.WindowedBy(topology.GroupByKey(topology.StreamFrom(b, "clicks", serde.String(), serde.String()), "by-user"),
		topology.TimeWindowsOfSizeWithNoGrace(10*time.Second))
	counts := topology.CountWindowed(windows, "clicks-per-window")
	topology.To(topology.ToStream(counts), "counts", topology.TimeWindowedSerde(serde.String(), 10*time.Second), serde.Int64())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := eddytest.InputTopic(d, "clicks", serde.String(), serde.String())
	for _, ms := range []int64{759, 2617, 12_001} {
		if err := in.Pipe("u1", "click", time.UnixMilli(ms)); err != nil {
			t.Fatalf("piping a click at %d ms: %v", ms, err)
		}
	}
	out := eddytest.OutputTopic(d, "counts", topology.TimeWindowedSerde(serde.String(), 10*time.Second), serde.Int64())
	records, err := out.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range records {
		got = append(got, r.Value)
	}
	if want := []int64{1, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("counts %v, want %v (two clicks in the first window, one in the second)", got, want)
	}
}
