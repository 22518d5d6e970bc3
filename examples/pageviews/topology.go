// Package pageviews is Eddy's second example: page views joined with a table of users,
// re-keyed by the user's region, and counted per region in one-minute windows of event
// time, each window's count emitted once, when the window closes. The demo command is
// examples/cmd/pageviews; the integration tests run the same topology on real Kafka.
package pageviews

import (
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Topics of the example; all three must exist, PageViews and Users with the same
// partition count (the join reads them in the same tasks). Views travel from the join to
// the counts through <application id>-views-by-region-repartition, which the
// application creates.
type Topics struct {
	// PageViews holds PageView values keyed by user id, timestamped when the page was
	// viewed.
	PageViews string
	// Users holds each user's region, keyed by user id; a null value deletes the user.
	Users string
	// ViewsPerRegion receives the count of each region's views in each window, keyed
	// by region and window start (WindowKeys).
	ViewsPerRegion string
}

// PageView is one view of a page.
type PageView struct {
	User string `json:"user"`
	Page string `json:"page"`
}

// Window is the size of the windows. Grace is the default of how long a window waits
// for late views after its end before it closes and emits its count.
const (
	Window = time.Minute
	Grace  = 10 * time.Second
)

// WindowKeys is the serde of the keys of ViewsPerRegion: the region, then the window's
// start (Kafka Streams' time-windowed key format).
var WindowKeys = topology.TimeWindowedSerde(serde.String(), Window)

// Topology builds the example, with windows that close grace after their end. Views of
// users absent from the table are dropped (an inner join). Every store and internal
// topic is named.
func Topology(t Topics, grace time.Duration) (*topology.Topology, error) {
	b := topology.NewBuilder(topology.RequireExplicitNames())
	views := topology.StreamFrom(b, t.PageViews, serde.String(), serde.JSON[PageView]())
	users := topology.TableFrom(b, t.Users, "users", serde.String(), serde.String())
	regions := topology.Join(views, users, "views-with-region", func(_ string, _ PageView, region string) string { return region })
	byRegion := topology.SelectKey(regions, func(_, region string) string { return region }).WithSerdes(serde.String(), serde.String())
	windows := topology.WindowedBy(topology.GroupByKey(byRegion, "views-by-region"), topology.TimeWindowsOfSizeAndGrace(Window, grace))
	counts := topology.CountWindowed(windows.Emit(topology.EmitOnWindowClose), "views-per-region")
	topology.To(topology.ToStream(counts), t.ViewsPerRegion, WindowKeys, serde.Int64())
	return b.Build()
}
