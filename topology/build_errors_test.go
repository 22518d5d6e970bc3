package topology_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// withSource adds source "in", reading strings from topic "input".
func withSource(b *topology.Builder) {
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
}

func TestBuildReportsEachProblem(t *testing.T) {
	counts := store.KeyValue("counts", serde.String(), serde.Int64())
	tests := []struct {
		name  string
		build func(b *topology.Builder)
		// want holds, for each problem Build must report, words its message contains.
		want [][]string
	}{
		{
			name: "an empty builder has no source",
			build: func(*topology.Builder) {
			},
			want: [][]string{{"no source"}},
		},
		{
			name: "a node without a name is named by its kind and position",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "", pass[string, string](), "in")
			},
			want: [][]string{{"processor #2", "empty name"}},
		},
		{
			name: "a sink named like a processor is a duplicate",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddSink(b, "p", "out", serde.String(), serde.String(), []string{"p"})
			},
			want: [][]string{{`sink "p"`, `already used by processor "p"`}},
		},
		{
			name: "a source named like a processor is a duplicate",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddSource(b, "p", serde.String(), serde.String(), []string{"other"})
			},
			want: [][]string{{`source "p"`, `already used by processor "p"`}},
		},
		{
			name: "a source cannot be given as the child of a node",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "in", pass[string, string](), "in")
			},
			want: [][]string{{`processor "in"`, `already used by source "in"`, `source cannot be a child of "in"`}},
		},
		{
			name: "a processor with an unknown parent is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in", "nope")
			},
			want: [][]string{{`processor "p"`, `unknown parent "nope"`}},
		},
		{
			name: "a sink with an unknown parent is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddSink(b, "out", "output", serde.String(), serde.String(), []string{"nope"})
			},
			want: [][]string{{`sink "out"`, `unknown parent "nope"`}},
		},
		{
			name: "a sink cannot be a parent",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddSink(b, "out", "output", serde.String(), serde.String(), []string{"in"})
				topology.AddProcessor(b, "p", pass[string, string](), "out")
			},
			want: [][]string{{`processor "p"`, `parent sink "out" cannot have children`}},
		},
		{
			name: "a parent named twice is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in", "in")
			},
			want: [][]string{{`processor "p"`, `parent "in" listed twice`}},
		},
		{
			name: "a processor without parents is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string]())
			},
			want: [][]string{{`processor "p"`, "no parents"}},
		},
		{
			name: "a sink without parents is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddSink(b, "out", "output", serde.String(), serde.String(), nil)
			},
			want: [][]string{{`sink "out"`, "no parents"}},
		},
		{
			name: "a cycle of processors is reported once, from its first node",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "a", pass[string, string](), "in", "c")
				topology.AddProcessor(b, "b", pass[string, string](), "a")
				topology.AddProcessor(b, "c", pass[string, string](), "b")
				topology.AddProcessor(b, "after", pass[string, string](), "c")
			},
			want: [][]string{{`processor "a"`, "cycle: a -> b -> c -> a"}},
		},
		{
			name: "a processor that is its own parent is a cycle",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "a", pass[string, string](), "in", "a")
			},
			want: [][]string{{`processor "a"`, "cycle: a -> a"}},
		},
		{
			name: "a source without serdes is reported",
			build: func(b *topology.Builder) {
				topology.AddSource[string, string](b, "in", nil, nil, []string{"input"})
			},
			want: [][]string{{`source "in"`, "key serde is nil"}, {`source "in"`, "value serde is nil"}},
		},
		{
			name: "a sink without serdes is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddSink[string, string](b, "out", "output", nil, nil, []string{"in"})
			},
			want: [][]string{{`sink "out"`, "key serde is nil"}, {`sink "out"`, "value serde is nil"}},
		},
		{
			name: "a store without serdes is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddStore(b, store.KeyValue[string, int64]("bare", nil, nil), "p")
			},
			want: [][]string{{`store "bare"`, "key serde is nil"}, {`store "bare"`, "value serde is nil"}},
		},
		{
			name: "a processor without supplier is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor[string, string, string, string](b, "p", nil, "in")
			},
			want: [][]string{{`processor "p"`, "supplier is nil"}},
		},
		{
			name: "a topic read by two sources is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddSource(b, "again", serde.String(), serde.String(), []string{"other", "input"})
			},
			want: [][]string{{`source "again"`, `topic "input" is already read by source "in"`}},
		},
		{
			name: "a source without topics is reported",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", serde.String(), serde.String(), nil)
			},
			want: [][]string{{`source "in"`, "no topics"}},
		},
		{
			name: "a source with an empty or repeated topic is reported",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", serde.String(), serde.String(), []string{"a", "", "a"})
			},
			want: [][]string{{`source "in"`, "empty topic name"}, {`source "in"`, `topic "a" listed twice`}},
		},
		{
			name: "a source with an unknown offset reset is reported",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"},
					topology.WithOffsetReset(topology.OffsetReset(7)))
			},
			want: [][]string{{`source "in"`, "unknown offset reset 7"}},
		},
		{
			name: "a sink without topic is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddSink(b, "out", "", serde.String(), serde.String(), []string{"in"})
			},
			want: [][]string{{`sink "out"`, "empty topic name"}},
		},
		{
			name: "a store connected to an unknown processor is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddStore(b, counts, "p", "ghost")
			},
			want: [][]string{{`store "counts"`, `unknown processor "ghost"`}},
		},
		{
			name: "a store connected to a source is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddStore(b, counts, "in")
			},
			want: [][]string{{`store "counts"`, `connected to source "in"`}},
		},
		{
			name: "a store connected to no processor is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddStore(b, counts)
			},
			want: [][]string{{`store "counts"`, "connected to no processor"}},
		},
		{
			name: "a store name given to a different definition is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddStore(b, counts, "p")
				topology.AddStore(b, store.KeyValue("counts", serde.String(), serde.String()), "p")
				topology.AddStore(b, store.KeyValue("counts", serde.String(), serde.Int64(), store.WithoutLogging()), "p")
			},
			want: [][]string{
				{`store "counts"`, "different definition", "KeyValueDef[string,int64], then store.KeyValueDef[string,string]"},
				{`store "counts"`, "different definition", "logged true, then false"},
			},
		},
		{
			name: "a nil store definition is reported by its position",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddStore(b, nil, "in")
			},
			want: [][]string{{"store #1", "definition is nil"}},
		},
		{
			name: "a store without name is reported by its position",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddStore(b, counts, "p")
				topology.AddStore(b, store.KeyValue("", serde.String(), serde.Int64()), "p")
			},
			want: [][]string{{"store #2", "empty name"}},
		},
		{
			name: "a processor taking other key types than its parent forwards is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[int64, string](), "in")
			},
			want: [][]string{{`processor "p"`, "takes keys int64 and values string", `parent source "in" forwards keys string and values string`}},
		},
		{
			name: "a sink taking other value types than its parent forwards is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"p"})
			},
			want: [][]string{{`sink "out"`, "takes keys string and values int64", `parent processor "p" forwards keys string and values string`}},
		},
		{
			name: "a processor taking a concrete type from a parent forwarding an interface is reported",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "loose", pass[any, any](), "in")
				topology.AddProcessor(b, "strict", pass[string, string](), "loose")
			},
			want: [][]string{{`processor "strict"`, `parent processor "loose" forwards keys interface {}`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := topology.NewBuilder()
			tt.build(b)
			topo, err := b.Build()
			if topo != nil {
				t.Errorf("Build returned a topology with error %v", err)
			}
			checkProblems(t, err, tt.want)
		})
	}
}

func TestBuildReportsAllProblemsAtOnce(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource[string, string](b, "in", nil, serde.String(), []string{"input"})
	topology.AddProcessor(b, "p", pass[string, string](), "in", "ghost")
	topology.AddProcessor(b, "q", pass[int64, string](), "p")
	topology.AddSink(b, "p", "out", serde.String(), serde.String(), []string{"q"})
	topology.AddStore(b, store.KeyValue("counts", serde.String(), serde.Int64()))

	_, err := b.Build()
	checkProblems(t, err, [][]string{
		{`source "in"`, "key serde is nil"},
		{`sink "p"`, `already used by processor "p"`},
		{`processor "p"`, `unknown parent "ghost"`},
		{`processor "q"`, "takes keys int64", `parent processor "p"`},
		{`sink "p"`, "takes keys string", `parent processor "q" forwards keys int64`},
		{`store "counts"`, "connected to no processor"},
	})
	if msg := err.Error(); !strings.HasPrefix(msg, "topology: invalid topology: 6 problems\n") {
		t.Errorf("error message starts %q, want a header counting the problems", msg)
	}
}

func TestValidTopologiesBuild(t *testing.T) {
	counts := store.KeyValue("counts", serde.String(), serde.Int64())
	tests := []struct {
		name  string
		build func(b *topology.Builder)
	}{
		{
			name: "nodes may be added children first",
			build: func(b *topology.Builder) {
				topology.AddSink(b, "out", "output", serde.String(), serde.String(), []string{"p"})
				topology.AddStore(b, counts, "p")
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				withSource(b)
			},
		},
		{
			name: "the same store may be added again to connect more processors",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[string, string](), "in")
				topology.AddProcessor(b, "q", pass[string, string](), "in")
				topology.AddStore(b, counts, "p")
				topology.AddStore(b, store.KeyValue("counts", serde.String(), serde.Int64()), "q", "p")
			},
		},
		{
			name: "a processor taking interfaces accepts any parent",
			build: func(b *topology.Builder) {
				withSource(b)
				topology.AddProcessor(b, "p", pass[any, any](), "in")
			},
		},
		{
			name: "a source without children reads and drops",
			build: func(b *topology.Builder) {
				withSource(b)
			},
		},
		{
			name: "nil options are ignored",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"}, nil,
					topology.WithTimestampExtractor[string, string](nil))
				topology.AddSink(b, "out", "output", serde.String(), serde.String(), []string{"in"}, nil,
					topology.WithPartitioner[string, string](nil))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := topology.NewBuilder()
			tt.build(b)
			if _, err := b.Build(); err != nil {
				t.Fatalf("Build: %v", err)
			}
		})
	}
}

// checkProblems checks that err is a *BuildError with one problem per entry of want, in
// order, each containing all the words of its entry.
func checkProblems(t *testing.T, err error, want [][]string) {
	t.Helper()
	if !errors.Is(err, topology.ErrInvalidTopology) {
		t.Fatalf("Build error %v is not ErrInvalidTopology", err)
	}
	var be *topology.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build error %T is not a *BuildError", err)
	}
	if len(be.Problems) != len(want) {
		t.Fatalf("Build reported %d problems, want %d:\n%v", len(be.Problems), len(want), err)
	}
	for i, words := range want {
		got := be.Problems[i].Error()
		for _, w := range words {
			if !strings.Contains(got, w) {
				t.Errorf("problem %d is %q, want it to contain %q", i, got, w)
			}
		}
		if !strings.Contains(err.Error(), got) {
			t.Errorf("error message does not list problem %q", got)
		}
	}
}
