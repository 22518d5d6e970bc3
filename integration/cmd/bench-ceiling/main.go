// Command bench-ceiling is the ceiling of the benchmarks of integration/cmd/bench: what
// a plain franz-go program does with no framework, which bounds what any library can do
// on the same broker. A group consumer polls, maps each record and produces the result;
// the stateful scenarios add a plain Pebble read-modify-write per record (or per window
// of the record) with no changelog, no cache and no restoration. At least once, it
// flushes the producer and commits the polled offsets every --commit-interval-ms;
// exactly once, a kgo.GroupTransactSession commits a transaction that often. The join
// reads the whole table topic into a map before it starts. It takes the flags every
// contender takes (package integration/internal/contender); --cache-bytes is accepted and
// ignored (no cache).
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/eddy-streams/eddy/integration/internal/contender"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	contender.Main("bench-ceiling", 0, "ignored: the ceiling has no cache", run)
}

// mapper turns one input record into its output records, appended to out.
type mapper func(r *kgo.Record, out []*kgo.Record) ([]*kgo.Record, error)

func run(ctx context.Context, f contender.Flags) error {
	m, closeState, err := newMapper(ctx, f)
	if err != nil {
		return err
	}
	defer closeState()

	opts := []kgo.Opt{
		kgo.SeedBrokers(f.Bootstrap),
		kgo.ConsumerGroup(f.AppID),
		kgo.ConsumeTopics(f.Input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelWarn, nil)),
	}
	if !f.ExactlyOnce {
		return atLeastOnce(ctx, opts, f.CommitInterval, m)
	}
	return exactlyOnce(ctx, append(opts,
		kgo.TransactionalID(f.AppID+"-ceiling"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
	), f.CommitInterval, m)
}

// produceErr keeps the first error of an asynchronous produce.
type produceErr struct {
	mu  sync.Mutex
	err error
}

func (p *produceErr) promise(_ *kgo.Record, err error) {
	if err != nil {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
}

func (p *produceErr) get() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func atLeastOnce(ctx context.Context, opts []kgo.Opt, interval time.Duration, m mapper) error {
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	var perr produceErr
	return loop(ctx, interval, m, &perr, loopClient{
		poll:    client.PollRecords,
		produce: client.Produce,
		commit: func(ctx context.Context) error {
			if err := client.Flush(ctx); err != nil {
				return err
			}
			if err := perr.get(); err != nil {
				return fmt.Errorf("producing: %w", err)
			}
			return client.CommitUncommittedOffsets(ctx)
		},
	})
}

func exactlyOnce(ctx context.Context, opts []kgo.Opt, interval time.Duration, m mapper) error {
	s, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	var perr produceErr
	inTxn := false
	return loop(ctx, interval, m, &perr, loopClient{
		poll:    s.PollRecords,
		produce: s.Produce,
		begin: func() error {
			if inTxn {
				return nil
			}
			if err := s.Begin(); err != nil {
				return err
			}
			inTxn = true
			return nil
		},
		commit: func(ctx context.Context) error {
			if !inTxn {
				return nil
			}
			inTxn = false
			commit := kgo.TryCommit
			if perr.get() != nil {
				commit = kgo.TryAbort
			}
			if _, err := s.End(ctx, commit); err != nil {
				return err
			}
			return perr.get()
		},
	})
}

// loopClient is what loop needs of a client: at least once a plain client, exactly once
// a GroupTransactSession.
type loopClient struct {
	poll    func(ctx context.Context, maxRecords int) kgo.Fetches
	produce func(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	// begin, when set, runs before the records of a poll that returned any are produced
	// (a transaction's Begin).
	begin func() error
	// commit makes what was produced and polled so far durable.
	commit func(ctx context.Context) error
}

// loop is the ceiling: it polls, maps each record, produces what it maps to, and commits
// every interval and when ctx ends. It prints "ready" as it starts.
func loop(ctx context.Context, interval time.Duration, m mapper, perr *produceErr, c loopClient) error {
	fmt.Println("ready")
	next := time.Now().Add(interval)
	var out []*kgo.Record
	for {
		pollCtx, cancel := context.WithDeadline(ctx, next)
		fetches := c.poll(pollCtx, 10_000)
		cancel()
		if ctx.Err() != nil {
			return c.commit(context.Background())
		}
		if err := fetchErr(fetches); err != nil {
			return err
		}
		if c.begin != nil && !fetches.Empty() {
			if err := c.begin(); err != nil {
				return err
			}
		}
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			if ferr != nil {
				return
			}
			out, ferr = m(r, out[:0])
			for _, o := range out {
				c.produce(ctx, o, perr.promise)
			}
		})
		if ferr != nil {
			return ferr
		}
		if !time.Now().Before(next) {
			if err := c.commit(ctx); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			next = time.Now().Add(interval)
		}
	}
}

// fetchErr returns the first error of fetches that is not the end of a poll's context.
func fetchErr(fetches kgo.Fetches) error {
	var err error
	fetches.EachError(func(topic string, p int32, e error) {
		if err == nil && !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, context.Canceled) {
			err = fmt.Errorf("fetching %s[%d]: %w", topic, p, e)
		}
	})
	return err
}

// newMapper returns the scenario's per-record work and what releases its state.
func newMapper(ctx context.Context, f contender.Flags) (mapper, func(), error) {
	nothing := func() {}
	switch f.Scenario {
	case "passthrough", "latency":
		return func(r *kgo.Record, out []*kgo.Record) ([]*kgo.Record, error) {
			v := make([]byte, len(r.Value))
			copy(v, r.Value)
			if len(v) > 0 {
				v[0]++
			}
			return append(out, &kgo.Record{Topic: f.Output, Key: r.Key, Value: v, Timestamp: r.Timestamp}), nil
		}, nothing, nil
	case "join":
		if f.Table == "" {
			return nil, nil, errors.New("--table is required by the join")
		}
		table, err := readTable(ctx, f.Bootstrap, f.Table)
		if err != nil {
			return nil, nil, err
		}
		return func(r *kgo.Record, out []*kgo.Record) ([]*kgo.Record, error) {
			tv, ok := table[string(r.Key)]
			if !ok {
				return out, nil
			}
			v := make([]byte, 0, len(r.Value)+len(tv))
			v = append(append(v, r.Value...), tv...)
			return append(out, &kgo.Record{Topic: f.Output, Key: r.Key, Value: v, Timestamp: r.Timestamp}), nil
		}, nothing, nil
	case "count", "tumbling-count", "hopping-count":
	default:
		return nil, nil, fmt.Errorf("--scenario %q: unknown", f.Scenario)
	}
	dir := filepath.Join(f.StateDir, f.AppID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("opening Pebble: %w", err)
	}
	closeDB := func() {
		if err := db.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench-ceiling: closing Pebble:", err)
		}
	}
	// increment adds one to the count at key and returns the new count, 8 bytes BE.
	increment := func(key []byte) ([]byte, error) {
		var n uint64
		v, closer, err := db.Get(key)
		switch {
		case err == nil:
			if len(v) == 8 {
				n = binary.BigEndian.Uint64(v)
			}
			closer.Close()
		case !errors.Is(err, pebble.ErrNotFound):
			return nil, err
		}
		count := binary.BigEndian.AppendUint64(nil, n+1)
		return count, db.Set(key, count, pebble.NoSync)
	}
	if f.Scenario == "count" {
		return func(r *kgo.Record, out []*kgo.Record) ([]*kgo.Record, error) {
			count, err := increment(r.Key)
			if err != nil {
				return out, err
			}
			return append(out, &kgo.Record{Topic: f.Output, Key: r.Key, Value: count, Timestamp: r.Timestamp}), nil
		}, closeDB, nil
	}
	size, advance := int64(1000), int64(1000)
	if f.Scenario == "hopping-count" {
		size = 10_000
	}
	return func(r *kgo.Record, out []*kgo.Record) ([]*kgo.Record, error) {
		ts := r.Timestamp.UnixMilli()
		last := ts - ts%advance
		for start := last - size + advance; start <= last; start += advance {
			if start < 0 {
				continue
			}
			key := binary.BigEndian.AppendUint64(append(make([]byte, 0, len(r.Key)+8), r.Key...), uint64(start))
			count, err := increment(key)
			if err != nil {
				return out, err
			}
			out = append(out, &kgo.Record{Topic: f.Output, Key: key, Value: count, Timestamp: r.Timestamp})
		}
		return out, nil
	}, closeDB, nil
}

// readTable reads topic from its start to its end offsets into a map, the last value of
// each key winning.
func readTable(ctx context.Context, bootstrap, topic string) (map[string][]byte, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	remaining := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	table := map[string][]byte{}
	for len(remaining) > 0 {
		fetches := client.PollFetches(ctx)
		if err := fetchErr(fetches); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				delete(table, string(r.Key))
			} else {
				table[string(r.Key)] = r.Value
			}
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return table, nil
}
