// Package orders is the topology of Eddy's example service (examples/cmd/service):
// orders joined with a table of customers, each customer's spending summed per
// five-minute window of event time, and an alert written when a window's spending first
// goes over the customer's limit. The service around it shows what running Eddy as a
// service takes: health probes, error policies with a dead-letter topic, graceful
// shutdown.
package orders

import (
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Topics of the example; Orders and Customers need the same partition count (the join
// reads them in the same tasks). All must exist before the application starts.
type Topics struct {
	// Orders holds Order values keyed by customer id, timestamped when the order was
	// placed.
	Orders string
	// Customers holds each Customer keyed by customer id; a null value deletes one.
	Customers string
	// Alerts receives an Alert keyed by customer id whenever a customer's spending in a
	// window goes over their limit.
	Alerts string
}

// Order is one order of a customer.
type Order struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

// Customer is a customer and the most they may spend in one window.
type Customer struct {
	Name  string `json:"name"`
	Limit int64  `json:"limit"`
}

// Spending is what a customer spent in one window so far (the aggregate).
type Spending struct {
	Name  string `json:"name"`
	Limit int64  `json:"limit"`
	Total int64  `json:"total"`
	// Crossed says the last order took the total over the limit.
	Crossed bool `json:"crossed"`
}

// Alert says that a customer spent more than their limit in the window that starts at
// WindowStart.
type Alert struct {
	Customer    string    `json:"customer"`
	Name        string    `json:"name"`
	Total       int64     `json:"total"`
	Limit       int64     `json:"limit"`
	WindowStart time.Time `json:"window_start"`
}

// Window is the size of the windows; Grace how long a window takes late orders after
// its end.
const (
	Window = 5 * time.Minute
	Grace  = 30 * time.Second
)

// Topology builds the example. Orders of customers absent from the table are dropped
// (an inner join). It is built without the record cache: an alert goes out as soon as
// its order is processed, instead of at the next commit (README, "Running in
// production"), and every update reaches the filter, so no crossing is collapsed away.
func Topology(t Topics) (*topology.Topology, error) {
	b := topology.NewBuilder(topology.RequireExplicitNames(), topology.WithoutRecordCache())
	orders := topology.StreamFrom(b, t.Orders, serde.String(), serde.JSON[Order]())
	customers := topology.TableFrom(b, t.Customers, "customers", serde.String(), serde.JSON[Customer]())
	priced := topology.Join(orders, customers, "orders-with-customer", func(_ string, o Order, c Customer) Spending {
		return Spending{Name: c.Name, Limit: c.Limit, Total: o.Amount}
	})
	windows := topology.WindowedBy(topology.GroupByKey(priced, "orders-by-customer"), topology.TimeWindowsOfSizeAndGrace(Window, Grace))
	spending := topology.AggregateWindowed(windows, "spending-per-window", func() Spending { return Spending{} },
		func(_ string, order Spending, sum Spending) Spending {
			total := sum.Total + order.Total
			return Spending{Name: order.Name, Limit: order.Limit, Total: total, Crossed: sum.Total <= order.Limit && total > order.Limit}
		}, serde.JSON[Spending]())
	crossed := topology.Filter(topology.ToStream(spending), func(_ topology.Windowed[string], s Spending) bool { return s.Crossed })
	alerts := topology.Map(crossed, func(w topology.Windowed[string], s Spending) topology.KeyValue[string, Alert] {
		return topology.KeyValue[string, Alert]{Key: w.Key, Value: Alert{
			Customer: w.Key, Name: s.Name, Total: s.Total, Limit: s.Limit, WindowStart: w.Start.UTC(),
		}}
	})
	topology.To(alerts, t.Alerts, serde.String(), serde.JSON[Alert]())
	return b.Build()
}
