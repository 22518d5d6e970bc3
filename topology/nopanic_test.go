package topology_test

import (
	"errors"
	"testing"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// pointerDef is a store definition whose methods dereference their receiver, so that a
// nil *pointerDef panics when used.
type pointerDef struct{ name string }

func (d *pointerDef) Name() string                       { return d.name }
func (d *pointerDef) Kind() store.Kind                   { return store.KindKeyValue }
func (d *pointerDef) Logged() bool                       { return d.name != "" }
func (d *pointerDef) CacheBytes() int64                  { return int64(len(d.name)) }
func (d *pointerDef) ChangelogConfig() map[string]string { return map[string]string{"n": d.name} }

func TestBuilderNeverPanics(t *testing.T) {
	tests := []struct {
		name  string
		build func() (*topology.Topology, error)
	}{
		{
			name: "a zero builder builds an error",
			build: func() (*topology.Topology, error) {
				var b topology.Builder
				return b.Build()
			},
		},
		{
			name: "a nil builder ignores additions and builds an error",
			build: func() (*topology.Topology, error) {
				var b *topology.Builder
				topology.AddSource[string, string](b, "in", nil, nil, []string{"t"})
				topology.AddProcessor[string, string, string, string](b, "p", nil, "in")
				topology.AddSink[string, string](b, "out", "t2", nil, nil, []string{"p"})
				topology.AddStore(b, nil, "p")
				return b.Build()
			},
		},
		{
			name: "nil and empty arguments everywhere are reported",
			build: func() (*topology.Topology, error) {
				var b topology.Builder
				topology.AddSource[string, string](&b, "", nil, nil, nil, nil, nil)
				topology.AddProcessor[string, string, string, string](&b, "", nil)
				topology.AddProcessor[string, string, string, string](&b, "", nil, "", "")
				topology.AddSink[string, string](&b, "", "", nil, nil, nil, nil)
				topology.AddStore(&b, nil)
				topology.AddStore(&b, (*pointerDef)(nil), "")
				topology.AddStore(&b, &pointerDef{}, "")
				topology.AddStore(&b, &pointerDef{name: "s"}, "", "")
				topology.AddStore(&b, &pointerDef{name: "s"})
				return b.Build()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			topo, err := tt.build()
			if topo != nil || !errors.Is(err, topology.ErrInvalidTopology) {
				t.Errorf("Build returned %v, %v; want no topology and ErrInvalidTopology", topo, err)
			}
			t.Log(err)
		})
	}
}
