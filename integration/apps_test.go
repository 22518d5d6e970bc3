package integration_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// instance is one running App of a test.
type instance struct {
	name string
	app  *eddy.App
	done chan error
}

// startApp runs an App until stopped or the test ends; a Run error fails the test unless
// the test collects it with stop or wait.
func startApp(t *testing.T, name string, cluster *kafkatest.Cluster, topo *topology.Topology, opts ...eddy.Opt) *instance {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel()})).With("instance", name)
	opts = append([]eddy.Opt{eddy.SeedBrokers(cluster.Seeds()...), eddy.Logger(logger)}, opts...)
	app, err := eddy.New(topo, opts...)
	if err != nil {
		t.Fatalf("instance %s: %v", name, err)
	}
	in := &instance{name: name, app: app, done: make(chan error, 1)}
	go func() {
		err := app.Run(context.Background())
		if err != nil {
			// Logged at once: a test waiting for output would otherwise only time out.
			t.Logf("instance %s stopped: %v", name, err)
		}
		in.done <- err
	}()
	t.Cleanup(func() { closeWithin(t, name, app, 2*time.Minute) })
	return in
}

// closeWithin closes app, failing the test with every goroutine's stack if Close has not
// returned within timeout: a hung instance (a deadlock) then fails its own test with the
// evidence, instead of the whole package at its timeout.
func closeWithin(t *testing.T, name string, app *eddy.App, timeout time.Duration) {
	closed := make(chan struct{})
	go func() {
		app.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(timeout):
		stacks := make([]byte, 1<<22)
		stacks = stacks[:runtime.Stack(stacks, true)]
		t.Errorf("instance %s: Close has not returned after %s; the goroutines:\n%s", name, timeout, stacks)
	}
}

// stop closes the instance cleanly and fails the test if it ended with an error.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.app.Close()
	if err := <-in.done; err != nil {
		t.Fatalf("instance %s stopped with an error: %v", in.name, err)
	}
}

// wait returns the error the instance stopped with, failing the test if it runs on
// past timeout.
func (in *instance) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-in.done:
		return err
	case <-time.After(timeout):
		t.Fatalf("instance %s still runs after %s", in.name, timeout)
		return nil
	}
}

// testLogLevel is the level of the instances' logs: EDDY_TEST_LOG_LEVEL (debug, info,
// warn, error), warn when unset.
func testLogLevel() slog.Level {
	var level slog.Level = slog.LevelWarn
	if s := os.Getenv("EDDY_TEST_LOG_LEVEL"); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			panic(fmt.Sprintf("EDDY_TEST_LOG_LEVEL=%q: %v", s, err))
		}
	}
	return level
}

// vocabulary is n distinct words of letters only (the word count splits at anything
// else): the numbers 0 to n-1 written in base 26 with the digits a to z.
func vocabulary(n int) []string {
	words := make([]string, n)
	for i := range words {
		word := []byte{}
		for v := i; ; v /= 26 {
			word = append(word, byte('a'+v%26))
			if v < 26 {
				break
			}
		}
		words[i] = "w" + string(word)
	}
	return words
}

// lines makes n lines of 1 to 8 words drawn from vocab with a fixed seed, and the count
// of every word in them.
func lines(seed uint64, n int, vocab []string) ([]string, map[string]int64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]string, n)
	counts := map[string]int64{}
	for i := range out {
		words := make([]string, 1+rng.IntN(8))
		for j := range words {
			words[j] = vocab[rng.IntN(len(vocab))]
			counts[words[j]]++
		}
		out[i] = strings.Join(words, " ")
	}
	return out, counts
}

// produceValues writes records with string keys and values to topic and waits for them.
func produceValues(ctx context.Context, t *testing.T, client *kgo.Client, topic string, keys, values []string) {
	t.Helper()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for i := range values {
		r := &kgo.Record{Topic: topic, Value: []byte(values[i])}
		if keys != nil {
			r.Key = []byte(keys[i])
		}
		wg.Add(1)
		client.Produce(ctx, r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("producing to %s: %v", topic, firstErr)
	}
}

// awaitLatest reads topic from the start, keeping the newest int64 value of every key,
// until it equals want or timeout passes; it returns what it read.
func awaitLatest(t *testing.T, cluster *kafkatest.Cluster, topic string, want map[string]int64, timeout time.Duration) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	client := cluster.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	latest := map[string]int64{}
	decode := serde.Int64()
	for !maps.Equal(latest, want) {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			diff := 0
			for k, v := range want {
				if latest[k] != v {
					diff++
				}
			}
			t.Fatalf("%s: after %s, %d of %d keys differ from the expected counts (read %d keys)", topic, timeout, diff, len(want), len(latest))
		}
		if err := fetches.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		for _, r := range fetches.Records() {
			n, err := decode.Deserialize(topic, r.Value)
			if err != nil {
				t.Fatalf("%s offset %d: %v", topic, r.Offset, err)
			}
			latest[string(r.Key)] = n
		}
	}
	return latest
}

// restoreMeter is a RestoreListener that totals what was restored.
type restoreMeter struct {
	mu       sync.Mutex
	records  int64
	took     time.Duration
	partials int
}

func (m *restoreMeter) OnRestoreStart(string, int32, string, int64, int64) {}

func (m *restoreMeter) OnBatchRestored(string, int32, string, int64, int) {
	m.mu.Lock()
	m.partials++
	m.mu.Unlock()
}

func (m *restoreMeter) OnRestoreEnd(_ string, _ int32, _ string, total int64, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records += total
	m.took += took
}

func (m *restoreMeter) totals() (int64, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records, m.took
}
