package embedded_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/embedded"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func start(t *testing.T, opts ...embedded.Option) *embedded.Broker {
	t.Helper()
	b, err := embedded.Start(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func client(t *testing.T, b *embedded.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Seeds()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestStartCreatesTheTopicsAndServesAConsumerGroup creates two topics, checks their
// partitions through an admin client, and sends records through them to a group
// member, which commits its offsets.
func TestStartCreatesTheTopicsAndServesAConsumerGroup(t *testing.T) {
	b := start(t, embedded.Topic("orders", 3), embedded.Topic("alerts", 1))
	if seeds := b.Seeds(); len(seeds) != 1 || !strings.HasPrefix(seeds[0], "127.0.0.1:") {
		t.Fatalf("seeds %q, want one address on 127.0.0.1", seeds)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	details, err := kadm.NewClient(client(t, b)).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, d := range details {
		got[d.Topic] = len(d.Partitions)
	}
	if want := map[string]int{"orders": 3, "alerts": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("topics and their partitions %v, want %v", got, want)
	}

	producer := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var sent []string
	for p := range int32(3) {
		v := fmt.Sprintf("order-%d", p)
		sent = append(sent, v)
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumer := client(t, b, kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("readers"), kgo.DisableAutoCommit())
	var read []string
	for len(read) < len(sent) {
		fetches := consumer.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			t.Fatalf("after reading %q: %v", read, err)
		}
		fetches.EachRecord(func(r *kgo.Record) { read = append(read, string(r.Value)) })
	}
	slices.Sort(read)
	if !slices.Equal(read, sent) {
		t.Fatalf("read %q, want %q", read, sent)
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	committed, err := kadm.NewClient(client(t, b)).FetchOffsets(ctx, "readers")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		if o, ok := committed.Lookup("orders", p); !ok || o.At != 1 {
			t.Errorf("committed offset of orders partition %d: %+v, want 1", p, o)
		}
	}
}

// TestTransactionsWork: what an aborted transaction wrote is invisible to a
// read_committed consumer, what a committed one wrote is visible; exactly-once needs both.
func TestTransactionsWork(t *testing.T) {
	b := start(t, embedded.Topic("payments", 1))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	producer := client(t, b, kgo.TransactionalID("payer"))
	for _, end := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("committed=%v", bool(end))
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "payments", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := producer.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	consumer := client(t, b, kgo.ConsumeTopics("payments"), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var read []string
	for len(read) == 0 {
		fetches := consumer.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		fetches.EachRecord(func(r *kgo.Record) { read = append(read, string(r.Value)) })
	}
	if want := []string{"committed=true"}; !slices.Equal(read, want) {
		t.Fatalf("read_committed read %q, want %q", read, want)
	}
}

// TestPortIsTheOneAsked starts the broker on a port known to be free.
func TestPortIsTheOneAsked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := start(t, embedded.Port(port))
	if want := []string{fmt.Sprintf("127.0.0.1:%d", port)}; !slices.Equal(b.Seeds(), want) {
		t.Fatalf("seeds %q, want %q", b.Seeds(), want)
	}
	if _, err := embedded.Start(t.Context(), embedded.Port(port)); err == nil {
		t.Fatal("a second broker on the same port started")
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts []embedded.Option
		want string
	}{
		{"no partitions", []embedded.Option{embedded.Topic("t", 0)}, `topic "t": 0 partitions, want at least 1`},
		{"a topic twice", []embedded.Option{embedded.Topic("t", 1), embedded.Topic("t", 2)}, `topic "t" given twice`},
		{"no name", []embedded.Option{embedded.Topic("", 1)}, "a topic without a name"},
		{"a port out of range", []embedded.Option{embedded.Port(70000)}, "port 70000 is not between 0 and 65535"},
		{"a nil option", []embedded.Option{nil}, "a nil Option"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := embedded.Start(t.Context(), c.opts...)
			if err == nil {
				b.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to say %q", err, c.want)
			}
		})
	}
}

// TestCloseTwice: Close may be called more than once, and the broker is gone after it.
func TestCloseTwice(t *testing.T) {
	b, err := embedded.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Close()
	conn, err := net.DialTimeout("tcp", b.Seeds()[0], time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("the broker still accepts connections after Close")
	}
}
