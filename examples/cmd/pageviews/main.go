// Command pageviews is Eddy's second demo: page views joined with a table of users,
// re-keyed by the user's region and counted per region in one-minute windows of event
// time, each window's count emitted once, when the window closes. It prints the topology
// and each final count as it arrives, and checks every count against its own.
//
// With no flags it starts an in-process broker (package embedded) and needs no install:
//
//	make demo-pageviews   (or: cd examples && go run ./cmd/pageviews)
//
// With -brokers it runs against a real cluster, creating its three topics if absent (the
// application creates its internal topics itself). The demo needs empty topics and a new
// application: to run it again on the same cluster, pass another -suffix.
//
// The views carry synthetic event times, the same offsets from the start of the previous
// hour on every run, so the counts are the same on every run. (Recent event times: a
// windowed store's changelog is also deleted by time, retention.ms being the store's
// retention plus a day as in Kafka Streams, so a real broker would delete records
// stamped long ago.) Stream time is kept per task, and the counts run in other tasks than the
// join, fed by all of the join's tasks through the repartition topic, where the records
// of different join tasks interleave in no fixed order. So the demo produces the views in
// batches, each once the application has consumed the previous one, cut so that no view
// can be late whatever the interleaving (see batches), and the views that close the last
// windows only once the application has consumed every other view.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/examples/internal/demo"
	"github.com/eddy-streams/eddy/examples/pageviews"
	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// users is the demo's table of users: user id -> region.
var users = map[string]string{
	"ann": "eu", "bob": "us", "cyd": "eu", "dee": "apac",
	"eli": "us", "fay": "latam", "gus": "eu", "hal": "apac",
	"ivy": "us", "jon": "latam", "kim": "apac", "lea": "eu",
}

// unknownUser has views but is not in the table: the inner join drops them.
const unknownUser = "zed"

// base is the event time of the first window, the start of the previous hour; the views
// span windows minutes of event time from it.
var base = time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)

const windows = 5

// timeout bounds the whole demo, from the first record produced to the last count read.
const timeout = 60 * time.Second

// view is a page view to produce.
type view struct {
	user string
	page string
	at   time.Time
}

// windowKey names a region's window by its start, in milliseconds since the Unix epoch.
type windowKey struct {
	region string
	start  int64
}

func main() {
	brokers := demo.BrokersFlag()
	suffix := flag.String("suffix", "", "appended to the topic names and the application id, to run again on the same cluster")
	demo.Main("pageviews", func(ctx context.Context) error { return run(ctx, *brokers, *suffix) })
}

func run(ctx context.Context, brokers, suffix string) error {
	names := pageviews.Topics{
		PageViews:      "page-views" + suffix,
		Users:          "users" + suffix,
		ViewsPerRegion: "views-per-region" + suffix,
	}
	appID := "pageviews-demo" + suffix
	const partitions = 3

	seeds, closeBrokers, err := demo.Brokers(ctx, brokers, partitions, names.PageViews, names.Users, names.ViewsPerRegion)
	if err != nil {
		return err
	}
	defer closeBrokers()

	topo, err := pageviews.Topology(names, pageviews.Grace)
	if err != nil {
		return err
	}
	fmt.Println(topo.Describe())

	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(names.ViewsPerRegion))
	if err != nil {
		return err
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	if brokers != "" {
		if err := requireEmpty(ctx, admin, names.PageViews, names.Users, names.ViewsPerRegion); err != nil {
			return err
		}
	}

	// The views, the batches they are produced in, the views that close the windows, and
	// the counts to expect, computed from the demo's own table.
	regular := sampleViews()
	plan, err := batches(regular)
	if err != nil {
		return err
	}
	last := slices.MaxFunc(regular, func(a, b view) int { return a.at.Compare(b.at) }).at
	closing := closingViews(last.Add(pageviews.Window + pageviews.Grace))
	want := map[windowKey]int64{}
	outOfOrder := 0
	for i, v := range regular {
		if region, ok := users[v.user]; ok {
			want[windowKey{region, windowStart(v.at)}]++
		}
		if slices.ContainsFunc(regular[:i], func(u view) bool { return u.at.After(v.at) }) {
			outOfOrder++
		}
	}

	app, err := demo.RunApp(ctx, topo, appID, seeds, 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer app.Stop()

	demoCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// Feed the application in the background, while the counts are read.
	fed := make(chan error, 1)
	go func() {
		fed <- feed(demoCtx, client, admin, appID, names, plan, closing, outOfOrder)
	}()

	fmt.Println("Final counts, as each window closes:")
	got := map[windowKey]int64{}
	for len(got) < len(want) {
		select {
		case <-app.Done():
			return fmt.Errorf("the application stopped: %w", app.Err())
		case err := <-fed:
			if err != nil {
				return err
			}
			fed = nil // done: keep reading
		default:
		}
		if demoCtx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("only %d of the %d windows were emitted within %s; missing: %s",
				len(got), len(want), timeout, missing(want, got))
		}
		if err := readCounts(demoCtx, client, 500*time.Millisecond, want, got); err != nil {
			return err
		}
	}
	// Every window arrived: wait for the feeder (done by now, as the last windows close
	// only with its last views), then give a duplicate a moment to show.
	if fed != nil {
		if err := <-fed; err != nil {
			return err
		}
	}
	if err := readCounts(demoCtx, client, time.Second, want, got); err != nil {
		return err
	}

	fmt.Printf("\nAll %d windows emitted once, with the expected counts:\n", len(want))
	printGrid(got)
	if err := app.Stop(); err != nil {
		return fmt.Errorf("the application stopped: %w", err)
	}
	return nil
}

// sampleViews returns the regular page views, in the order to produce them: a dozen or
// more per window, most in order of event time, each window's first seconds followed by
// two views of the previous window's last seconds (out of order, within grace), and two
// views by a user the table does not have.
func sampleViews() []view {
	rng := rand.New(rand.NewPCG(2026, 1))
	ids := slices.Sorted(maps.Keys(users))
	pages := []string{"/", "/pricing", "/docs", "/blog", "/signup"}
	random := func(from time.Time, span time.Duration) view {
		return view{
			user: ids[rng.IntN(len(ids))],
			page: pages[rng.IntN(len(pages))],
			at:   from.Add(time.Duration(rng.Int64N(int64(span/time.Millisecond))) * time.Millisecond),
		}
	}
	var out []view
	for m := range windows {
		start := base.Add(time.Duration(m) * pageviews.Window)
		// Two views in the window's first 5 seconds, the out-of-order ones, the rest.
		early := []view{random(start, 5*time.Second), random(start, 5*time.Second)}
		slices.SortFunc(early, func(a, b view) int { return a.at.Compare(b.at) })
		out = append(out, early...)
		if m > 0 {
			out = append(out, random(start.Add(-15*time.Second), 15*time.Second), random(start.Add(-15*time.Second), 15*time.Second))
		}
		var rest []view
		for range 10 + rng.IntN(10) {
			rest = append(rest, random(start.Add(5*time.Second), 55*time.Second))
		}
		if m == 1 || m == 3 {
			rest = append(rest, view{user: unknownUser, page: "/", at: start.Add(30 * time.Second)})
		}
		slices.SortFunc(rest, func(a, b view) int { return a.at.Compare(b.at) })
		out = append(out, rest...)
	}
	return out
}

// batches cuts views, in order, into batches that the demo produces one at a time, each
// once the application has consumed the previous one, so that in every partition of the
// repartition topic all of a batch's views come after those of earlier batches. A view
// is late if the stream time of its count task has reached its window's end plus grace
// when it arrives; that stream time is at most the latest event time of the view's batch
// and the earlier ones. So a batch ends before the view that would bring that latest time
// to the close of a window of the batch, and no view is late, whatever the interleaving
// within a batch. It fails if a view would be late even in the order given.
func batches(views []view) ([][]view, error) {
	var out [][]view
	var batch []view
	var latest, firstClose time.Time // over the views so far; over the batch's
	for _, v := range views {
		closeAt := time.UnixMilli(windowStart(v.at)).Add(pageviews.Window + pageviews.Grace)
		if !latest.Before(closeAt) {
			return nil, fmt.Errorf("the demo's view at %s would be late: stream time %s", v.at.Format(time.TimeOnly), latest.Format(time.TimeOnly))
		}
		if len(batch) > 0 && !v.at.Before(firstClose) {
			out, batch = append(out, batch), nil
		}
		if len(batch) == 0 || closeAt.Before(firstClose) {
			firstClose = closeAt
		}
		batch = append(batch, v)
		if v.at.After(latest) {
			latest = v.at
		}
	}
	if len(batch) > 0 {
		out = append(out, batch)
	}
	return out, nil
}

// closingViews returns one view per region at at, which closes every window before it.
func closingViews(at time.Time) []view {
	var out []view
	seen := map[string]bool{}
	for _, u := range slices.Sorted(maps.Keys(users)) {
		if r := users[u]; !seen[r] {
			seen[r] = true
			out = append(out, view{user: u, page: "/", at: at})
		}
	}
	return out
}

// windowStart is the start of the window holding t, in milliseconds since the Unix epoch.
func windowStart(t time.Time) int64 {
	ms, size := t.UnixMilli(), pageviews.Window.Milliseconds()
	return ms - ms%size
}

// feed produces the users, then the views batch by batch, then the closing views, each
// step once the application has consumed the previous one.
func feed(ctx context.Context, client *kgo.Client, admin *kadm.Client, group string, names pageviews.Topics, batches [][]view, closing []view, outOfOrder int) error {
	var records []*kgo.Record
	for _, u := range slices.Sorted(maps.Keys(users)) {
		// Before every view: the table is the same whichever way the join compares times.
		records = append(records, &kgo.Record{Topic: names.Users, Key: []byte(u), Value: []byte(users[u]), Timestamp: base.Add(-time.Hour)})
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("producing the users: %w", err)
	}
	if err := awaitConsumed(ctx, admin, group, names.Users); err != nil {
		return err
	}
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	fmt.Printf("  (%d users in %d regions loaded; producing %d views, %d out of order, in %d batches)\n",
		len(users), len(closing), n, outOfOrder, len(batches))

	for _, b := range batches {
		if err := produceViews(ctx, client, names.PageViews, b); err != nil {
			return err
		}
		if err := awaitConsumed(ctx, admin, group, names.PageViews); err != nil {
			return err
		}
	}
	fmt.Printf("  (all views consumed; producing one view per region at %s to close the last windows)\n",
		closing[0].at.UTC().Format(time.TimeOnly))
	return produceViews(ctx, client, names.PageViews, closing)
}

func produceViews(ctx context.Context, client *kgo.Client, topic string, views []view) error {
	values := serde.JSON[pageviews.PageView]()
	records := make([]*kgo.Record, len(views))
	for i, v := range views {
		value, err := values.Serialize(topic, pageviews.PageView{User: v.user, Page: v.page})
		if err != nil {
			return err
		}
		records[i] = &kgo.Record{Topic: topic, Key: []byte(v.user), Value: value, Timestamp: v.at}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("producing views: %w", err)
	}
	return nil
}

// awaitConsumed waits until group has committed the end offset of every partition of
// topic.
func awaitConsumed(ctx context.Context, admin *kadm.Client, group, topic string) error {
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	for {
		committed, err := admin.FetchOffsets(ctx, group)
		if err == nil {
			behind := false
			ends.Each(func(end kadm.ListedOffset) {
				c, ok := committed.Lookup(topic, end.Partition)
				if end.Offset > 0 && (!ok || c.At < end.Offset) {
					behind = true
				}
			})
			if !behind {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the application did not consume all of %s within %s (last error: %v)", topic, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readCounts polls the output for up to wait, prints each count and checks it: a window
// must be expected, arrive once, and hold the expected count.
func readCounts(ctx context.Context, client *kgo.Client, wait time.Duration, want, got map[windowKey]int64) error {
	pollCtx, cancel := context.WithTimeout(ctx, wait)
	fetches := client.PollFetches(pollCtx)
	cancel()
	var errs []error
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("reading %s partition %d: %w", topic, p, err))
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		w, err := pageviews.WindowKeys.Deserialize(r.Topic, r.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("key at offset %d: %w", r.Offset, err))
			return
		}
		n, err := serde.Int64().Deserialize(r.Topic, r.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("count of %s at offset %d: %w", w, r.Offset, err))
			return
		}
		k := windowKey{w.Key, w.Start.UnixMilli()}
		fmt.Printf("  %-6s %s  %d\n", k.region, window(k.start), n)
		expected, ok := want[k]
		_, dup := got[k]
		switch {
		case dup:
			errs = append(errs, fmt.Errorf("window %s %s emitted twice (counts %d, then %d)", k.region, window(k.start), got[k], n))
		case !ok:
			errs = append(errs, fmt.Errorf("window %s %s emitted with count %d, but no such window was expected", k.region, window(k.start), n))
		case n != expected:
			errs = append(errs, fmt.Errorf("window %s %s: count %d, want %d", k.region, window(k.start), n, expected))
		}
		got[k] = n
	})
	return errors.Join(errs...)
}

// window formats the window starting at start, in milliseconds, as "00:01–00:02".
func window(start int64) string {
	s := time.UnixMilli(start).UTC()
	return s.Format("15:04") + "–" + s.Add(pageviews.Window).Format("15:04")
}

func missing(want, got map[windowKey]int64) string {
	var out []string
	for _, k := range sortedKeys(want) {
		if _, ok := got[k]; !ok {
			out = append(out, k.region+" "+window(k.start))
		}
	}
	return strings.Join(out, ", ")
}

func sortedKeys(m map[windowKey]int64) []windowKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b windowKey) int {
		return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.start, b.start))
	})
}

// printGrid prints the counts as a table of regions by windows.
func printGrid(counts map[windowKey]int64) {
	var regions []string
	var starts []int64
	for _, k := range sortedKeys(counts) {
		if !slices.Contains(regions, k.region) {
			regions = append(regions, k.region)
		}
		if !slices.Contains(starts, k.start) {
			starts = append(starts, k.start)
		}
	}
	slices.Sort(starts)
	fmt.Printf("  %-6s", "")
	for _, s := range starts {
		fmt.Printf(" %6s", time.UnixMilli(s).UTC().Format("15:04"))
	}
	fmt.Println()
	for _, r := range regions {
		fmt.Printf("  %-6s", r)
		for _, s := range starts {
			if n, ok := counts[windowKey{r, s}]; ok {
				fmt.Printf(" %6d", n)
			} else {
				fmt.Printf(" %6s", "-")
			}
		}
		fmt.Println()
	}
}

// requireEmpty fails if a topic holds records, of an earlier run: its views would be
// counted again, and its windows read twice.
func requireEmpty(ctx context.Context, admin *kadm.Client, topics ...string) error {
	ends, err := admin.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("listing the end offsets of the topics: %w", err)
	}
	var full []string
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 && !slices.Contains(full, o.Topic) {
			full = append(full, o.Topic)
		}
	})
	if len(full) > 0 {
		slices.Sort(full)
		return fmt.Errorf("topics %s already hold records, of an earlier run? Delete them, or run with another -suffix", strings.Join(full, ", "))
	}
	return nil
}
