package eddy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordingEngine is a store engine that notes what the App does with it.
type recordingEngine struct {
	store.Engine
	mu     sync.Mutex
	opened []string
	closed int
}

func (e *recordingEngine) Open(dir string) (store.TaskDB, error) {
	e.mu.Lock()
	e.opened = append(e.opened, dir)
	e.mu.Unlock()
	return e.Engine.Open(dir)
}

func (e *recordingEngine) Close() error {
	e.mu.Lock()
	e.closed++
	e.mu.Unlock()
	return e.Engine.Close()
}

// TestStoreEngineHoldsTheApplicationsState: the engine given to StoreEngine is the one
// whose databases hold the tasks' stores, and Run closes it when it returns; Stats holds
// the engine's totals. On the way, the group member's client id names the application
// and the instance, as Kafka's tools show it.
func TestStoreEngineHoldsTheApplicationsState(t *testing.T) {
	seeds, topo := countOnKfake(t, 1)
	engine := &recordingEngine{Engine: memstore.New()}
	stateDir := t.TempDir()
	app, err := New(topo, ApplicationID("store-engine"), SeedBrokers(seeds...), StateDir(stateDir),
		StoreEngine(engine), CommitInterval(50*time.Millisecond), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx) }()

	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("out"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.ProduceSync(ctx, &kgo.Record{Topic: "in", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fetches := client.PollRecords(ctx, 1)
	if err := fetches.Err(); err != nil {
		t.Fatalf("reading the count: %v", err)
	}
	records := fetches.Records()
	if len(records) != 1 {
		t.Fatalf("read %d records from out, want the count", len(records))
	}
	if count, err := serde.Int64().Deserialize("out", records[0].Value); err != nil || string(records[0].Key) != "k" || count != 1 {
		t.Fatalf("read %s=%d (%v), want k=1", records[0].Key, count, err)
	}
	instance, err := os.ReadFile(filepath.Join(stateDir, "store-engine", "instance-id"))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := kadm.NewClient(client).DescribeGroups(ctx, "store-engine")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range groups["store-engine"].Members {
		ids = append(ids, m.ClientID)
	}
	if want := "store-engine-" + string(instance) + "-stream"; len(ids) != 1 || ids[0] != want {
		t.Errorf("the group's members have the client ids %q, want [%q]", ids, want)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := app.Stats(), (Stats{Processed: 1}); got != want {
		t.Errorf("Stats() after Run = %+v, want %+v", got, want)
	}
	engine.mu.Lock()
	defer engine.mu.Unlock()
	if len(engine.opened) == 0 {
		t.Error("the task's stores were not opened in the given engine")
	}
	if engine.closed != 1 {
		t.Errorf("Run closed the engine %d times, want once", engine.closed)
	}
}
