package engine

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/plan"
)

func TestInternalPartitions(t *testing.T) {
	it := func(name string, partitions int32, upstream ...string) plan.InternalTopic {
		return plan.InternalTopic{Name: name, Partitions: partitions, Upstream: upstream}
	}
	cases := []struct {
		name     string
		internal []plan.InternalTopic
		groups   [][]string
		known    map[string]int32
		want     map[string]int32
		// wantErr and wantIn: the error wraps wantErr and its message holds every wantIn.
		wantErr error
		wantIn  []string
	}{
		{
			name:     "the largest count upstream",
			internal: []plan.InternalTopic{it("app-r", 0, "a", "b")},
			groups:   [][]string{{"a"}, {"b"}, {"app-r"}},
			known:    map[string]int32{"a": 3, "b": 5},
			want:     map[string]int32{"app-r": 5},
		},
		{
			name:     "copartitioned with an external topic, whatever the upstream",
			internal: []plan.InternalTopic{it("app-r", 0, "a")},
			groups:   [][]string{{"a"}, {"app-r", "table"}},
			known:    map[string]int32{"a": 4, "table": 6},
			want:     map[string]int32{"app-r": 6},
		},
		{
			name: "a chain resolves upstream first",
			// app-a sorts first but depends on app-b.
			internal: []plan.InternalTopic{it("app-a", 0, "app-b"), it("app-b", 0, "in")},
			groups:   [][]string{{"in"}, {"app-b"}, {"app-a"}},
			known:    map[string]int32{"in": 2},
			want:     map[string]int32{"app-a": 2, "app-b": 2},
		},
		{
			name:     "internal topics read together get the largest of their upstream counts",
			internal: []plan.InternalTopic{it("app-l", 0, "x"), it("app-r", 0, "y")},
			groups:   [][]string{{"x"}, {"y"}, {"app-l", "app-r"}},
			known:    map[string]int32{"x": 3, "y": 8},
			want:     map[string]int32{"app-l": 8, "app-r": 8},
		},
		{
			name:     "a count asked for wins over upstream, and its group follows",
			internal: []plan.InternalTopic{it("app-l", 7, "x"), it("app-r", 0, "y")},
			groups:   [][]string{{"x"}, {"y"}, {"app-l", "app-r"}},
			known:    map[string]int32{"x": 3, "y": 8},
			want:     map[string]int32{"app-l": 7, "app-r": 7},
		},
		{
			name:     "downstream of a count asked for",
			internal: []plan.InternalTopic{it("app-a", 0, "app-b"), it("app-b", 12, "in")},
			groups:   [][]string{{"in"}, {"app-b"}, {"app-a"}},
			known:    map[string]int32{"in": 2},
			want:     map[string]int32{"app-a": 12, "app-b": 12},
		},
		{
			name:     "a topic no subtopology reads",
			internal: []plan.InternalTopic{it("app-r", 0, "in")},
			groups:   [][]string{{"in"}},
			known:    map[string]int32{"in": 3},
			want:     map[string]int32{"app-r": 3},
		},
		{
			name:     "a count asked for against a copartitioned external topic",
			internal: []plan.InternalTopic{it("app-r", 4, "a")},
			groups:   [][]string{{"a"}, {"app-r", "table"}},
			known:    map[string]int32{"a": 4, "table": 6},
			wantErr:  ErrCopartitioning,
			wantIn:   []string{"app-r asks for 4", "table (6 partitions)", "subtopology 1"},
		},
		{
			name:     "internal topics read together asking for different counts",
			internal: []plan.InternalTopic{it("app-l", 2, "x"), it("app-r", 3, "y")},
			groups:   [][]string{{"x"}, {"y"}, {"app-l", "app-r"}},
			known:    map[string]int32{"x": 3, "y": 8},
			wantErr:  ErrCopartitioning,
			wantIn:   []string{"app-l (2 partitions)", "app-r (3 partitions)"},
		},
		{
			name:     "external topics of a group disagree",
			internal: []plan.InternalTopic{it("app-r", 0, "a")},
			groups:   [][]string{{"a"}, {"app-r", "t1", "t2"}},
			known:    map[string]int32{"a": 1, "t1": 2, "t2": 3},
			wantErr:  ErrCopartitioning,
			wantIn:   []string{"t1 (2 partitions)", "t2 (3 partitions)"},
		},
		{
			name:     "a cycle",
			internal: []plan.InternalTopic{it("app-a", 0, "app-b"), it("app-b", 0, "app-a"), it("app-c", 0, "in")},
			groups:   [][]string{{"app-a"}, {"app-b"}, {"in"}, {"app-c"}},
			known:    map[string]int32{"in": 2},
			wantErr:  ErrInternalTopic,
			wantIn:   []string{"app-a, app-b", "cycle"},
		},
		{
			// A foreign-key join between two aggregations: each side's subtopology reads
			// its own repartition topic and the join topic the other side writes.
			name: "groups waiting on each other take the count of the topics they can resolve",
			internal: []plan.InternalTopic{
				it("app-left-rep", 0, "left-in"), it("app-right-rep", 0, "right-in"),
				it("app-response", 0, "app-right-rep", "app-subscription"),
				it("app-subscription", 0, "app-left-rep", "app-response"),
			},
			groups: [][]string{{"left-in"}, {"right-in"}, {"app-left-rep", "app-response"}, {"app-right-rep", "app-subscription"}},
			known:  map[string]int32{"left-in": 3, "right-in": 5},
			want:   map[string]int32{"app-left-rep": 3, "app-response": 3, "app-right-rep": 5, "app-subscription": 5},
		},
		{
			name:     "nothing writes it",
			internal: []plan.InternalTopic{it("app-r", 0)},
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
