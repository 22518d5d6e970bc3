package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

const appID = "clicks-app"

// t0 is the time of the first click.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// clicks are the input: user, time after t0.
var clicks = []struct {
	user string
	at   time.Duration
}{{"alice", 0}, {"bob", time.Second}, {"alice", 2 * time.Second}, {"carol", 30 * time.Second}, {"alice", 70 * time.Second}}

// cli runs the command line and returns its exit status, stdout and stderr.
func cli(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runApp counts clicks per user, per user and minute, and per user session (10 s gap)
// on the cluster until every click is processed, with its state in stateDir. It
// returns a function that stops the App and returns Run's error.
func runApp(t *testing.T, ctx context.Context, seeds []string, stateDir string) (stop func() error) {
	t.Helper()
	b := topology.NewBuilder()
	users := topology.GroupByKey(topology.StreamFrom(b, "clicks", serde.String(), serde.String()), "by-user")
	topology.Count(users, "counts")
	topology.CountWindowed(topology.WindowedBy(users, topology.TimeWindowsOfSizeAndGrace(time.Minute, time.Hour)), "minutes")
	topology.CountSession(topology.WindowedBySession(users, topology.SessionWindowsOfInactivityGapAndGrace(10*time.Second, time.Hour)), "sessions")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.ApplicationID(appID), eddy.SeedBrokers(seeds...), eddy.StateDir(stateDir),
		eddy.CommitInterval(50*time.Millisecond), eddy.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx) }()
	for app.Stats().Processed < int64(len(clicks)) {
		select {
		case err := <-ran:
			t.Fatalf("Run ended before processing every click: %v", err)
		case <-ctx.Done():
			t.Fatalf("processed %d clicks of %d", app.Stats().Processed, len(clicks))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return func() error {
		app.Close()
		return <-ran
	}
}

// TestCommandOnARealRun: an App runs on kfake with Pebble; while it runs, state and
// reset refuse; once stopped, state shows every store of every kind through the serdes,
// a dry-run reset prints the plan and changes nothing, and the reset wipes the state,
// deletes the changelogs and rewinds the input.
func TestCommandOnARealRun(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	seeds := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	for _, c := range clicks {
		r := &kgo.Record{Topic: "clicks", Key: []byte(c.user), Value: []byte("page"), Timestamp: t0.Add(c.at)}
		if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	stateDir := t.TempDir()
	stop := runApp(t, ctx, seeds, stateDir)
	bootstrap := strings.Join(seeds, ",")
	state := []string{"state", "-state-dir", stateDir, "-application-id", appID}

	code, _, stderr := cli(ctx, append(state, "tasks")...)
	if code != exitError || !strings.Contains(stderr, "in use by another instance") {
		t.Errorf("state while the App runs: exit %d, %q; want 1 and the lock's error", code, stderr)
	}
	code, _, stderr = cli(ctx, "reset", "-bootstrap", bootstrap, "-application-id", appID, "-dry-run")
	if code != exitError || !strings.Contains(stderr, "active members") {
		t.Errorf("reset while the App runs: exit %d, %q; want 1 and the active members", code, stderr)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// A new client for each look at the cluster: a client keeps the metadata it read for
	// a while (kgo.MetadataMinAge).
	adm := func() *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	// A cleanly stopped task's committed changelog offsets are the changelogs' ends.
	listed, err := adm().ListEndOffsets(ctx, appID+"-counts-changelog", appID+"-minutes-changelog", appID+"-sessions-changelog")
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		ends[strings.TrimSuffix(strings.TrimPrefix(o.Topic, appID+"-"), "-changelog")] = o.Offset
	})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tasks"}, fmt.Sprintf(`task 0_0
  store counts kind=key-value entries=3 changelog_offset=%d
  store minutes kind=window entries=4 changelog_offset=%d
  store sessions kind=session entries=4 changelog_offset=%d
`, ends["counts"], ends["minutes"], ends["sessions"])},
		{[]string{"get", "-task", "0_0", "-store", "counts", "-key", "alice", "-key-serde", "string", "-value-serde", "int64", "-timestamped"},
			"key=\"alice\" timestamp=2024-01-01T00:01:10.000Z value=3\n"},
		{[]string{"scan", "-task", "0_0", "-store", "counts", "-from", "b", "-to", "carol", "-value-serde", "int64", "-timestamped"},
			"key=\"bob\" timestamp=2024-01-01T00:00:01.000Z value=1\nkey=\"carol\" timestamp=2024-01-01T00:00:30.000Z value=1\n"},
		{[]string{"scan", "-task", "0_0", "-store", "counts", "-limit", "1"},
			fmt.Sprintf("key=\"alice\" value=0x%016x%016x\n", t0.Add(70*time.Second).UnixMilli(), 3)},
		{[]string{"scan", "-task", "0_0", "-store", "minutes", "-value-serde", "int64", "-timestamped"}, `key="alice" window_start=2024-01-01T00:00:00.000Z timestamp=2024-01-01T00:00:02.000Z value=2
key="alice" window_start=2024-01-01T00:01:00.000Z timestamp=2024-01-01T00:01:10.000Z value=1
key="bob" window_start=2024-01-01T00:00:00.000Z timestamp=2024-01-01T00:00:01.000Z value=1
key="carol" window_start=2024-01-01T00:00:00.000Z timestamp=2024-01-01T00:00:30.000Z value=1
`},
		{[]string{"get", "-task", "0_0", "-store", "minutes", "-key", "alice", "-value-serde", "int64", "-timestamped"}, `key="alice" window_start=2024-01-01T00:00:00.000Z timestamp=2024-01-01T00:00:02.000Z value=2
key="alice" window_start=2024-01-01T00:01:00.000Z timestamp=2024-01-01T00:01:10.000Z value=1
`},
		{[]string{"scan", "-task", "0_0", "-store", "sessions", "-value-serde", "int64"}, `key="alice" session_start=2024-01-01T00:00:00.000Z session_end=2024-01-01T00:00:02.000Z value=2
key="alice" session_start=2024-01-01T00:01:10.000Z session_end=2024-01-01T00:01:10.000Z value=1
key="bob" session_start=2024-01-01T00:00:01.000Z session_end=2024-01-01T00:00:01.000Z value=1
key="carol" session_start=2024-01-01T00:00:30.000Z session_end=2024-01-01T00:00:30.000Z value=1
`},
	} {
		code, stdout, stderr := cli(ctx, append(state, c.args...)...)
		if code != exitOK || stdout != c.want {
			t.Errorf("eddy %s: exit %d, stderr %q, stdout\n%s\nwant\n%s", strings.Join(c.args, " "), code, stderr, stdout, c.want)
		}
	}
	code, _, stderr = cli(ctx, append(state, "get", "-task", "0_0", "-store", "counts", "-key", "dave")...)
	if code != exitError || !strings.Contains(stderr, `no key "dave"`) {
		t.Errorf("get of an absent key: exit %d, %q", code, stderr)
	}

	// A dry run prints the plan and changes nothing.
	topicsAndOffsets := func() ([]string, int64) {
		a := adm()
		topics, err := a.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		offsets, err := a.FetchOffsets(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offsets.Lookup("clicks", 0)
		return topics.Names(), o.At
	}
	changelogs := []string{appID + "-counts-changelog", appID + "-minutes-changelog", appID + "-sessions-changelog"}
	topics, committed := topicsAndOffsets()
	if want := append([]string{"clicks"}, changelogs...); !slices.Equal(topics, want) || committed != 5 {
		t.Fatalf("after the run: topics %q, committed %d; want %q and 5", topics, committed, want)
	}
	resetArgs := []string{"reset", "-bootstrap", bootstrap, "-application-id", appID, "-state-dir", stateDir}
	code, stdout, stderr := cli(ctx, append(resetArgs, "-dry-run")...)
	appDir := filepath.Join(stateDir, appID)
	wantPlan := `Dry run: nothing is changed.
Application clicks-app: its group has no active members.
Input topics: reset to the earliest offsets:
  clicks partition 0: offset 0 (committed: 5)
Intermediate topics: none.
Internal topics deleted:
  clicks-app-counts-changelog
  clicks-app-minutes-changelog
  clicks-app-sessions-changelog
Local state wiped in ` + appDir + `:
  0_0
`
	if code != exitOK || stdout != wantPlan {
		t.Errorf("dry run: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, stderr, stdout, wantPlan)
	}
	if got, gotCommitted := topicsAndOffsets(); !slices.Equal(got, topics) || gotCommitted != 5 {
		t.Errorf("the dry run changed the cluster: topics %q, committed %d", got, gotCommitted)
	}
	if _, err := os.Stat(filepath.Join(appDir, "0_0")); err != nil {
		t.Errorf("the dry run changed the state directory: %v", err)
	}

	code, stdout, stderr = cli(ctx, resetArgs...)
	if want := strings.TrimPrefix(wantPlan, "Dry run: nothing is changed.\n") + "Done.\n"; code != exitOK || stdout != want {
		t.Errorf("reset: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, stderr, stdout, want)
	}
	if got, gotCommitted := topicsAndOffsets(); !slices.Equal(got, []string{"clicks"}) || gotCommitted != 0 {
		t.Errorf("after the reset: topics %q, committed %d; want [clicks] and 0", got, gotCommitted)
	}
	if code, stdout, _ := cli(ctx, append(state, "tasks")...); code != exitOK || stdout != "no task has local state\n" {
		t.Errorf("state tasks after the reset: exit %d, %q", code, stdout)
	}
}

// TestUsage: mistakes on the command line exit with 2 and say what is wrong; -h exits
// with 0.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	state := []string{"state", "-state-dir", dir, "-application-id", "a"}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"frob"}, exitUsage, `unknown command "frob"`},
		{[]string{"-h"}, exitOK, ""},
		{[]string{"reset", "-h"}, exitOK, "Usage: eddy reset"},
		{[]string{"reset", "-application-id", "a"}, exitUsage, "-bootstrap is required"},
		{[]string{"reset", "-bootstrap", "b:9092"}, exitUsage, "-application-id is required"},
		{[]string{"reset", "-bootstrap", "b:9092", "-application-id", "a", "-to-datetime", "yesterday"}, exitUsage, "-to-datetime"},
		{[]string{"reset", "-bootstrap", "b:9092", "-application-id", "a", "-to-datetime", "2024-01-01T00:00:00Z", "-by-duration", "1h"}, exitUsage, "exclude each other"},
		{[]string{"reset", "-bootstrap", "b:9092", "-application-id", "a", "-nope"}, exitUsage, "-nope"},
		{[]string{"state", "-h"}, exitOK, "Usage: eddy state"},
		{[]string{"state", "-application-id", "a", "tasks"}, exitUsage, "-state-dir is required"},
		{state, exitUsage, "a command is required"},
		{append(state, "frob"), exitUsage, `unknown command "frob"`},
		{append(state, "get", "-h"), exitOK, "-key-serde"},
		{append(state, "get", "-task", "0_0", "-store", "s"), exitUsage, "-key is required"},
		{append(state, "scan", "-store", "s"), exitUsage, "-task is required"},
		{append(state, "scan", "-task", "0_0", "-store", "s", "-key-serde", "avro"), exitUsage, `unknown serde "avro"`},
		{append(state, "scan", "-task", "0_0", "-store", "s", "-key-serde", "int64", "-from", "x"), exitUsage, `"x" is not a int64`},
		{append(state, "tasks"), exitError, "no state directory"},
	} {
		code, stdout, stderr := cli(t.Context(), c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("eddy %q: exit %d, output %q; want %d and %q", c.args, code, stdout+stderr, c.code, c.want)
		}
	}
}
