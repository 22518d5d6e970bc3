package eddytest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// dslStores is a topology of the DSL with one store of each kind: a table of prices, a
// global table of rates,
// the count of orders per customer, per customer and 10 s window, and per session of 5 s
// of inactivity, both with 5 s of grace and kept for a minute.
func dslStores(t *testing.T) *eddytest.Driver {
	t.Helper()
	b := topology.NewBuilder()
	topology.TableFrom(b, "prices", "prices", serde.String(), serde.Float64())
	topology.GlobalTableFrom(b, "rates", "rates", serde.String(), serde.Float64())
	orders := topology.StreamFrom(b, "orders", serde.String(), serde.String())
	topology.Count(topology.GroupByKey(orders, "by-customer"), "counts")
	topology.CountWindowed(topology.WindowedBy(topology.GroupByKey(orders, "by-customer-windowed"),
		topology.TimeWindowsOfSizeAndGrace(10*time.Second, 5*time.Second)).WithRetention(time.Minute), "window-counts")
	topology.CountSession(topology.WindowedBySession(topology.GroupByKey(orders, "by-customer-session"),
		topology.SessionWindowsOfInactivityGapAndGrace(5*time.Second, 5*time.Second)).WithRetention(time.Minute), "session-counts")
	return newDriver(t, buildTopology(t, b))
}

func pipeOrders(t *testing.T, d *eddytest.Driver) {
	t.Helper()
	prices := eddytest.InputTopic(d, "prices", serde.String(), serde.Float64())
	if err := prices.Pipe("apple", 1.5, time.UnixMilli(100)); err != nil {
		t.Fatal(err)
	}
	if err := prices.Pipe("pear", 2, time.UnixMilli(200)); err != nil {
		t.Fatal(err)
	}
	if err := prices.Pipe("apple", 1.75, time.UnixMilli(300)); err != nil {
		t.Fatal(err)
	}
	if err := eddytest.InputTopic(d, "rates", serde.String(), serde.Float64()).Pipe("eur", 1.08, time.UnixMilli(50)); err != nil {
		t.Fatal(err)
	}
	orders := eddytest.InputTopic(d, "orders", serde.String(), serde.String())
	for _, o := range []struct {
		customer string
		at       int64 // milliseconds
	}{{"ann", 1000}, {"bob", 2000}, {"ann", 3000}, {"ann", 12000}, {"bob", 9000}} {
		if err := orders.Pipe(o.customer, "x", time.UnixMilli(o.at)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTableStoreReadsValuesAndTimestampsWithTheStoresSerdes(t *testing.T) {
	d := dslStores(t)
	pipeOrders(t, d)
	prices, err := eddytest.TableStore[string, float64](d, "prices")
	if err != nil {
		t.Fatal(err)
	}
	got := readKV(t, prices)
	if want := []string{"apple=1.75@300", "pear=2@200"}; !slices.Equal(got, want) {
		t.Errorf("prices %v, want %v", got, want)
	}
	rates, err := eddytest.TableStore[string, float64](d, "rates")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readKV(t, rates), []string{"eur=1.08@50"}; !slices.Equal(got, want) {
		t.Errorf("global table rates %v, want %v", got, want)
	}
	counts, err := eddytest.TableStore[string, int64](d, "counts")
	if err != nil {
		t.Fatal(err)
	}
	// An aggregate's timestamp is the largest of the records folded in.
	if want := []string{"ann=3@12000", "bob=2@9000"}; !slices.Equal(readKV(t, counts), want) {
		t.Errorf("counts %v, want %v", readKV(t, counts), want)
	}
	v, found, err := counts.Get("ann")
	if err != nil || !found || v.Value != 3 || !v.Timestamp.Equal(time.UnixMilli(12000)) {
		t.Errorf(`Get("ann") = %+v, %v, %v; want 3 at 12 s`, v, found, err)
	}
	if _, found, err := counts.Get("cid"); err != nil || found {
		t.Errorf(`Get("cid") = %v, %v; want not found`, found, err)
	}
}

func TestWindowStoreReadsWindowsWithStartEndAndTimestamps(t *testing.T) {
	d := dslStores(t)
	pipeOrders(t, d)
	windows, err := eddytest.WindowStore[string, int64](d, "window-counts")
	if err != nil {
		t.Fatal(err)
	}
	it, err := windows.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%s@[%d,%d)=%d@%d", it.Key(), it.Start().UnixMilli(), it.End().UnixMilli(), it.Value().Value, it.Value().Timestamp.UnixMilli()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"ann@[0,10000)=2@3000", "ann@[10000,20000)=1@12000", "bob@[0,10000)=2@9000"}
	if !slices.Equal(got, want) {
		t.Errorf("windows %v, want %v", got, want)
	}
}

func TestSessionStoreReadsSessionsWithStartAndEnd(t *testing.T) {
	d := dslStores(t)
	pipeOrders(t, d)
	sessions, err := eddytest.SessionStore[string, int64](d, "session-counts")
	if err != nil {
		t.Fatal(err)
	}
	it, err := sessions.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%s@[%d,%d]=%d", it.Key(), it.Start().UnixMilli(), it.End().UnixMilli(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	// ann: 1 s and 3 s are one session, 12 s another; bob: 2 s and 9 s are 7 s apart.
	want := []string{"ann@[1000,3000]=2", "ann@[12000,12000]=1", "bob@[2000,2000]=1", "bob@[9000,9000]=1"}
	if !slices.Equal(got, want) {
		t.Errorf("sessions %v, want %v", got, want)
	}
}

// A reader of the wrong kind or types, or of a store the topology does not have, is an
// error that says what the store is.
func TestStoreReadersRefuseTheWrongStore(t *testing.T) {
	d := dslStores(t)
	cases := []struct {
		name string
		read func() error
		want string
	}{
		{"missing store", func() error { _, err := eddytest.TableStore[string, int64](d, "cuonts"); return err },
			`no store "cuonts" in the topology (its stores: ["counts" `},
		{"window store read as a table", func() error { _, err := eddytest.TableStore[string, int64](d, "window-counts"); return err },
			`TableStore of store "window-counts": the store is a window store`},
		{"wrong value type", func() error { _, err := eddytest.TableStore[string, string](d, "counts"); return err },
			`TableStore of store "counts": the store is a key-value store defined as store.KeyValueDef[string,github.com/eddy-streams/eddy/topology.ValueAndTimestamp[int64]]`},
		{"table read as windows", func() error { _, err := eddytest.WindowStore[string, int64](d, "counts"); return err },
			`WindowStore of store "counts": the store is a key-value store`},
		{"windows read as sessions", func() error { _, err := eddytest.SessionStore[string, int64](d, "window-counts"); return err },
			`SessionStore of store "window-counts": the store is a window store`},
		{"missing session store", func() error { _, err := eddytest.SessionStore[string, int64](d, "sessions"); return err },
			`no store "sessions"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.read(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// readKV returns every entry of a table's store as key=value@milliseconds, in key order.
func readKV[V any](t *testing.T, kv store.KV[string, topology.ValueAndTimestamp[V]]) []string {
	t.Helper()
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%s=%v@%d", it.Key(), it.Value().Value, it.Value().Timestamp.UnixMilli()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
