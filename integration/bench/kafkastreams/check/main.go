// Command check proves that the Kafka Streams contender of the benchmarks computes what the
// benchmark protocol says, scenario by scenario, against real Kafka. It is a correctness
// check, not a benchmark: for each scenario it creates fresh topics, produces a few hundred
// records with known keys, values and timestamps, runs the contender as the orchestrator
// does (same flags, its own process), waits for "ready", reads the output until it holds
// what the scenario must produce, stops the contender with SIGTERM and checks that it exits
// 0 having printed nothing on stdout but "ready".
//
//	cd integration && go run ./bench/kafkastreams/check [-scenarios passthrough,count,...]
//
// The broker comes from the test harness, so KAFKA_IMAGE and KAFKA_BOOTSTRAP apply. The
// contender is built by ../build.sh unless -cmd names its command line.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A run is one scenario with the settings the contender gets.
type run struct {
	name       string // shown in the report
	scenario   string // --scenario
	guarantee  string
	commitMs   int
	cacheBytes int
	restart    string // "keep" or "wipe" the state dir and run again; "" not
}

var runs = []run{
	{"passthrough", "passthrough", "at_least_once", 1000, 10 << 20, ""},
	{"latency-eos", "latency", "exactly_once", 100, 10 << 20, ""},
	{"count", "count", "at_least_once", 1000, 10 << 20, ""},
	{"count-nocache", "count", "at_least_once", 1000, 0, ""},
	{"count-eos-100ms", "count", "exactly_once", 100, 10 << 20, ""},
	{"count-eos-1s", "count", "exactly_once", 1000, 10 << 20, ""},
	{"tumbling-count", "tumbling-count", "at_least_once", 1000, 0, ""},
	{"hopping-count-nocache", "hopping-count", "at_least_once", 1000, 0, ""},
	{"hopping-count", "hopping-count", "at_least_once", 1000, 10 << 20, ""},
	{"join", "join", "at_least_once", 1000, 10 << 20, ""},
	{"count-restart", "count", "at_least_once", 1000, 10 << 20, "keep"},
	{"count-restore", "count", "at_least_once", 1000, 10 << 20, "wipe"},
}

const partitions = 8

// Set by flags.
var (
	records, keys, valueSize int
	logDir                   string
)

const (
	// Input timestamps: base + i*step for record i, in produce order, so that every
	// partition's timestamps increase and no window closes before its last record.
	step = 37 * time.Millisecond
)

func main() {
	only := flag.String("scenarios", "", "comma-separated run names (default: all of "+names()+")")
	command := flag.String("cmd", "", "the contender's command line (default: what ../build.sh prints)")
	timeout := flag.Duration("timeout", 90*time.Second, "how long each run may take")
	flag.StringVar(&logDir, "logs", "", "a directory to keep each run's contender stderr in, as NAME.log")
	flag.IntVar(&records, "records", 400, "input records per run")
	flag.IntVar(&keys, "keys", 20, "distinct keys")
	flag.IntVar(&valueSize, "value-bytes", 100, "bytes per value (at least 16)")
	flag.Parse()
	if err := main1(*only, *command, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
}

func names() string {
	var n []string
	for _, r := range runs {
		n = append(n, r.name)
	}
	return strings.Join(n, ",")
}

func main1(only, command string, timeout time.Duration) error {
	selected := runs
	if only != "" {
		selected = nil
		for _, name := range strings.Split(only, ",") {
			i := slices.IndexFunc(runs, func(r run) bool { return r.name == name })
			if i < 0 {
				return fmt.Errorf("no run %q; runs: %s", name, names())
			}
			selected = append(selected, runs[i])
		}
	}
	if command == "" {
		var err error
		if command, err = build(); err != nil {
			return err
		}
	}
	ctx := context.Background()
	cluster, err := kafkatest.Start(ctx)
	if err != nil {
		return err
	}
	defer cluster.Close(context.Background())
	fmt.Printf("broker: %s\ncontender: %s\n", cluster, command)

	failed := 0
	for _, r := range selected {
		began := time.Now()
		err := check(ctx, cluster, strings.Fields(command), r, timeout)
		status := "ok"
		if err != nil {
			status = "FAIL: " + err.Error()
			failed++
		}
		fmt.Printf("%-16s %6.1fs  %s\n", r.name, time.Since(began).Seconds(), status)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs failed", failed, len(selected))
	}
	return nil
}

// build runs build.sh beside this program's directory and returns the command it prints.
func build() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "build.sh")
	cmd := exec.Command(script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

type input struct {
	key, value []byte
	ts         time.Time
}

func check(ctx context.Context, cluster *kafkatest.Cluster, command []string, r run, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.Seeds()...),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return err
	}
	defer client.Close()
	admin := kadm.NewClient(client)

	id := fmt.Sprintf("check-%s-%d", r.name, time.Now().UnixNano())
	in, out, table := id+"-input", id+"-output", id+"-table"
	topics := []string{in, out}
	if r.scenario == "join" {
		topics = append(topics, table)
	}
	for _, t := range topics {
		if _, err := admin.CreateTopic(ctx, partitions, -1, nil, t); err != nil {
			return fmt.Errorf("creating %s: %w", t, err)
		}
	}

	// The table first, older than every stream record, so every join finds its row.
	// The newest timestamp an hour old: brokers refuse timestamps far in the future.
	base := time.Now().Add(-time.Hour - time.Duration(records)*step).Truncate(time.Second)
	tableValues := map[string][]byte{}
	if r.scenario == "join" {
		for k := range keys {
			key := fmt.Sprintf("key-%02d", k)
			tableValues[key] = bytes.Repeat([]byte{'t'}, valueSize-10)
			copy(tableValues[key], "table-"+key)
			client.Produce(ctx, &kgo.Record{Topic: table, Key: []byte(key), Value: tableValues[key], Timestamp: base.Add(-time.Minute)}, nil)
		}
		if err := client.Flush(ctx); err != nil {
			return err
		}
	}
	inputs := make([]input, records)
	for i := range inputs {
		value := bytes.Repeat([]byte{'v'}, valueSize)
		copy(value, fmt.Sprintf("value-%04d-", i))
		inputs[i] = input{key: fmt.Appendf(nil, "key-%02d", (i*7)%keys), value: value, ts: base.Add(time.Duration(i) * step)}
		// The idempotent producer keeps each partition's records, so its timestamps, in order.
		client.Produce(ctx, &kgo.Record{Topic: in, Key: inputs[i].key, Value: inputs[i].value, Timestamp: inputs[i].ts}, nil)
	}
	if err := client.Flush(ctx); err != nil {
		return err
	}

	stateDir, err := os.MkdirTemp("", "check-kafkastreams-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	args := append(slices.Clone(command[1:]),
		"--scenario", r.scenario, "--bootstrap", cluster.Bootstrap(), "--app-id", id,
		"--state-dir", stateDir, "--input", in, "--output", out,
		"--guarantee", r.guarantee, "--commit-interval-ms", strconv.Itoa(r.commitMs),
		"--cache-bytes", strconv.Itoa(r.cacheBytes), "--threads", "1")
	if r.scenario == "join" {
		args = append(args, "--table", table)
	}
	c, err := startContender(ctx, command[0], args, r.name)
	if err != nil {
		return err
	}
	verify := verifier(r.scenario, r.cacheBytes == 0, inputs, tableValues)
	got, err := consume(ctx, cluster.Seeds(), out, verify)
	if err != nil {
		return c.fail(fmt.Errorf("%w (%d output records)", err, len(got)))
	}
	c.outputTook = time.Since(c.ready)
	if err := c.stop(); err != nil {
		return err
	}
	fmt.Printf("  %s: %d output records %.1fs after ready; peak RSS %s; stopped %.1fs after SIGTERM, exit 0\n",
		r.name, len(got), c.outputTook.Seconds(), c.peakRSS, c.stopTook.Seconds())
	if r.restart == "" {
		return nil
	}

	// Restart, with the state kept or wiped, then count one more record: its key's count
	// must go on from the stored (or restored) one.
	if r.restart == "wipe" {
		if err := os.RemoveAll(stateDir); err != nil {
			return err
		}
	}
	restarted := time.Now()
	if c, err = startContender(ctx, command[0], args, r.name+"-restarted"); err != nil {
		return err
	}
	ready := time.Since(restarted)
	probe := input{key: inputs[0].key, value: inputs[0].value, ts: inputs[len(inputs)-1].ts.Add(step)}
	if err := client.ProduceSync(ctx, &kgo.Record{Topic: in, Key: probe.key, Value: probe.value, Timestamp: probe.ts}).FirstErr(); err != nil {
		return c.fail(err)
	}
	inputs = append(inputs, probe)
	got, err = consume(ctx, cluster.Seeds(), out, verifier(r.scenario, r.cacheBytes == 0, inputs, tableValues))
	if err != nil {
		return c.fail(fmt.Errorf("after restarting (state %s): %w (%d output records)", r.restart, err, len(got)))
	}
	output := time.Since(restarted)
	if err := c.stop(); err != nil {
		return err
	}
	fmt.Printf("  %s: restarted with state %s: ready after %.1fs, probe counted after %.1fs; stopped %.1fs after SIGTERM, exit 0\n",
		r.name, map[string]string{"keep": "kept", "wipe": "wiped"}[r.restart], ready.Seconds(), output.Seconds(), c.stopTook.Seconds())
	return nil
}

// A contender is a running contender process whose first stdout line was "ready".
type contender struct {
	cmd        *exec.Cmd
	stderr     bytes.Buffer
	lines      chan string
	exited     chan error
	stopTook   time.Duration
	ready      time.Time
	outputTook time.Duration
	peakRSS    string // VmHWM just before SIGTERM
}

// startContender starts the contender and waits for its "ready" line.
func startContender(ctx context.Context, name string, args []string, logName string) (*contender, error) {
	c := &contender{cmd: exec.Command(name, args...), lines: make(chan string, 16), exited: make(chan error, 1)}
	c.cmd.Stderr = &c.stderr
	var logFile *os.File
	if logDir != "" {
		var err error
		if logFile, err = os.Create(filepath.Join(logDir, logName+".log")); err != nil {
			return nil, err
		}
		c.cmd.Stderr = io.MultiWriter(&c.stderr, logFile)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	// Exactly one of fail and stop receives the exit status.
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		err := c.cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		c.exited <- err
	}()
	select {
	case line, ok := <-c.lines:
		if !ok || line != "ready" {
			return nil, c.fail(fmt.Errorf("first stdout line %q, want \"ready\"", line))
		}
	case <-ctx.Done():
		return nil, c.fail(errors.New("no \"ready\" line in time"))
	}
	c.ready = time.Now()
	return c, nil
}

// fail kills the contender and returns err with the tail of its stderr.
func (c *contender) fail(err error) error {
	c.cmd.Process.Kill()
	<-c.exited
	return fmt.Errorf("%w\ncontender's stderr (tail):\n%s", err, tail(c.stderr.String(), 30))
}

// stop sends SIGTERM and checks that the contender exits 0 with no more stdout.
func (c *contender) stop() error {
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				c.peakRSS = strings.Join(strings.Fields(rest), " ")
			}
		}
	}
	began := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return c.fail(err)
	}
	var extra []string
	for line := range c.lines {
		extra = append(extra, line)
	}
	if err := <-c.exited; err != nil {
		return fmt.Errorf("after SIGTERM: %w\ncontender's stderr (tail):\n%s", err, tail(c.stderr.String(), 30))
	}
	c.stopTook = time.Since(began)
	if len(extra) > 0 {
		return fmt.Errorf("stdout held more than \"ready\": %q", extra)
	}
	return nil
}

// consume reads topic (read_committed) from the start until verify accepts everything read.
func consume(ctx context.Context, seeds []string, topic string, verify func([]*kgo.Record) error) ([]*kgo.Record, error) {
	reader, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	var got []*kgo.Record
	lastErr := errors.New("nothing read")
	var verified time.Time
	for {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := reader.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return got, fmt.Errorf("output never right: %w", lastErr)
		}
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return got, e.Err
			}
		}
		n := len(got)
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		// Checked when caught up, or each second while records keep coming.
		if len(got) == n || time.Since(verified) > time.Second {
			verified = time.Now()
			if lastErr = verify(got); lastErr == nil {
				return got, nil
			}
		}
	}
}

// verifier returns what the output of scenario must satisfy once complete.
// With the record cache off, every update of a count is output: one record per input record
// for count and tumbling-count, one per window a record falls in for hopping-count.
func verifier(scenario string, cacheOff bool, inputs []input, tableValues map[string][]byte) func([]*kgo.Record) error {
	switch scenario {
	case "passthrough", "latency":
		want := map[string]int{}
		for _, in := range inputs {
			v := slices.Clone(in.value)
			v[0] ^= 0x20
			want[fmt.Sprintf("%s|%s|%d", in.key, v, in.ts.UnixMilli())]++
		}
		return exactly(want, func(r *kgo.Record) string {
			return fmt.Sprintf("%s|%s|%d", r.Key, r.Value, r.Timestamp.UnixMilli())
		})
	case "join":
		want := map[string]int{}
		for _, in := range inputs {
			v := append(slices.Clone(in.value), tableValues[string(in.key)]...)
			want[fmt.Sprintf("%s|%s|%d", in.key, v, in.ts.UnixMilli())]++
		}
		return exactly(want, func(r *kgo.Record) string {
			return fmt.Sprintf("%s|%s|%d", r.Key, r.Value, r.Timestamp.UnixMilli())
		})
	case "count":
		want := map[string]int64{}
		for _, in := range inputs {
			want[string(in.key)]++
		}
		return latest(want, cacheOff, func(r *kgo.Record) (string, error) { return string(r.Key), nil })
	case "tumbling-count", "hopping-count":
		size, advance := time.Second, time.Second
		if scenario == "hopping-count" {
			size = 10 * time.Second
		}
		want := map[string]int64{}
		for _, in := range inputs {
			ts := in.ts.UnixMilli()
			last := ts - ts%advance.Milliseconds()
			for start := last; start > ts-size.Milliseconds() && start >= 0; start -= advance.Milliseconds() {
				want[fmt.Sprintf("%s@%d", in.key, start)]++
			}
		}
		return latest(want, cacheOff, func(r *kgo.Record) (string, error) {
			if len(r.Key) < 8 {
				return "", fmt.Errorf("windowed key %q is shorter than 8 bytes", r.Key)
			}
			n := len(r.Key) - 8
			return fmt.Sprintf("%s@%d", r.Key[:n], int64(binary.BigEndian.Uint64(r.Key[n:]))), nil
		})
	}
	panic("no verifier for " + scenario)
}

// exactly accepts output that is, as a multiset of id(record), exactly want.
func exactly(want map[string]int, id func(*kgo.Record) string) func([]*kgo.Record) error {
	return func(got []*kgo.Record) error {
		have := map[string]int{}
		for _, r := range got {
			k := id(r)
			if want[k] == 0 {
				return fmt.Errorf("unexpected output record %.80q", k)
			}
			have[k]++
		}
		if len(got) != total(want) {
			return fmt.Errorf("%d output records, want %d", len(got), total(want))
		}
		for k, n := range want {
			if have[k] != n {
				return fmt.Errorf("output record %.80q %d times, want %d", k, have[k], n)
			}
		}
		return nil
	}
}

// latest accepts output whose last 8-byte big-endian value for each group(record) is want's,
// and whose values for a group never decrease; with everyUpdate, one record per count.
func latest(want map[string]int64, everyUpdate bool, group func(*kgo.Record) (string, error)) func([]*kgo.Record) error {
	return func(got []*kgo.Record) error {
		last := map[string]int64{}
		for _, r := range got {
			g, err := group(r)
			if err != nil {
				return err
			}
			if _, ok := want[g]; !ok {
				return fmt.Errorf("output for unexpected group %q", g)
			}
			if len(r.Value) != 8 {
				return fmt.Errorf("value of %q is %d bytes, want 8", g, len(r.Value))
			}
			n := int64(binary.BigEndian.Uint64(r.Value))
			if n < last[g] {
				return fmt.Errorf("count of %q went down from %d to %d", g, last[g], n)
			}
			last[g] = n
		}
		for g, n := range want {
			if last[g] != n {
				return fmt.Errorf("count of %q is %d, want %d (%d groups)", g, last[g], n, len(want))
			}
		}
		if everyUpdate && len(got) != total(want) {
			return fmt.Errorf("%d output records, want one per update: %d", len(got), total(want))
		}
		return nil
	}
}

func total[N int | int64](m map[string]N) int {
	n := 0
	for _, c := range m {
		n += int(c)
	}
	return n
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
