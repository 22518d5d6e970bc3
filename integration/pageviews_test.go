package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/examples/pageviews"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPageViewsPipelineOnTwoInstances runs the page views example, a stream-table join,
// a re-key through a repartition topic and a windowed count with emit-final, on two
// exactly-once instances, the second joining while views flow. Read committed, every
// window of every region must be emitted exactly once, with the count the test computes
// from its own copy of the users table.
//
// Stream time is kept per task, and the windowed counts run in other tasks than the join,
// fed by all the join's tasks through the repartition topic: how records of different
// join tasks interleave there is not deterministic. So the grace period covers the whole
// span of the views' event times (nothing is late, whatever the interleaving), and the
// views that close the windows are produced only once the application has consumed
// every other view.
func TestPageViewsPipelineOnTwoInstances(t *testing.T) {
	cluster := kafka.Cluster(t)
	const (
		partitions = 4
		users      = 300
		views      = 20_000
		span       = 8 * time.Minute // of event time, from base
	)
	topics := pageviews.Topics{
		PageViews:      cluster.NewTopic(t, partitions, nil),
		Users:          cluster.NewTopic(t, partitions, nil),
		ViewsPerRegion: cluster.NewTopic(t, partitions, nil),
	}
	topo, err := pageviews.Topology(topics, span)
	if err != nil {
		t.Fatal(err)
	}
	app := topics.PageViews + "-app"
	producer := cluster.Client(t)
	admin := cluster.Admin(t)
	rng := rand.New(rand.NewPCG(5, 0))

	regions := []string{"eu", "us", "apac", "latam", "africa", "mena", "oceania"}
	region := map[string]string{}
	var userIDs, userRegions []string
	for i := range users {
		id := fmt.Sprintf("user-%03d", i)
		region[id] = regions[rng.IntN(len(regions))]
		userIDs = append(userIDs, id)
		userRegions = append(userRegions, region[id])
	}
	// Event times near the wall clock: the windowed store's changelog is also deleted by
	// time (retention.ms = the store's retention + 1 day, as in Kafka Streams), and the
	// broker would delete records with older timestamps at once.
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	produceAt(t.Context(), t, producer, topics.Users, userIDs, userRegions, base)

	opts := []eddy.Opt{eddy.ApplicationID(app), eddy.ExactlyOnce(), eddy.CommitInterval(100 * time.Millisecond)}
	first := startApp(t, "first", cluster, topo, append(opts, eddy.StateDir(t.TempDir()))...)
	awaitConsumed(t, admin, app, topics.Users, time.Minute)

	// Views: 5% by users the table does not have, dropped by the inner join.
	want := map[string]int64{}
	var keys, values []string
	var stamps []time.Time
	for range views {
		user := userIDs[rng.IntN(len(userIDs))]
		if rng.IntN(20) == 0 {
			user = "unknown-" + user
		}
		at := base.Add(time.Duration(rng.Int64N(int64(span))))
		keys, stamps = append(keys, user), append(stamps, at)
		values = append(values, pageViewJSON(t, user))
		if r, ok := region[user]; ok {
			want[windowName(r, at)]++
		}
	}
	half := views / 2
	produceEach(t.Context(), t, producer, topics.PageViews, keys[:half], values[:half], stamps[:half])
	second := startApp(t, "second", cluster, topo, append(opts, eddy.StateDir(t.TempDir()))...)
	produceEach(t.Context(), t, producer, topics.PageViews, keys[half:], values[half:], stamps[half:])
	awaitConsumed(t, admin, app, topics.PageViews, 2*time.Minute)

	// One view per region, a window past the span plus grace: it closes every window of
	// its region's task and opens one that stays open.
	closing := base.Add(2*span + 2*pageviews.Window)
	var closeKeys, closeValues []string
	for _, r := range regions {
		for _, u := range userIDs {
			if region[u] == r {
				closeKeys, closeValues = append(closeKeys, u), append(closeValues, pageViewJSON(t, u))
				break
			}
		}
	}
	produceAt(t.Context(), t, producer, topics.PageViews, closeKeys, closeValues, closing)

	readWindowCounts(t, cluster, topics.ViewsPerRegion, len(want), 2*time.Minute)
	// A duplicate emission would come in a later transaction: give it time to show, then
	// read everything again.
	time.Sleep(3 * time.Second)
	got := readWindowCounts(t, cluster, topics.ViewsPerRegion, 0, 5*time.Second)
	seen := map[string]int64{}
	for _, c := range got {
		if _, dup := seen[c.window]; dup {
			t.Errorf("window %s emitted twice", c.window)
		}
		seen[c.window] = c.count
		if want[c.window] != c.count {
			t.Errorf("window %s: count %d, want %d", c.window, c.count, want[c.window])
		}
	}
	for w := range want {
		if _, ok := seen[w]; !ok {
			t.Errorf("window %s was never emitted", w)
		}
	}
	t.Logf("%d views of %d users in %d regions: %d windows emitted once each, with the expected counts",
		views, users, len(regions), len(seen))
	first.stop(t)
	second.stop(t)
}

// windowName names a region's one-minute window holding at.
func windowName(region string, at time.Time) string {
	start := at.UnixMilli() - at.UnixMilli()%pageviews.Window.Milliseconds()
	return fmt.Sprintf("%s@%s", region, time.UnixMilli(start).UTC().Format("15:04"))
}

func pageViewJSON(t *testing.T, user string) string {
	b, err := json.Marshal(pageviews.PageView{User: user, Page: "/"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// produceAt writes records with string keys and values, all timestamped at, and waits
// for them.
func produceAt(ctx context.Context, t *testing.T, client *kgo.Client, topic string, keys, values []string, at time.Time) {
	t.Helper()
	stamps := make([]time.Time, len(keys))
	for i := range stamps {
		stamps[i] = at
	}
	produceEach(ctx, t, client, topic, keys, values, stamps)
}

// produceEach writes records with string keys and values and their own timestamps, and
// waits for them.
func produceEach(ctx context.Context, t *testing.T, client *kgo.Client, topic string, keys, values []string, stamps []time.Time) {
	t.Helper()
	records := make([]*kgo.Record, len(keys))
	for i := range keys {
		records[i] = &kgo.Record{Topic: topic, Key: []byte(keys[i]), Value: []byte(values[i]), Timestamp: stamps[i]}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

// awaitConsumed waits until group has committed the end offset of every partition of
// topic.
func awaitConsumed(t *testing.T, admin *kadm.Client, group, topic string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for {
		committed, err := admin.FetchOffsets(ctx, group)
		if err == nil {
			behind := 0
			ends.Each(func(end kadm.ListedOffset) {
				c, ok := committed.Lookup(topic, end.Partition)
				if !ok || c.At < end.Offset {
					behind++
				}
			})
			if behind == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s has not consumed all of %s after %s (last error: %v)", group, topic, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type windowCount struct {
	window string
	count  int64
}

// readWindowCounts reads the windowed counts of topic read_committed from the start
// until it has at least n, or until timeout when n is 0, and returns them in the order
// read.
func readWindowCounts(t *testing.T, cluster *kafkatest.Cluster, topic string, n int, timeout time.Duration) []windowCount {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	client := cluster.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var out []windowCount
	for n == 0 || len(out) < n {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			if n == 0 {
				return out
			}
			t.Fatalf("%s: %d windowed counts after %s, want %d", topic, len(out), timeout, n)
		}
		if err := fetches.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		for _, r := range fetches.Records() {
			key, err := pageviews.WindowKeys.Deserialize(topic, r.Key)
			if err != nil {
				t.Fatalf("%s offset %d: %v", topic, r.Offset, err)
			}
			count, err := serde.Int64().Deserialize(topic, r.Value)
			if err != nil {
				t.Fatalf("%s offset %d: %v", topic, r.Offset, err)
			}
			out = append(out, windowCount{window: windowName(key.Key, key.Start), count: count})
		}
	}
	return out
}
