package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/integration/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// result is one contender's figures on one row.
type result struct {
	row       row
	contender string
	skip      string // why there are no figures
	err       error

	records            int
	seconds            float64 // first to last output append
	bytes              int64   // input key and value bytes
	stats              stats
	p50, p99, p999     time.Duration
	latencySamples     int
	restart, restoreIn time.Duration
	changelogRecords   int64
	slowestAck         time.Duration // latency: the slowest acknowledgement of an input record
	fromJoin           bool          // seconds run from the group's join, not from the first output
	outputOffsets      int64         // end offsets of the output (records, and transaction markers under EOS)
	restoreNA          string
}

// median returns the run with the median figure (see figure), or the first failed run.
func median(runs []*result) *result {
	for _, r := range runs {
		if r.err != nil {
			return r
		}
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b *result) int { return cmp.Compare(figure(a), figure(b)) })
	return sorted[len(sorted)/2]
}

func (r *result) rate() float64 {
	if r.seconds <= 0 {
		return 0
	}
	return float64(r.records) / r.seconds
}

// bench holds what every run uses.
type bench struct {
	c        config
	cluster  *kafkatest.Cluster
	client   *kgo.Client // the one producer of every input, and reader of results
	admin    *kadm.Client
	tmp      string
	logs     string // the contenders' stderr, kept
	nonce    string
	baseTime time.Time
}

func run(ctx context.Context, c config) error {
	integrationDir, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(integrationDir, "kafkatest")); err != nil {
		return fmt.Errorf("run from the integration module's directory (%s has no kafkatest)", integrationDir)
	}
	tmp, err := os.MkdirTemp("", "eddy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	contenders, err := buildContenders(ctx, c.contenders, integrationDir, c.kafkaStreamsDir, tmp)
	if err != nil {
		return err
	}
	sets, rows := matrix(c)
	if len(rows) == 0 {
		return fmt.Errorf("-scenarios %v selects nothing", c.scenarios)
	}

	cluster, err := kafkatest.Start(ctx, kafkatest.Heap("-Xms1g -Xmx1g"))
	if err != nil {
		return err
	}
	defer cluster.Close(context.Background())
	fmt.Println("broker:", cluster)

	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.Seeds()...),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100_000), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer client.Close()
	var nonce [3]byte
	_, _ = rand.Read(nonce[:])
	b := &bench{c: c, cluster: cluster, client: client, admin: kadm.NewClient(client), tmp: tmp,
		nonce: hex.EncodeToString(nonce[:]), baseTime: time.Now().Truncate(time.Second)}
	b.logs = filepath.Join(os.TempDir(), "eddy-bench-logs-"+b.nonce)
	if err := os.MkdirAll(b.logs, 0o755); err != nil {
		return err
	}
	fmt.Println("contender logs (stderr) in", b.logs)
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			return err
		}
	}

	for _, d := range sets {
		if err := b.preload(ctx, d); err != nil {
			return err
		}
	}
	tables := map[*dataset]string{}
	for _, r := range rows {
		if r.scenario == "join" && tables[r.input] == "" {
			if tables[r.input], err = b.preloadTable(ctx, r.input); err != nil {
				return err
			}
		}
	}
	if c.warmup && len(sets) > 0 {
		for _, ct := range contenders {
			if ct.skip == "" {
				fmt.Printf("warm-up: an unreported %s pass-through\n", ct.name)
				warm := row{id: "warmup", scenario: "passthrough", kind: throughput, input: sets[0], guarantee: "at_least_once", commitMs: c.commitMs}
				if res := b.throughput(ctx, ct, warm, ""); res.err != nil {
					return fmt.Errorf("warm-up: %w", res.err)
				}
				break
			}
		}
	}

	var results []*result
	for _, r := range rows {
		for _, ct := range contenders {
			res := &result{row: r, contender: ct.name, skip: ct.skip}
			if ct.skip == "" {
				var runs []*result
				for attempt := range max(1, c.repeat) {
					r.attempt = attempt
					switch r.kind {
					case throughput:
						table := ""
						if r.scenario == "join" {
							table = tables[r.input]
						}
						res = b.throughput(ctx, ct, r, table)
					case latency:
						res = b.latency(ctx, ct, r)
					case restore:
						res = b.restore(ctx, ct, r)
					}
					if c.repeat > 1 {
						fmt.Printf("  %s\n", progressLine(res))
					}
					runs = append(runs, res)
				}
				res = median(runs)
			}
			fmt.Println(progressLine(res))
			results = append(results, res)
		}
	}
	report := table(results)
	fmt.Println()
	fmt.Println(report)
	if c.out != "" {
		if err := writeReport(c, cluster, contenders, sets, report); err != nil {
			return err
		}
		fmt.Println("written to", c.out)
	}
	return nil
}

// key returns the key of record i of a dataset of keys keys: a stride through the key
// space, so that every key appears once in any keys consecutive records.
func key(i, keys int) []byte { return fmt.Appendf(nil, "k%07d", (i*7919)%keys) }

// values returns a source of value bytes of n bytes each, varying by record.
func values(n int) func(i int) []byte {
	pattern := make([]byte, n+251)
	_, _ = rand.Read(pattern)
	return func(i int) []byte { return pattern[i%251 : i%251+n] }
}

func (b *bench) createTopic(ctx context.Context, name string, configs map[string]*string) error {
	if _, err := b.admin.CreateTopic(ctx, b.c.partitions, -1, configs, name); err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	// Until every partition has a leader in metadata, a client producing to the topic
	// may wait for its next metadata refresh: seconds that would count as processing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		topics, err := b.admin.ListTopics(ctx, name)
		if err == nil {
			d := topics[name]
			led := d.Err == nil && len(d.Partitions) == int(b.c.partitions)
			for _, p := range d.Partitions {
				led = led && p.Err == nil && p.Leader >= 0
			}
			if led {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s: no leader on every partition after 30 s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var logAppendTime = map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")}

// preload produces d's records: timestamps from baseTime, 100 records per millisecond
// (1,000,000 records span 10 s of event time).
func (b *bench) preload(ctx context.Context, d *dataset) error {
	d.topic = "bench-in-" + d.name + "-" + b.nonce
	if err := b.createTopic(ctx, d.topic, nil); err != nil {
		return err
	}
	began := time.Now()
	value := values(d.valueBytes)
	var firstErr error
	for i := range d.records {
		r := &kgo.Record{Topic: d.topic, Key: key(i, d.keys), Value: value(i), Timestamp: b.baseTime.Add(time.Duration(i/100) * time.Millisecond)}
		b.client.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	if err := b.client.Flush(ctx); err != nil {
		return err
	}
	if firstErr != nil {
		return fmt.Errorf("preloading %s: %w", d.topic, firstErr)
	}
	fmt.Printf("input %s: %s, preloaded in %s\n", d.topic, d, time.Since(began).Round(time.Millisecond))
	return nil
}

// preloadTable produces the join's table for d: every key once, values of d's size,
// timestamped a minute before the stream so that time-ordered processing reads it first.
func (b *bench) preloadTable(ctx context.Context, d *dataset) (string, error) {
	topic := "bench-table-" + d.name + "-" + b.nonce
	if err := b.createTopic(ctx, topic, nil); err != nil {
		return "", err
	}
	value := values(d.valueBytes)
	for i := range d.keys {
		b.client.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%07d", i), Value: value(i + 7), Timestamp: b.baseTime.Add(-time.Minute)}, nil)
	}
	if err := b.client.Flush(ctx); err != nil {
		return "", err
	}
	fmt.Printf("table %s: %d keys\n", topic, d.keys)
	return topic, nil
}

// runArgs returns the common flags of contender ct on row r, with a fresh output topic
// (created with outputConfigs) and state directory.
func (b *bench) runArgs(ctx context.Context, ct *contender, r row, input string, outputConfigs map[string]*string) (args, error) {
	id := strings.NewReplacer("/", "-").Replace(r.id)
	if r.attempt > 0 {
		id += fmt.Sprintf("-%d", r.attempt+1)
	}
	a := args{
		scenario: r.scenario, bootstrap: b.cluster.Seeds()[0],
		appID:     fmt.Sprintf("bench-%s-%s-%s", id, ct.name, b.nonce),
		input:     input,
		guarantee: r.guarantee, commitMs: r.commitMs, cacheBytes: r.cacheBytes,
	}
	a.output = a.appID + "-out"
	if b.c.profileDir != "" && ct.name != "kafka-streams" {
		a.cpuProfile = filepath.Join(b.c.profileDir, a.appID+".cpu.pprof")
	}
	a.stateDir = filepath.Join(b.tmp, "state", a.appID)
	if err := os.MkdirAll(a.stateDir, 0o755); err != nil {
		return a, err
	}
	return a, b.createTopic(ctx, a.output, outputConfigs)
}

// cleanUp deletes the topics of a run: its output and the internal topics of its app id.
func (b *bench) cleanUp(ctx context.Context, a args) {
	topics, err := b.admin.ListTopics(ctx)
	if err != nil {
		return
	}
	var del []string
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, a.appID) {
			del = append(del, t)
		}
	}
	if len(del) > 0 {
		_, _ = b.admin.DeleteTopics(ctx, del...)
	}
	_ = os.RemoveAll(a.stateDir)
}

// waitCommitted waits until group has committed the end offsets of topic, or p exits,
// or the timeout passes.
func (b *bench) waitCommitted(ctx context.Context, p *process, group, topic string) error {
	ends, err := b.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(b.c.timeout)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%w early: %v", errExited, p.exitError())
		case <-time.After(100 * time.Millisecond):
		}
		committed, err := b.admin.FetchOffsets(ctx, group)
		if err == nil {
			done := true
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := committed.Lookup(topic, o.Partition)
				if o.Offset > 0 && (!ok || c.At < o.Offset) {
					done = false
				}
			})
			if done {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("input not all committed after %s", b.c.timeout)
		}
	}
}

// appendSpan returns the LogAppendTime of the first and of the last record of topic.
func (b *bench) appendSpan(ctx context.Context, topic string) (first, last time.Time, err error) {
	firsts, err := b.admin.ListOffsetsAfterMilli(ctx, 0, topic)
	if err != nil {
		return first, last, err
	}
	maxes, err := b.admin.ListMaxTimestampOffsets(ctx, topic)
	if err != nil {
		return first, last, err
	}
	lo, hi := int64(-1), int64(-1)
	firsts.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Timestamp >= 0 && (lo < 0 || o.Timestamp < lo) {
			lo = o.Timestamp
		}
	})
	maxes.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Timestamp > hi {
			hi = o.Timestamp
		}
	})
	if lo < 0 || hi < 0 {
		return first, last, fmt.Errorf("output %s is empty", topic)
	}
	return time.UnixMilli(lo), time.UnixMilli(hi), nil
}

// throughput runs ct on r until it has processed all of r's input.
func (b *bench) throughput(ctx context.Context, ct *contender, r row, table string) *result {
	res := &result{row: r, contender: ct.name, records: r.input.records}
	a, err := b.runArgs(ctx, ct, r, r.input.topic, logAppendTime)
	if err != nil {
		res.err = err
		return res
	}
	defer b.cleanUp(ctx, a)
	a.table = table
	p, err := start(ct, a, b.logs)
	if err != nil {
		res.err = err
		return res
	}
	stable := b.watchGroup(ctx, a.appID)
	werr := b.waitCommitted(ctx, p, a.appID, a.input)
	res.stats, _ = p.procStats()
	serr := p.stop()
	if res.err = errors.Join(werr, serr); res.err != nil {
		return res
	}
	first, last, err := b.appendSpan(ctx, a.output)
	if err != nil {
		res.err = err
		return res
	}
	if r.commitDelayed() {
		// The first output leaves at the first commit, not when processing starts:
		// time from when the group is stable with the contender in it instead.
		joined, ok := <-stable
		if !ok {
			res.err = errors.New("the group was never seen stable")
			return res
		}
		first, res.fromJoin = joined, true
	}
	res.seconds = last.Sub(first).Seconds()
	if ends, err := b.admin.ListEndOffsets(ctx, a.output); err == nil {
		ends.Each(func(o kadm.ListedOffset) { res.outputOffsets += o.Offset })
	}
	if res.seconds <= 0 {
		res.err = fmt.Errorf("all output appended within one millisecond (%s): too few records to time", first.Format(time.StampMilli))
	}
	res.bytes = int64(r.input.records) * int64(len(key(0, 1))+r.input.valueBytes)
	return res
}

// watchGroup returns a channel that receives when group is first seen Stable with a
// member, polled every 10 ms for at most a minute; it is closed without a value if not.
func (b *bench) watchGroup(ctx context.Context, group string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		defer close(ch)
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			described, err := b.admin.DescribeGroups(ctx, group)
			if err == nil {
				if g, ok := described[group]; ok && g.Err == nil && g.State == "Stable" && len(g.Members) > 0 {
					ch <- time.Now()
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return ch
}

// latency runs ct's pass-through on a fixed input rate and measures how long each
// record takes from its timestamp (set at produce) to its consumption from the output.
func (b *bench) latency(ctx context.Context, ct *contender, r row) *result {
	res := &result{row: r, contender: ct.name}
	a, err := b.runArgs(ctx, ct, r, "", nil)
	if err != nil {
		res.err = err
		return res
	}
	defer b.cleanUp(ctx, a)
	a.input = a.appID + "-in"
	if err := b.createTopic(ctx, a.input, nil); err != nil {
		res.err = err
		return res
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.cluster.Seeds()...), kgo.ConsumeTopics(a.output),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		res.err = err
		return res
	}
	defer consumer.Close()
	type sample struct {
		measured bool
		latency  time.Duration
	}
	samples := make(chan sample, 1<<16)
	consumeCtx, stopConsuming := context.WithCancel(ctx)
	defer stopConsuming()
	go func() {
		for consumeCtx.Err() == nil {
			fetches := consumer.PollFetches(consumeCtx)
			now := time.Now()
			fetches.EachRecord(func(rec *kgo.Record) {
				select {
				case samples <- sample{measured: len(rec.Key) > 0 && rec.Key[0] == 'm', latency: now.Sub(rec.Timestamp)}:
				case <-consumeCtx.Done():
				}
			})
		}
	}()
	p, err := start(ct, a, b.logs)
	if err != nil {
		res.err = err
		return res
	}
	defer p.stop()
	value := values(r.input.valueBytes)
	// The slowest acknowledgement of an input record: a stall of the input's producer
	// (not of the contender) shows here.
	var slowestAck atomic.Int64
	produce := func(prefix byte, i int) {
		k := key(i, r.input.keys)
		k[0] = prefix
		b.client.Produce(ctx, &kgo.Record{Topic: a.input, Key: k, Value: value(i), Timestamp: time.Now()}, func(r *kgo.Record, _ error) {
			if d := int64(time.Since(r.Timestamp)); d > slowestAck.Load() {
				slowestAck.Store(d)
			}
		})
	}
	// Warm: a record every 100 ms until one comes out.
	warmDeadline := time.Now().Add(2 * time.Minute)
warm:
	for i := 0; ; i++ {
		produce('w', i)
		select {
		case <-samples:
			break warm
		case <-p.exited:
			res.err = fmt.Errorf("%w: %v", errExited, p.exitError())
			return res
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(warmDeadline) {
			res.err = errors.New("no output two minutes after start")
			return res
		}
	}
	// Measure: latencyRate records per second in ticks of 10 ms.
	total := b.c.latencyRate * b.c.latencySeconds
	var lat []time.Duration
	collect := func(s sample) {
		if s.measured {
			lat = append(lat, s.latency)
		}
	}
	began := time.Now()
	ticker := time.NewTicker(10 * time.Millisecond)
	sent := 0
	for sent < total {
		select {
		case s := <-samples:
			collect(s)
			continue
		case <-ticker.C:
		}
		due := min(total, int(time.Since(began).Seconds()*float64(b.c.latencyRate)))
		for ; sent < due; sent++ {
			produce('m', sent)
		}
	}
	ticker.Stop()
	drain := time.After(15 * time.Second)
	for len(lat) < total {
		select {
		case s := <-samples:
			collect(s)
			continue
		case <-drain:
		}
		break
	}
	res.stats, _ = p.procStats()
	if err := p.stop(); err != nil {
		res.err = err
		return res
	}
	if len(lat) == 0 {
		res.err = errors.New("no measured record came out")
		return res
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	res.p50, res.p99, res.p999 = pct(0.50), pct(0.99), pct(0.999)
	res.latencySamples = len(lat)
	res.slowestAck = time.Duration(slowestAck.Load())
	res.records = total
	if len(lat) < total {
		res.err = fmt.Errorf("only %d of %d measured records came out within 15 s of the last", len(lat), total)
	}
	return res
}

// restore loads a count store of r's keys, then measures restart on the kept state and
// restoration from the changelog on a deleted one.
func (b *bench) restore(ctx context.Context, ct *contender, r row) *result {
	res := &result{row: r, contender: ct.name}
	a, err := b.runArgs(ctx, ct, r, r.input.topic, nil)
	if err != nil {
		res.err = err
		return res
	}
	defer b.cleanUp(ctx, a)
	// Load.
	p, err := start(ct, a, b.logs)
	if err != nil {
		res.err = err
		return res
	}
	werr := b.waitCommitted(ctx, p, a.appID, a.input)
	if res.err = errors.Join(werr, p.stop()); res.err != nil {
		res.err = fmt.Errorf("loading the store: %w", res.err)
		return res
	}
	// Restart on the kept state.
	res.restart, res.stats, res.err = b.probe(ctx, ct, a, "restart")
	if res.err != nil {
		return res
	}
	if ct.name == "ceiling" {
		res.restoreNA = "n/a: no changelog"
		return res
	}
	// Restore on a deleted state.
	if err := os.RemoveAll(a.stateDir); err != nil {
		res.err = err
		return res
	}
	if err := os.MkdirAll(a.stateDir, 0o755); err != nil {
		res.err = err
		return res
	}
	var st stats
	res.restoreIn, st, res.err = b.probe(ctx, ct, a, "restore")
	res.stats.peakRSS = max(res.stats.peakRSS, st.peakRSS)
	if res.err != nil {
		return res
	}
	res.changelogRecords, res.err = b.changelogRecords(ctx, a.appID)
	return res
}

// probe starts ct, produces a probe record right after, and returns the time from start
// to the probe's output.
func (b *bench) probe(ctx context.Context, ct *contender, a args, name string) (time.Duration, stats, error) {
	ends, err := b.admin.ListEndOffsets(ctx, a.output)
	if err != nil {
		return 0, stats{}, err
	}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { offsets[o.Partition] = kgo.NewOffset().At(o.Offset) })
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.cluster.Seeds()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.output: offsets}),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return 0, stats{}, err
	}
	defer consumer.Close()
	probeKey := []byte("probe-" + name)
	p, err := start(ct, a, b.logs)
	if err != nil {
		return 0, stats{}, err
	}
	b.client.Produce(ctx, &kgo.Record{Topic: a.input, Key: probeKey, Value: []byte("probe")}, nil)
	if err := b.client.Flush(ctx); err != nil {
		p.stop()
		return 0, stats{}, err
	}
	pollCtx, cancel := context.WithTimeout(ctx, b.c.timeout)
	defer cancel()
	var took time.Duration
	for took == 0 {
		fetches := consumer.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			p.stop()
			return 0, stats{}, fmt.Errorf("%s: no probe output after %s", name, b.c.timeout)
		}
		now := time.Now()
		fetches.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == string(probeKey) && took == 0 {
				took = now.Sub(p.started)
			}
		})
	}
	st, _ := p.procStats()
	return took, st, p.stop()
}

// changelogRecords counts the records of the changelog topics of appID.
func (b *bench) changelogRecords(ctx context.Context, appID string) (int64, error) {
	topics, err := b.admin.ListTopics(ctx)
	if err != nil {
		return 0, err
	}
	var changelogs []string
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, appID) && strings.HasSuffix(t, "-changelog") {
			changelogs = append(changelogs, t)
		}
	}
	if len(changelogs) == 0 {
		return 0, fmt.Errorf("no changelog topic of %s", appID)
	}
	starts, err := b.admin.ListStartOffsets(ctx, changelogs...)
	if err != nil {
		return 0, err
	}
	ends, err := b.admin.ListEndOffsets(ctx, changelogs...)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			n += o.Offset - s.Offset
		}
	})
	return n, nil
}
