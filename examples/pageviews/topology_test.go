package pageviews_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/examples/pageviews"
	"github.com/eddy-streams/eddy/serde"
)

func TestViewsAreCountedPerRegionAndWindowOnceTheWindowCloses(t *testing.T) {
	topics := pageviews.Topics{PageViews: "views", Users: "users", ViewsPerRegion: "per-region"}
	topo, err := pageviews.Topology(topics, pageviews.Grace)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eddytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	users := eddytest.InputTopic(d, topics.Users, serde.String(), serde.String())
	views := eddytest.InputTopic(d, topics.PageViews, serde.String(), serde.JSON[pageviews.PageView]())
	out := eddytest.OutputTopic(d, topics.ViewsPerRegion, pageviews.WindowKeys, serde.Int64())

	region := map[string]string{"ann": "eu", "bob": "us", "cyd": "eu"}
	for u, r := range region {
		if err := users.Pipe(u, r, time.UnixMilli(0)); err != nil {
			t.Fatal(err)
		}
	}
	minute := func(m, s int) time.Time { return time.UnixMilli(int64(m)*60_000 + int64(s)*1000) }
	type view struct {
		user string
		at   time.Time
	}
	input := []view{
		{"ann", minute(0, 5)}, {"bob", minute(0, 10)}, {"cyd", minute(0, 59)},
		{"ann", minute(1, 0)},  // at the first window's end: the second window
		{"dan", minute(1, 1)},  // no such user: dropped by the inner join
		{"bob", minute(0, 30)}, // out of order, within grace: the first window
		{"cyd", minute(1, 30)},
		{"ann", minute(2, 15)}, // stream time 2:15 closes the second window (end 2:00 + 10 s)
		{"bob", minute(0, 40)}, // the first window closed at 1:10: late, dropped
	}
	// The expected counts, by the rules of Kafka Streams' tumbling windows with grace and
	// emit-on-window-close: a view belongs to the window [start, start+1m) holding its
	// time; it counts unless stream time had reached the window's end + grace when it
	// arrived; a window is emitted once stream time reaches its end + grace.
	counts := map[string]int64{}
	closes := map[string]time.Time{}
	var streamTime time.Time
	for _, v := range input {
		if v.at.After(streamTime) {
			streamTime = v.at
		}
		if err := views.Pipe(v.user, pageviews.PageView{User: v.user, Page: "/"}, v.at); err != nil {
			t.Fatal(err)
		}
		r, ok := region[v.user]
		start := v.at.Truncate(pageviews.Window)
		closeAt := start.Add(pageviews.Window + pageviews.Grace)
		if ok && streamTime.Before(closeAt) {
			k := fmt.Sprintf("%s@%d", r, start.UnixMilli())
			counts[k]++
			closes[k] = closeAt
		}
	}
	want := map[string]int64{}
	for k, n := range counts {
		if !streamTime.Before(closes[k]) {
			want[k] = n
		}
	}
	records, err := out.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range records {
		k := fmt.Sprintf("%s@%d", r.Key.Key, r.Key.Start.UnixMilli())
		if _, dup := got[k]; dup {
			t.Errorf("window %s emitted twice", k)
		}
		got[k] = r.Value
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(want) != 3 {
		t.Errorf("emitted %v, want %v", got, want)
	}
}
