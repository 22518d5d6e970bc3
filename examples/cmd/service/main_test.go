package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/examples/orders"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServiceServesProbesDeadLettersAndStopsGracefully runs the service on an embedded
// broker with the sample feed: readiness turns 200 once it runs, the alerts of the sample
// come out, the undecodable order lands in the dead-letter topic with its raw bytes and
// the headers that say why, and cancelling the context stops it cleanly.
func TestServiceServesProbesDeadLettersAndStopsGracefully(t *testing.T) {
	broker, err := embedded.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + listener.Addr().String()
	window := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	cfg := config{brokers: strings.Join(broker.Seeds(), ","), feed: true, hour: window}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- run(ctx, cfg, listener, slog.New(slog.DiscardHandler)) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, state := get(t, base+"/readyz")
		if code == http.StatusOK && state == "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still says %d %s after 30 s", code, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, state := get(t, base+"/livez"); code != http.StatusOK || state != "RUNNING" {
		t.Errorf("/livez says %d %s, want 200 RUNNING", code, state)
	}

	topics, deadLetters := cfg.topics()
	client, err := kgo.NewClient(kgo.SeedBrokers(broker.Seeds()...), kgo.ConsumeTopics(topics.Alerts, deadLetters),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	readCtx, stopReading := context.WithTimeout(ctx, 30*time.Second)
	defer stopReading()
	alerts := map[string]orders.Alert{}
	var letters []*kgo.Record
	for len(alerts) < 2 || len(letters) < 1 {
		fetches := client.PollFetches(readCtx)
		if readCtx.Err() != nil {
			t.Fatalf("read %d alerts and %d dead letters in 30 s, want 2 and 1", len(alerts), len(letters))
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Topic == deadLetters {
				letters = append(letters, r)
				return
			}
			var a orders.Alert
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatalf("alert %q: %v", r.Value, err)
			}
			if _, dup := alerts[string(r.Key)]; dup {
				t.Errorf("a second alert for %s: %+v", r.Key, a)
			}
			alerts[string(r.Key)] = a
		})
	}
	for id, total := range map[string]int64{"c1": 110, "c2": 550} {
		a, c := alerts[id], sampleCustomers[id]
		if a.Customer != id || a.Name != c.Name || a.Total != total || a.Limit != c.Limit || !a.WindowStart.Equal(window) {
			t.Errorf("alert for %s is %+v, want total %d of limit %d in the window at %s", id, a, total, c.Limit, window)
		}
	}
	letter := letters[0]
	headers := map[string]string{}
	for _, h := range letter.Headers {
		headers[h.Key] = string(h.Value)
	}
	if string(letter.Key) != "c3" || string(letter.Value) != string(poison) || headers["__streams.errors.topic"] != topics.Orders ||
		headers["__streams.errors.partition"] == "" || headers["__streams.errors.offset"] == "" ||
		headers["__streams.errors.exception"] != "*processor.DeserializationError" || !strings.Contains(headers["__streams.errors.message"], "amount") {
		t.Errorf("dead letter %s=%q with headers %q, want the poison order of c3 and why", letter.Key, letter.Value, headers)
	}

	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("the service stopped with %v, want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the service still runs 30 s after its context ended")
	}
}

// get returns the status code of url and the state its JSON body names.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode, body.State
}
