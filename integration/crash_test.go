package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// childInstanceEnv holds, in a child process, the JSON childConfig of the instance to run.
const childInstanceEnv = "EDDY_TEST_CHILD_INSTANCE"

type childConfig struct {
	Brokers  []string
	In, Out  string
	App      string
	StateDir string
	// DeadLetter, if set, makes the instance continue past undecodable records and
	// processing errors, writing them to this topic.
	DeadLetter string
}

// tally is the state and the output of the crash test's topology: the count and the sum
// of the amounts of one key.
type tally struct {
	Count int64 `json:"count"`
	Sum   int64 `json:"sum"`
}

var tallyStore = store.KeyValue("tallies", serde.String(), serde.JSON[tally]())

type tallier struct{ kv store.KV[string, tally] }

func (p *tallier) Init(ctx processor.InitContext) error {
	p.kv = tallyStore.From(ctx)
	return nil
}

// Process panics on an amount of 0, which only the dead-letter test writes.
func (p *tallier) Process(ctx processor.Context[string, tally], r processor.Record[string, int64]) error {
	if r.Value == 0 {
		panic("an amount of 0")
	}
	t, _, err := p.kv.Get(r.Key)
	if err != nil {
		return err
	}
	t.Count++
	t.Sum += r.Value
	if err := p.kv.Put(r.Key, t); err != nil {
		return err
	}
	ctx.Forward(processor.Record[string, tally]{Key: r.Key, Value: t, Timestamp: r.Timestamp})
	return nil
}

func tallyTopology(in, out string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{in})
	topology.AddProcessor(b, "tally", func() processor.Processor[string, int64, string, tally] { return &tallier{} }, "in")
	topology.AddStore(b, tallyStore, "tally")
	topology.AddSink(b, "out", out, serde.String(), serde.JSON[tally](), []string{"tally"})
	return b.Build()
}

// runChildInstance runs one exactly-once instance until SIGTERM (or a kill).
func runChildInstance() int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childInstanceEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child instance:", err)
		return 2
	}
	topo, err := tallyTopology(cfg.In, cfg.Out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child instance:", err)
		return 2
	}
	opts := []eddy.Opt{
		eddy.ApplicationID(cfg.App),
		eddy.SeedBrokers(cfg.Brokers...),
		eddy.StateDir(cfg.StateDir),
		eddy.ExactlyOnce(),
		// A killed member holds its tasks until its session times out: the broker's
		// minimum, so that the test spends its time processing, not waiting.
		eddy.ClientOptions(kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(time.Second)),
		eddy.OnRestore(restorePrinter{}),
	}
	if cfg.DeadLetter != "" {
		opts = append(opts, eddy.DeadLetterTopic(cfg.DeadLetter),
			eddy.OnDeserializationError(processor.LogAndContinue), eddy.OnProcessingError(processor.LogAndContinue))
	}
	app, err := eddy.New(topo, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child instance:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child instance:", err)
		return 1
	}
	return 0
}

// restorePrinter writes a line per restored store partition, for the parent test.
type restorePrinter struct{}

func (restorePrinter) OnRestoreStart(string, int32, string, int64, int64) {}
func (restorePrinter) OnBatchRestored(string, int32, string, int64, int)  {}
func (restorePrinter) OnRestoreEnd(topic string, partition int32, store string, total int64, took time.Duration) {
	fmt.Fprintf(os.Stderr, "%s %d %d %d\n", restoredLine, partition, total, took.Microseconds())
}

// restoredLine starts a restorePrinter line: partition, records, microseconds.
const restoredLine = "RESTORED"

// child is an instance process.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // how it exited, once exited is closed
}

func startChild(t *testing.T, cfg childConfig, logPath string) *child {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childInstanceEnv+"="+string(b))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	return c
}

// signal sends sig to the process, if it still runs, and waits for it to exit.
func (c *child) signal(sig syscall.Signal) error {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Signal(sig)
		<-c.exited
	}
	return c.err
}

// eosRig runs exactly-once instance processes on the tally topology, with input flowing
// from the test, and checks the committed output.
type eosRig struct {
	t        *testing.T
	cluster  *kafkatest.Cluster
	in, out  string
	logDir   string
	configs  []childConfig
	children []*child

	mu       sync.Mutex
	input    map[string][]int64 // each key's amounts, in the order the broker acknowledged them
	produced int
	// poison are the records that the instances cannot process (with poisonEvery), as
	// the broker acknowledged them.
	poison []*kgo.Record

	stopInput func()
	inputDone chan error
}

// newEOSRig starts instances processes and input over keys keys, produced as fast as the
// broker acknowledges records one at a time, with a 500 µs pause after each.
func newEOSRig(t *testing.T, instances, partitions, keys int) *eosRig {
	t.Helper()
	return newPacedEOSRig(t, instances, partitions, keys, 0)
}

// newPacedEOSRig is newEOSRig with the input paced to rate records per second (as far as
// acknowledgements one at a time allow), or unpaced if rate is 0.
func newPacedEOSRig(t *testing.T, instances, partitions, keys, rate int) *eosRig {
	t.Helper()
	return newPoisonedEOSRig(t, instances, partitions, keys, rate, "", 0)
}

// newPoisonedEOSRig is newPacedEOSRig whose every poisonEvery-th input record (if not 0)
// is poison, an undecodable amount and an amount of 0 (a panic) in turn, and whose
// instances continue past it writing it to the topic deadLetter.
func newPoisonedEOSRig(t *testing.T, instances, partitions, keys, rate int, deadLetter string, poisonEvery int) *eosRig {
	t.Helper()
	cluster := kafka.Cluster(t)
	r := &eosRig{
		t:         t,
		cluster:   cluster,
		in:        cluster.NewTopic(t, int32(partitions), nil),
		out:       cluster.NewTopic(t, int32(partitions), nil),
		logDir:    t.TempDir(),
		input:     map[string][]int64{},
		inputDone: make(chan error, 1),
	}
	for i := range instances {
		r.configs = append(r.configs, childConfig{Brokers: cluster.Seeds(), In: r.in, Out: r.out, App: r.in + "-app", StateDir: t.TempDir(), DeadLetter: deadLetter})
		r.children = append(r.children, startChild(t, r.configs[i], r.logPath(i)))
	}
	t.Cleanup(func() {
		for _, c := range r.children {
			c.signal(syscall.SIGKILL)
		}
	})

	producer := cluster.Client(t, kgo.DefaultProduceTopic(r.in))
	ctx, cancel := context.WithCancel(t.Context())
	r.stopInput = cancel
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		start := time.Now()
		var err error
		for n := 1; ctx.Err() == nil && err == nil; n++ {
			key := fmt.Sprintf("key-%03d", rng.IntN(keys))
			if poisonEvery > 0 && n%poisonEvery == 0 {
				value, _ := serde.Int64().Serialize(r.in, 0)
				if n/poisonEvery%2 == 1 {
					value = []byte("undecodable")
				}
				rec := kgo.KeySliceRecord([]byte(key), value)
				rec.Headers = []kgo.RecordHeader{{Key: "n", Value: []byte(strconv.Itoa(n))}}
				if err = producer.ProduceSync(t.Context(), rec).FirstErr(); err == nil {
					r.mu.Lock()
					r.poison = append(r.poison, rec)
					r.mu.Unlock()
				}
				continue
			}
			amount := int64(1 + rng.IntN(100))
			value, _ := serde.Int64().Serialize(r.in, amount)
			if err = producer.ProduceSync(t.Context(), kgo.KeySliceRecord([]byte(key), value)).FirstErr(); err == nil {
				r.mu.Lock()
				r.input[key] = append(r.input[key], amount)
				r.produced++
				r.mu.Unlock()
			}
			if rate > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(n) * time.Second / time.Duration(rate))))
			} else {
				time.Sleep(500 * time.Microsecond)
			}
		}
		r.inputDone <- err
	}()
	return r
}

func (r *eosRig) logPath(i int) string {
	return filepath.Join(r.logDir, fmt.Sprintf("instance-%d.log", i))
}

// restart kills instance i with SIGKILL and starts it again on its state directory.
func (r *eosRig) restart(i int) {
	r.t.Helper()
	select {
	case <-r.children[i].exited:
		r.t.Fatalf("instance %d exited before it was killed: %v; the logs:\n%s", i, r.children[i].err, tailLogs(r.logDir))
	default:
	}
	r.children[i].signal(syscall.SIGKILL)
	r.children[i] = startChild(r.t, r.configs[i], r.logPath(i))
}

// endInput stops the input and fails the test if producing it failed. Read r.input only
// after it.
func (r *eosRig) endInput() {
	r.t.Helper()
	r.stopInput()
	if err := <-r.inputDone; err != nil {
		r.t.Fatalf("producing input: %v", err)
	}
}

// wantCounts returns each key's number of input records. REQUIRES: endInput.
func (r *eosRig) wantCounts() map[string]int64 {
	counts := make(map[string]int64, len(r.input))
	for key, amounts := range r.input {
		counts[key] = int64(len(amounts))
	}
	return counts
}

// stopInstances stops every instance with SIGTERM and fails the test unless each exits
// cleanly.
func (r *eosRig) stopInstances() {
	r.t.Helper()
	for i, c := range r.children {
		if err := c.signal(syscall.SIGTERM); err != nil {
			r.t.Errorf("instance %d did not stop cleanly: %v; the logs:\n%s", i, err, tailLogs(r.logDir))
		}
	}
}

// finish stops the input, reads the output read_committed until every key has its
// final count, checks that every key's counts are exactly 1..n and its final sum is
// right, stops the instances, and returns the number of output records.
func (r *eosRig) finish() (records int) {
	t := r.t
	t.Helper()
	r.endInput()
	wantCount := r.wantCounts()
	reader := r.cluster.Client(t, kgo.ConsumeTopics(r.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	emitted := map[string][]tally{}
	latest := map[string]int64{}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for !maps.Equal(latest, wantCount) {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after 3 minutes the output is not complete: %d of %d keys have their final count; the logs:\n%s",
				countEqual(latest, wantCount), len(wantCount), tailLogs(r.logDir))
		}
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		for _, rec := range fetches.Records() {
			var v tally
			if err := json.Unmarshal(rec.Value, &v); err != nil {
				t.Fatal(err)
			}
			key := string(rec.Key)
			emitted[key] = append(emitted[key], v)
			latest[key] = v.Count
			if v.Count > wantCount[key] {
				t.Fatalf("%s: count %d exceeds the %d input records of the key: records were processed twice", key, v.Count, wantCount[key])
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(r.input)) {
		seq := emitted[key]
		records += len(seq)
		for i, v := range seq {
			if v.Count != int64(i+1) {
				t.Errorf("%s: count %d at position %d of %d emitted: a gap or a repeat", key, v.Count, i+1, len(seq))
				break
			}
		}
		var wantSum int64
		for _, amount := range r.input[key] {
			wantSum += amount
		}
		if last := seq[len(seq)-1]; last.Sum != wantSum {
			t.Errorf("%s: final sum %d, want %d", key, last.Sum, wantSum)
		}
	}
	r.stopInstances()
	return records
}

// TestCrashLoopExactlyOnce runs three exactly-once instances as processes on a count and
// sum per key while input flows, kills a random one with SIGKILL every few seconds and
// restarts it on its state directory, many times. Read committed, every key's counts
// must then be exactly 1, 2, ..., n, and its final sum the sum of its input.
func TestCrashLoopExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes for a minute or two; skipped with -short")
	}
	const kills = 8
	rig := newEOSRig(t, 3, 6, 200)
	rng := rand.New(rand.NewPCG(3, 4))
	for range kills {
		time.Sleep(time.Duration(2000+rng.IntN(2000)) * time.Millisecond)
		rig.restart(rng.IntN(len(rig.children)))
	}
	records := rig.finish()
	t.Logf("crash loop: %d kills (SIGKILL) of 3 instance processes; %d input records, %d committed output records over %d keys; duplicates and gaps: none (any would have failed the test)",
		kills, rig.produced, records, len(rig.input))
}

// TestStalledInstanceIsFenced stops an exactly-once instance with SIGSTOP for longer than
// its session timeout, so that its tasks move to the other instance, then lets it run
// again: whatever it had in flight must not be committed, so the committed output still
// counts every record exactly once.
func TestStalledInstanceIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("stalls a process past its session timeout; skipped with -short")
	}
	rig := newEOSRig(t, 2, 4, 100)
	time.Sleep(4 * time.Second)
	zombie := rig.children[0].cmd.Process
	if err := zombie.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(12 * time.Second) // past the 6 s session timeout and the rebalance after it
	if err := zombie.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	records := rig.finish()

	log, err := os.ReadFile(rig.logPath(0))
	if err != nil {
		t.Fatal(err)
	}
	// Depending on what it was doing when it stopped, the zombie finds out by an aborted
	// transaction, by losing its tasks, or by a fenced producer that makes it rejoin.
	fenced := 0
	for _, sign := range []string{"transaction aborted", "tasks lost", "rejoining the group"} {
		fenced += strings.Count(string(log), sign)
	}
	if fenced == 0 {
		t.Errorf("the stalled instance's log shows no aborted transaction, lost tasks or rejoin:\n%s", tailLogs(rig.logDir))
	}
	t.Logf("stalled instance: %d committed output records over %d keys, none twice; the zombie's log has %d aborts, losses or rejoins",
		records, len(rig.input), fenced)
}

func countEqual(a, b map[string]int64) int {
	n := 0
	for k, v := range b {
		if a[k] == v {
			n++
		}
	}
	return n
}

// tailLogs returns the last lines of every instance log in dir.
func tailLogs(dir string) string {
	var sb strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		fmt.Fprintf(&sb, "== %s\n%s\n", filepath.Base(f), strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return sb.String()
}
