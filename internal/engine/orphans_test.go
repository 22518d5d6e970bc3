package engine

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lostMarkersCluster is an embedded broker whose DescribeProducers says that producer
// lost (7 unless set) has transactions open (the broker lost their markers) on out
// partitions 1 (epoch 4, since offset 40) and 2 (epoch 5, since offset 50), next to
// another producer's open one and lost's closed one on partition 0, and which records
// the WriteTxnMarkers it gets and answers them with markerErr. requests lists the
// DescribeProducers and WriteTxnMarkers it answered, in order.
type lostMarkersCluster struct {
	*kfake.Cluster
	lost     atomic.Int64
	mu       sync.Mutex
	markers  []kmsg.WriteTxnMarkersRequestMarker
	requests []string
}

func (c *lostMarkersCluster) answered(request string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, request)
}

func newLostMarkersCluster(t *testing.T, markerErr *kerr.Error) *lostMarkersCluster {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	c := &lostMarkersCluster{Cluster: cluster}
	c.lost.Store(7)
	cluster.ControlKey(int16(kmsg.DescribeProducers), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		c.answered("DescribeProducers")
		lost := c.lost.Load()
		req := kreq.(*kmsg.DescribeProducersRequest)
		resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
		for _, rt := range req.Topics {
			topic := kmsg.NewDescribeProducersResponseTopic()
			topic.Topic = rt.Topic
			for _, p := range rt.Partitions {
				part := kmsg.NewDescribeProducersResponseTopicPartition()
				part.Partition = p
				producer := func(id int64, epoch int32, start int64) {
					s := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					s.ProducerID, s.ProducerEpoch, s.CoordinatorEpoch, s.CurrentTxnStartOffset = id, epoch, 3, start
					part.ActiveProducers = append(part.ActiveProducers, s)
				}
				switch p {
				case 0:
					producer(lost, 6, -1)
					producer(lost+1, 2, 10)
				case 1:
					producer(lost, 4, 40)
				case 2:
					producer(lost, 5, 50)
				}
				topic.Partitions = append(topic.Partitions, part)
			}
			resp.Topics = append(resp.Topics, topic)
		}
		return resp, nil, true
	})
	cluster.ControlKey(int16(kmsg.WriteTxnMarkers), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		c.answered("WriteTxnMarkers")
		req := kreq.(*kmsg.WriteTxnMarkersRequest)
		resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range req.Markers {
			c.markers = append(c.markers, m)
			rm := kmsg.NewWriteTxnMarkersResponseMarker()
			rm.ProducerID = m.ProducerID
			for _, mt := range m.Topics {
				rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				rt.Topic = mt.Topic
				for _, p := range mt.Partitions {
					rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					rp.Partition = p
					if markerErr != nil {
						rp.ErrorCode = markerErr.Code
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				rm.Topics = append(rm.Topics, rt)
			}
			resp.Markers = append(resp.Markers, rm)
		}
		return resp, nil, true
	})
	return c
}

// abortLost runs abortLostTransactions for producerID over the three partitions of out
// on a lostMarkersCluster that answers markers with markerErr, and returns the cluster,
// the membership's logs and what abortLostTransactions returned.
func abortLost(t *testing.T, producerID int64, markerErr *kerr.Error) (*lostMarkersCluster, string, error) {
	t.Helper()
	cluster := newLostMarkersCluster(t, markerErr)
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	var logs bytes.Buffer
	m := &membership{Engine: &Engine{admin: kadm.NewClient(client), log: slog.New(slog.NewTextHandler(&logs, nil))}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = m.abortLostTransactions(ctx, producerID, map[string]int32{"out": 3})
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	return cluster, logs.String(), err
}

// TestAbortLostTransactionsAbortsOnlyTheProducersOwnOpenTransactions: the transactions
// of the membership's producer id that are open on the application's partitions get an
// abort marker each, with the producer epoch and coordinator epoch the partition last
// saw; another producer's open transaction, and the producer's closed ones, get none.
func TestAbortLostTransactionsAbortsOnlyTheProducersOwnOpenTransactions(t *testing.T) {
	cluster, logs, err := abortLost(t, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int16][]int32{} // partitions aborted, by producer epoch
	for _, mk := range cluster.markers {
		if mk.ProducerID != 7 || mk.Committed || mk.CoordinatorEpoch != 3 || len(mk.Topics) != 1 || mk.Topics[0].Topic != "out" {
			t.Errorf("marker %+v, want an abort of producer 7 with coordinator epoch 3 on topic out", mk)
			continue
		}
		got[mk.ProducerEpoch] = append(got[mk.ProducerEpoch], mk.Topics[0].Partitions...)
	}
	if len(got) != 2 || len(got[4]) != 1 || got[4][0] != 1 || len(got[5]) != 1 || got[5][0] != 2 {
		t.Errorf("aborted %v (partitions by producer epoch), want map[4:[1] 5:[2]]", got)
	}
	if !strings.Contains(logs, "out partition 1 since offset 40 (epoch 4)") {
		t.Errorf("the warning does not name what it aborts:\n%s", logs)
	}
}

// TestAbortLostTransactionsFailsWithTheCommandWhenItMayNotAbort: without the permission
// to write markers, the membership fails, naming the open transactions and the command
// that aborts them, rather than go on and commit the records.
func TestAbortLostTransactionsFailsWithTheCommandWhenItMayNotAbort(t *testing.T) {
	_, _, err := abortLost(t, 7, kerr.ClusterAuthorizationFailed)
	if err == nil {
		t.Fatal("no error, though every marker was refused")
	}
	for _, want := range []string{"kafka-transactions.sh abort", "out partition 1 since offset 40 (epoch 4)", "out partition 2 since offset 50 (epoch 5)", "CLUSTER_AUTHORIZATION_FAILED"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// TestAbortLostTransactionsWritesNothingWhenNoneIsOpen: a producer with no open
// transaction on the application's partitions writes no marker.
func TestAbortLostTransactionsWritesNothingWhenNoneIsOpen(t *testing.T) {
	cluster, _, err := abortLost(t, 9, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cluster.markers) != 0 {
		t.Errorf("wrote markers %+v for a producer with nothing open", cluster.markers)
	}
}

// TestLookAfterAbortWaitsForTheCoordinatorToCompleteTheAbort: after a membership aborts
// a transaction itself, it looks for lost markers only once the coordinator says the
// abort is complete (markers on their way are not lost), and then aborts what is still
// open of its producer.
func TestLookAfterAbortWaitsForTheCoordinatorToCompleteTheAbort(t *testing.T) {
	cluster := newLostMarkersCluster(t, nil)
	const txnID = "app-instance"
	var described atomic.Int32
	cluster.ControlKey(int16(kmsg.DescribeTransactions), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.DescribeTransactionsRequest)
		resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
		state := "PrepareAbort"
		if described.Add(1) > 2 {
			state = "CompleteAbort"
		}
		cluster.answered("DescribeTransactions " + state)
		for _, id := range req.TransactionalIDs {
			d := kmsg.NewDescribeTransactionsResponseTransactionState()
			d.TransactionalID, d.State, d.ProducerID = id, state, cluster.lost.Load()
			resp.TransactionStates = append(resp.TransactionStates, d)
		}
		return resp, nil, true
	})
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.TransactionalID(txnID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	id, _, err := client.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cluster.lost.Store(id)
	var logs bytes.Buffer
	m := &membership{
		Engine:    &Engine{cfg: Config{TransactionalID: txnID}, admin: kadm.NewClient(client), log: slog.New(slog.NewTextHandler(&logs, nil))},
		client:    client,
		collector: &collector{partitions: map[string]int32{"out": 3}},
	}
	if err := m.lookAfterAbort(ctx); err != nil {
		t.Fatal(err)
	}
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	want := []string{"DescribeTransactions PrepareAbort", "DescribeTransactions PrepareAbort", "DescribeTransactions CompleteAbort", "DescribeProducers", "WriteTxnMarkers"}
	if !slices.Equal(cluster.requests, want) {
		t.Errorf("requests %v, want %v", cluster.requests, want)
	}
	if len(cluster.markers) != 2 {
		t.Errorf("%d markers, want 2 (one per producer epoch open): %+v", len(cluster.markers), cluster.markers)
	}
}
