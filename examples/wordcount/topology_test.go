package wordcount_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/examples/wordcount"
	"github.com/eddy-streams/eddy/serde"
)

func TestWordCountCountsEveryWordOfEveryLine(t *testing.T) {
	topo, err := wordcount.Topology(wordcount.Topics{Lines: "lines", Counts: "counts"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lines := []string{"It's a stream; it's a table.", "A TABLE, a stream!", ""}
	want := map[string]int64{}
	in := eddytest.InputTopic(d, "lines", serde.String(), serde.String())
	for i, line := range lines {
		for _, w := range wordcount.Words(line) {
			want[w]++
		}
		if err := in.Pipe("", line, time.UnixMilli(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := eddytest.LatestValues(eddytest.OutputTopic(d, "counts", serde.String(), serde.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) != 4 {
		t.Fatalf("counts %v, want %v (it's, a, stream, table)", got, want)
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count of %q = %d, want %d", w, got[w], n)
		}
	}
}
