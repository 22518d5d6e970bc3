package engine

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/topology"
)

func TestInternalPartitions(t *testing.T) {
	it := func(name string, partitions int32, upstream ...string) topology.InternalTopic {
		return topology.InternalTopic{Name: name, Partitions: partitions, Upstream: upstream}
	}
	cases := []struct {
		name     string
		internal []topology.InternalTopic
		groups   [][]string
		known    map[string]int32
		want     map[string]int32
		// wantErr and wantIn: the error wraps wantErr and its message holds every wantIn.
		wantErr error
		wantIn  []string
	}{
		{
			name:     "the largest count upstream",
			internal: []topology.InternalTopic{it("app-r", 0, "a", "b")},
			groups:   [][]string{{"a"}, {"b"}, {"app-r"}},
			known:    map[string]int32{"a": 3, "b": 5},
			want:     map[string]int32{"app-r": 5},
		},
		{
			name:     "copartitioned with an external topic, whatever the upstream",
			internal: []topology.InternalTopic{it("app-r", 0, "a")},
			groups:   [][]string{{"a"}, {"app-r", "table"}},
			known:    map[string]int32{"a": 4, "table": 6},
			want:     map[string]int32{"app-r": 6},
		},
		{
			name: "a chain resolves upstream first",
			// app-a sorts first but depends on app-b.
			internal: []topology.InternalTopic{it("app-a", 0, "app-b"), it("app-b", 0, "in")},
			groups:   [][]string{{"in"}, {"app-b"}, {"app-a"}},
			known:    map[string]int32{"in": 2},
			want:     map[string]int32{"app-a": 2, "app-b": 2},
		},
		{
			name:     "internal topics read together get the largest of their upstream counts",
			internal: []topology.InternalTopic{it("app-l", 0, "x"), it("app-r", 0, "y")},
			groups:   [][]string{{"x"}, {"y"}, {"app-l", "app-r"}},
			known:    map[string]int32{"x": 3, "y": 8},
			want:     map[string]int32{"app-l": 8, "app-r": 8},
		},
		{
			name:     "a count asked for wins over upstream, and its group follows",
			internal: []topology.InternalTopic{it("app-l", 7, "x"), it("app-r", 0, "y")},
			groups:   [][]string{{"x"}, {"y"}, {"app-l", "app-r"}},
			known:    map[string]int32{"x": 3, "y": 8},
			want:     map[string]int32{"app-l": 7, "app-r": 7},
		},
		{
			name:     "downstream of a count asked for",
			internal: []topology.InternalTopic{it("app-a", 0, "app-b"), it("app-b", 12, "in")},
			groups:   [][]string{{"in"}, {"app-b"}, {"app-a"}},
			known:    map[string]int32{"in": 2},
			want:     map[string]int32{"app-a": 12, "app-b": 12},
		},
		{
			name:     "a topic no subtopology reads",
			internal: []topology.InternalTopic{it("app-r", 0, "in")},
			groups:   [][]string{{"in"}},
			known:    map[string]int32{"in": 3},
			want:     map[string]int32{"app-r": 3},
		},
		{
			name:     "a count asked for against a copartitioned external topic",
			internal: []topology.InternalTopic{it("app-r", 4, "a")},
			groups:   [][]string{{"a"}, {"app-r", "table"}},
			known:    map[string]int32{"a": 4, "table": 6},
			wantErr:  ErrCopartitioning,
			wantIn:   []string{"app-r asks for 4", "table (6 partitions)", "subtopology 1"},
		},
		{
			name:     "internal topics read together asking for different counts",
			internal: []topology.InternalTopic{it("app-l", 2, "x"), it("app-r", 3, "y")},
			groups:   [][]string{{"x"}, {"y"}, {"app-l", "app-r"}},
			known:    map[string]int32{"x": 3, "y": 8},
			wantErr:  ErrCopartitioning,
			wantIn:   []string{"app-l (2 partitions)", "app-r (3 partitions)"},
		},
		{
			name:     "external topics of a group disagree",
			internal: []topology.InternalTopic{it("app-r", 0, "a")},
			groups:   [][]string{{"a"}, {"app-r", "t1", "t2"}},
			known:    map[string]int32{"a": 1, "t1": 2, "t2": 3},
			wantErr:  ErrCopartitioning,
			wantIn:   []string{"t1 (2 partitions)", "t2 (3 partitions)"},
		},
		{
			name:     "a cycle",
			internal: []topology.InternalTopic{it("app-a", 0, "app-b"), it("app-b", 0, "app-a"), it("app-c", 0, "in")},
			groups:   [][]string{{"app-a"}, {"app-b"}, {"in"}, {"app-c"}},
			known:    map[string]int32{"in": 2},
			wantErr:  ErrInternalTopic,
			wantIn:   []string{"app-a, app-b", "cycle"},
		},
		{
			name:     "nothing writes it",
			internal: []topology.InternalTopic{it("app-r", 0)},
			groups:   [][]string{{"app-r"}},
			wantErr:  ErrInternalTopic,
			wantIn:   []string{"app-r"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := internalPartitions(c.internal, c.groups, c.known)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, c.wantErr)
				}
				for _, s := range c.wantIn {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("counts %v, want %v", got, c.want)
			}
		})
	}
}
