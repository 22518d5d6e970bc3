package topology

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
)

// The views of tables that are not materialized follow Kafka Streams' value getters
// (KTableFilter#view, KTableMapValues#view): they read the parent's store and apply the
// operator, so that a join reading them sees what the operator forwards.
func TestTableViewsApplyTheirOperators(t *testing.T) {
	b := NewBuilder()
	ages := TableFrom(b, "in", "ages", serde.String(), serde.Int64())
	adults := FilterTable(ages, func(_ string, age int64) bool { return age >= 18 })
	minors := FilterNotTable(ages, func(_ string, age int64) bool { return age >= 18 })
	labels := MapValuesTable(adults, func(name string, age int64) string { return name + " is an adult" })
	stored := Materialize(labels.WithSerdes(serde.String(), serde.String()), "labels")
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}

	ctx := newCacheTestContext(t)
	raw, err := ctx.db.KeyValue("ages")
	if err != nil {
		t.Fatal(err)
	}
	kv := tableStore("ages", serde.String(), serde.Int64()).Wrap(raw)
	for name, age := range map[string]int64{"ann": 30, "bob": 12} {
		if err := kv.Put(name, ValueAndTimestamp[int64]{Value: age, Timestamp: time.UnixMilli(age)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []*tableView[string, int64]{adults.view, minors.view} {
		if len(v.stores) != 1 || v.stores[0].Name() != "ages" {
			t.Errorf("an unmaterialized view reads %v, want the parent's store ages", v.stores)
		}
	}
	if len(stored.view.stores) != 1 || stored.view.stores[0].Name() != "labels" {
		t.Errorf("a materialized view reads %v, want its own store labels", stored.view.stores)
	}

	tests := []struct {
		name string
		read func(key string) (viewRead, error)
		want map[string]viewRead
	}{
		{
			name: "a filter's view holds the values that pass",
			read: viewReader(ctx, adults.view),
			want: map[string]viewRead{"ann": {"30@30", true}, "bob": {}, "cid": {}},
		},
		{
			name: "a filterNot's view holds the values that are not dropped",
			read: viewReader(ctx, minors.view),
			want: map[string]viewRead{"ann": {}, "bob": {"12@12", true}, "cid": {}},
		},
		{
			name: "a map of values' view maps its parent's values, keeping their timestamps",
			read: viewReader(ctx, labels.view),
			want: map[string]viewRead{"ann": {"ann is an adult@30", true}, "bob": {}, "cid": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for key, want := range tt.want {
				got, err := tt.read(key)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s: %+v, want %+v", key, got, want)
				}
			}
		})
	}
}

// viewRead is what a view holds for a key: its value shown as value@milliseconds.
type viewRead struct {
	value string
	ok    bool
}

// viewReader opens v for a processor whose context is ctx.
func viewReader[V any](ctx *cacheTestContext, v *tableView[string, V]) func(string) (viewRead, error) {
	read := v.open(ctx)
	return func(key string) (viewRead, error) {
		vt, ok, err := read(key)
		if err != nil || !ok {
			return viewRead{}, err
		}
		return viewRead{fmt.Sprintf("%v@%d", vt.Value, vt.Timestamp.UnixMilli()), true}, nil
	}
}
