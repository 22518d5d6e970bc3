package eddy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func passThrough(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"in"})
	topology.AddProcessor(b, "noop", func() processor.Processor[string, string, string, string] {
		return processor.ProcessFunc[string, string, string, string](func(processor.Context[string, string], processor.Record[string, string]) error { return nil })
	}, "in")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestNewReportsEveryConfigurationProblem(t *testing.T) {
	_, err := New(passThrough(t),
		ApplicationID("bad id!"),
		CommitInterval(0),
		PollRecords(-1),
		BufferedRecordsPerPartition(0),
		ReplicationFactor(0),
		StoreEngine(nil),
		OnDeserializationError(nil),
		OnProcessingError(nil),
		OnProductionError(nil),
	)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("error %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"ApplicationID", "SeedBrokers", "CommitInterval", "PollRecords", "BufferedRecordsPerPartition", "ReplicationFactor", "StoreEngine",
		"OnDeserializationError", "OnProcessingError", "OnProductionError"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestNewRejectsAMissingTopology(t *testing.T) {
	if _, err := New(nil, ApplicationID("a"), SeedBrokers("127.0.0.1:9092")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("error %v, want ErrInvalidConfig", err)
	}
}

func TestNewAcceptsAValidConfiguration(t *testing.T) {
	app, err := New(passThrough(t), ApplicationID("wordcount.v2_test-1"), SeedBrokers("127.0.0.1:9092"), StateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	app.Close() // never ran: returns at once
	if got := app.Stats(); got != (Stats{}) {
		t.Errorf("stats of an app that never ran: %+v", got)
	}
}

func TestStateDirectoryAdmitsOneInstance(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir); !errors.Is(err, ErrStateDirLocked) {
		t.Fatalf("second lock: error %v, want ErrStateDirLocked", err)
	}
	unlock()
	again, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}

func TestExactlyOnceCommitsEvery100msUnlessToldOtherwise(t *testing.T) {
	app, err := New(passThrough(t), ApplicationID("a"), SeedBrokers("127.0.0.1:9092"), ExactlyOnce())
	if err != nil {
		t.Fatal(err)
	}
	if app.cfg.commitInterval != 100*time.Millisecond {
		t.Errorf("exactly-once commit interval %s, want 100ms", app.cfg.commitInterval)
	}
	app, err = New(passThrough(t), ApplicationID("a"), SeedBrokers("127.0.0.1:9092"), CommitInterval(time.Second), ExactlyOnce())
	if err != nil {
		t.Fatal(err)
	}
	if app.cfg.commitInterval != time.Second {
		t.Errorf("exactly-once commit interval %s, want the 1s given", app.cfg.commitInterval)
	}
	for _, idle := range []time.Duration{-time.Millisecond, 0, time.Second} {
		if _, err := New(passThrough(t), ApplicationID("a"), SeedBrokers("127.0.0.1:9092"), ExactlyOnce(), MaxTaskIdle(idle)); err != nil {
			t.Errorf("ExactlyOnce with MaxTaskIdle(%s): %v", idle, err)
		}
	}
}

func TestInstanceIDIsKeptInTheStateDirectory(t *testing.T) {
	dir := t.TempDir()
	first, err := instanceID(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := instanceID(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := instanceID(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || first != again || first == other {
		t.Errorf("instance ids %q, %q (same directory), %q (another): want one stable id per directory", first, again, other)
	}
}

// A nil option is a configuration error, reported with the others, not a panic.
func TestNewReportsANilOptionAsAConfigurationError(t *testing.T) {
	var unset Opt
	_, err := New(passThrough(t), ApplicationID("a"), unset, SeedBrokers("127.0.0.1:9092"), nil, CommitInterval(0))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("error %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"option 2 of New is nil", "option 4 of New is nil", "CommitInterval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Every bad seed address is reported at once; good ones, IPv6 included, are not.
func TestNewChecksEverySeedBrokerAddress(t *testing.T) {
	good := []string{"127.0.0.1:9092", "kafka-0.kafka.svc:9093", "[::1]:9092", "localhost:65535"}
	bad := map[string]string{
		"localhost":       "want host:port",
		"":                "want host:port",
		"kafka:":          `port "" is not a number`,
		"kafka:http":      `port "http" is not a number`,
		"kafka:0":         `port "0" is not a number from 1 to 65535`,
		"kafka:65536":     `port "65536" is not`,
		":9092":           "no host",
		"::1:9092":        "want host:port",
		"kafka:9092:9093": "want host:port",
	}
	seeds := slices.Clone(good)
	for addr := range bad {
		seeds = append(seeds, addr)
	}
	_, err := New(passThrough(t), ApplicationID("a"), SeedBrokers(seeds...))
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("error %v, want ErrInvalidConfig", err)
	}
	for addr, why := range bad {
		if want := fmt.Sprintf("SeedBrokers address %q: %s", addr, why); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	for _, addr := range good {
		if strings.Contains(err.Error(), fmt.Sprintf("%q", addr)) {
			t.Errorf("error %q names the good address %s", err, addr)
		}
	}
	if _, err := New(passThrough(t), ApplicationID("a"), SeedBrokers(good...)); err != nil {
		t.Errorf("New with good seeds: %v", err)
	}
}
