package orders_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/examples/orders"
	"github.com/eddy-streams/eddy/serde"
)

func TestAnAlertGoesOutWhenAWindowsSpendingFirstGoesOverTheLimit(t *testing.T) {
	topics := orders.Topics{Orders: "orders", Customers: "customers", Alerts: "alerts"}
	topo, err := orders.Topology(topics)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	customers := eddytest.InputTopic(d, topics.Customers, serde.String(), serde.JSON[orders.Customer]())
	in := eddytest.InputTopic(d, topics.Orders, serde.String(), serde.JSON[orders.Order]())
	alerts := eddytest.OutputTopic(d, topics.Alerts, serde.String(), serde.JSON[orders.Alert]())

	at := func(m, s int) time.Time { return time.UnixMilli(int64(m)*60_000 + int64(s)*1000).UTC() }
	for id, c := range map[string]orders.Customer{"c1": {Name: "Ann", Limit: 100}, "c2": {Name: "Bob", Limit: 500}} {
		if err := customers.Pipe(id, c, at(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct {
		customer string
		amount   int64
		at       time.Time
	}{
		{"c1", 60, at(0, 10)},
		{"c2", 300, at(0, 15)},
		{"c1", 50, at(0, 20)},  // 110 > 100: the first alert
		{"c1", 30, at(0, 30)},  // already over: no second alert for the window
		{"c9", 999, at(0, 40)}, // no such customer: dropped by the inner join
		{"c2", 200, at(1, 0)},  // 500 is not over 500
		{"c1", 70, at(5, 10)},  // the next window starts at 70
		{"c2", 1, at(2, 0)},    // 501: the second alert
		{"c1", 40, at(6, 0)},   // 110 in the second window: the third alert
	} {
		if err := in.Pipe(o.customer, orders.Order{ID: o.customer + "-" + o.at.Format("04:05"), Amount: o.amount}, o.at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := alerts.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []orders.Alert{
		{Customer: "c1", Name: "Ann", Total: 110, Limit: 100, WindowStart: at(0, 0)},
		{Customer: "c2", Name: "Bob", Total: 501, Limit: 500, WindowStart: at(0, 0)},
		{Customer: "c1", Name: "Ann", Total: 110, Limit: 100, WindowStart: at(5, 0)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d alerts, want %d: %+v", len(got), len(want), got)
	}
	for i, r := range got {
		if r.Key != want[i].Customer || r.Value != want[i] {
			t.Errorf("alert %d is %s=%+v, want %+v", i, r.Key, r.Value, want[i])
		}
	}
}
