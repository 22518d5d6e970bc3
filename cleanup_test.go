package eddy

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/statedir"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCleanUp: CleanUp refuses while the App runs and while another holder has the
// state directory's lock, changing nothing; after Run returned it deletes the tasks'
// state and keeps the instance id; the next run restores the count from the changelog.
func TestCleanUp(t *testing.T) {
	seeds, topo := countOnKfake(t, 2)
	stateDir := t.TempDir()
	appDir := filepath.Join(stateDir, "cleanup")
	newApp := func() *App {
		app, err := New(topo, ApplicationID("cleanup"), SeedBrokers(seeds...), StateDir(stateDir),
			CommitInterval(50*time.Millisecond), Logger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("out"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// countOnce produces key k once and returns the count read back.
	countOnce := func() int64 {
		t.Helper()
		if err := client.ProduceSync(ctx, &kgo.Record{Topic: "in", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		var records []*kgo.Record
		for len(records) == 0 {
			fetches := client.PollRecords(ctx, 1)
			if err := fetches.Err(); err != nil {
				t.Fatalf("reading the count: %v", err)
			}
			records = fetches.Records()
		}
		r := records[0]
		n, err := serde.Int64().Deserialize("out", r.Value)
		if err != nil || string(r.Key) != "k" {
			t.Fatalf("read %q=%x (%v), want k and a count", r.Key, r.Value, err)
		}
		return n
	}

	app := newApp()
	if err := app.CleanUp(); err != nil {
		t.Fatalf("CleanUp before the first run, without a state directory: %v", err)
	}
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx) }()
	if n := countOnce(); n != 1 {
		t.Fatalf("first count %d, want 1", n)
	}
	before := listDir(t, appDir)
	if !slices.ContainsFunc(before, func(n string) bool { return n == "0_0" || n == "0_1" }) {
		t.Fatalf("the running app's state directory holds %q, want a task directory", before)
	}
	if err := app.CleanUp(); err == nil || errors.Is(err, ErrStateDirLocked) {
		t.Errorf("CleanUp while Run runs: %v, want the app-is-running error", err)
	}
	if err := newApp().CleanUp(); !errors.Is(err, ErrStateDirLocked) {
		t.Errorf("CleanUp of another App on the directory a running App holds: %v, want ErrStateDirLocked", err)
	}
	app.Close()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := listDir(t, appDir); !slices.Equal(got, before) {
		t.Fatalf("refused CleanUps changed the state directory: %q, was %q", got, before)
	}
	instance, err := os.ReadFile(filepath.Join(appDir, statedir.InstanceIDFile))
	if err != nil {
		t.Fatal(err)
	}

	unlock, err := statedir.Lock(appDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.CleanUp(); !errors.Is(err, ErrStateDirLocked) {
		t.Errorf("CleanUp while another holder has the lock: %v, want ErrStateDirLocked", err)
	}
	unlock()
	if got := listDir(t, appDir); !slices.Equal(got, before) {
		t.Fatalf("a CleanUp refused by the lock changed the state directory: %q, was %q", got, before)
	}

	if err := app.CleanUp(); err != nil {
		t.Fatalf("CleanUp after Run returned: %v", err)
	}
	if got, want := listDir(t, appDir), []string{statedir.LockFile, statedir.InstanceIDFile}; !slices.Equal(got, want) {
		t.Fatalf("after CleanUp the state directory holds %q, want %q", got, want)
	}
	if again, err := os.ReadFile(filepath.Join(appDir, statedir.InstanceIDFile)); err != nil || string(again) != string(instance) {
		t.Errorf("CleanUp changed the instance id from %q to %q (%v)", instance, again, err)
	}

	// A new run restores the store from its changelog: the count goes on.
	app = newApp()
	go func() { ran <- app.Run(ctx) }()
	if n := countOnce(); n != 2 {
		t.Errorf("count after CleanUp and a rerun: %d, want 2 (restored from the changelog)", n)
	}
	app.Close()
	if err := <-ran; err != nil {
		t.Fatalf("second Run: %v", err)
	}
}

// countOnKfake starts a kfake cluster with topics in and out of the given partitions,
// closed when the test ends, and builds a topology that counts the records of in per key
// in store counts and writes the counts to out.
func countOnKfake(t *testing.T, partitions int32) (seeds []string, topo *topology.Topology) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	b := topology.NewBuilder()
	counts := topology.Count(topology.GroupByKey(topology.StreamFrom(b, "in", serde.String(), serde.String()), "by-key"), "counts")
	topology.To(topology.ToStream(counts), "out", serde.String(), serde.Int64())
	topo, err = b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return cluster.ListenAddrs(), topo
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
