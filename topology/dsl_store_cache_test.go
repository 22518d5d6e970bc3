package topology_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Kafka Streams' caching stores (CachingKeyValueStore, CachingWindowStore) write a key
// to the store and its changelog once per commit, however often it was updated between
// two commits; with statestore.cache.max.bytes=0 every update is written.
func TestStoreCacheWritesEachKeyToTheChangelogOncePerCommit(t *testing.T) {
	const app = "app"
	tests := []struct {
		name      string
		build     func(b *topology.Builder)
		changelog string
	}{
		{
			name: "a count",
			build: func(b *topology.Builder) {
				topology.Count(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), ""), "counts")
			},
			changelog: app + "-counts-changelog",
		},
		{
			name: "a tumbling-window count",
			build: func(b *topology.Builder) {
				g := topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), "")
				topology.CountWindowed(topology.WindowedBy(g, topology.TimeWindowsOfSizeWithNoGrace(time.Minute)), "counts")
			},
			changelog: app + "-counts-changelog",
		},
	}
	for _, tt := range tests {
		for _, cached := range []bool{true, false} {
			// Each of 2 keys is updated 50 times in one window between two commits.
			name, want := tt.name+" with the cache writes each store key once", 1
			var opts []topology.BuilderOption
			if !cached {
				name, want = tt.name+" without the cache writes every update", 50
				opts = append(opts, topology.WithoutRecordCache())
			}
			t.Run(name, func(t *testing.T) {
				b := topology.NewBuilder(opts...)
				tt.build(b)
				d := startDriver(t, b, eddytest.ManualCommit(), eddytest.ApplicationID(app))
				in := eddytest.InputTopic(d, "in", serde.String(), serde.String())
				for i := range 50 {
					for _, k := range []string{"a", "b"} {
						mustPipe(t, in, k, "x", int64(1000+i))
					}
				}
				commit(t, d)
				perKey := map[string]int{}
				most := 0
				for _, r := range d.Written(tt.changelog) {
					perKey[string(r.Key)]++
					most = max(most, perKey[string(r.Key)])
				}
				if most != want {
					t.Fatalf("%s holds up to %d records of one key after one commit (%d keys), want %d", tt.changelog, most, len(perKey), want)
				}
			})
		}
	}
}

// Kafka Streams' stream-table join reads the table through its caching store, so a
// stream record sees the table's latest value even before the commit writes it back.
func TestStoreCacheJoinSeesTableUpdatesBeforeTheCommit(t *testing.T) {
	b := topology.NewBuilder()
	table := topology.TableFrom(b, "users", "users", serde.String(), serde.String())
	views := topology.StreamFrom(b, "views", serde.String(), serde.String())
	joined := topology.Join(views, table, "", func(_, view, user string) string { return view + "@" + user })
	topology.To(joined, "out", serde.String(), serde.String())
	d := startDriver(t, b, eddytest.ManualCommit())
	users := eddytest.InputTopic(d, "users", serde.String(), serde.String())
	viewsIn := eddytest.InputTopic(d, "views", serde.String(), serde.String())
	mustPipe(t, users, "u", "v1", 1)
	mustPipe(t, viewsIn, "u", "p1", 2)
	mustPipe(t, users, "u", "v2", 3)
	mustPipe(t, viewsIn, "u", "p2", 4)
	commit(t, d)
	got := readAll(t, d, "out")
	want := []strRecord{rec("u", "p1@v1", 2), rec("u", "p2@v2", 4)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("join output %v, want %v", got, want)
	}
}
