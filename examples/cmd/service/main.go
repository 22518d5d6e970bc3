// Command service is Eddy's example of a service: the orders topology (examples/orders)
// run the way a production service runs it.
//
//   - Health: GET /livez and /readyz on -http answer from the App's state (200 or 503,
//     with the state as JSON), for a liveness and a readiness probe.
//   - Error policies: an order that cannot be decoded, or whose processing fails, is
//     continued past and written to the dead-letter topic with headers that say why;
//     the service goes on.
//   - Graceful shutdown: on SIGINT or SIGTERM the App commits, closes its tasks and
//     leaves its group, then the HTTP server drains; the exit status says whether Run
//     ended cleanly.
//   - Logs: JSON lines through log/slog, state changes at INFO, a fatal error at ERROR.
//
// With no -brokers it starts an in-process broker (package embedded) and feeds it sample
// customers and orders, one of them undecodable, and prints the alerts and dead letters
// as they come; nothing to install:
//
//	make demo-service   (or: cd examples && go run ./cmd/service)
//
// then, in another shell, curl -i 127.0.0.1:8080/readyz. With -brokers it serves a real
// cluster, creating its topics if absent; -feed=false leaves the input to you.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/examples/internal/demo"
	"github.com/eddy-streams/eddy/examples/orders"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// config is what the service runs with: its flags.
type config struct {
	brokers  string
	stateDir string
	feed     bool
	suffix   string
	// hour is the event time the sample orders are placed from; zero is the start of the
	// current hour.
	hour time.Time
}

// topics returns the service's topics, with the suffix appended.
func (c config) topics() (orders.Topics, string) {
	return orders.Topics{
		Orders:    "orders" + c.suffix,
		Customers: "customers" + c.suffix,
		Alerts:    "spending-alerts" + c.suffix,
	}, "orders-dead-letters" + c.suffix
}

func main() {
	var cfg config
	cfg.brokers = *demo.BrokersFlag()
	addr := flag.String("http", "127.0.0.1:8080", "address of the health endpoints")
	flag.StringVar(&cfg.stateDir, "state-dir", "", "state directory (default: a new temporary one)")
	flag.BoolVar(&cfg.feed, "feed", true, "produce the sample customers and orders, and print the alerts and dead letters")
	flag.StringVar(&cfg.suffix, "suffix", "", "appended to the topic names and the application id, to run again on the same cluster")
	demo.Main("service", func(ctx context.Context) error {
		listener, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		return run(ctx, cfg, listener, slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	})
}

// run runs the service until ctx ends, serving the health endpoints on listener, which
// it closes. It returns nil after a clean stop.
func run(ctx context.Context, cfg config, listener net.Listener, log *slog.Logger) error {
	topics, deadLetters := cfg.topics()
	const partitions = 3
	seeds, closeBrokers, err := demo.Brokers(ctx, cfg.brokers, partitions, topics.Orders, topics.Customers, topics.Alerts, deadLetters)
	if err != nil {
		listener.Close()
		return err
	}
	defer closeBrokers()

	topo, err := orders.Topology(topics)
	if err != nil {
		listener.Close()
		return err
	}
	if cfg.stateDir == "" {
		if cfg.stateDir, err = os.MkdirTemp("", "eddy-service-"); err != nil {
			listener.Close()
			return err
		}
		defer os.RemoveAll(cfg.stateDir)
	}
	app, err := eddy.New(topo,
		eddy.ApplicationID("orders-service"+cfg.suffix),
		eddy.SeedBrokers(seeds...),
		eddy.StateDir(cfg.stateDir),
		eddy.Logger(log),
		eddy.OnStateChange(func(newState, oldState eddy.State) {
			log.Info("state changed", "from", oldState, "to", newState)
		}),
		// A record that cannot be decoded, or that makes user code fail, goes to the
		// dead-letter topic and the service goes on (the default stops it).
		eddy.OnDeserializationError(processor.LogAndContinue),
		eddy.OnProcessingError(processor.LogAndContinue),
		eddy.DeadLetterTopic(deadLetters),
		// Alerts should not wait: output of stateless steps goes out as processed, and the
		// topology has no record cache; a short commit interval makes it durable sooner.
		eddy.CommitInterval(time.Second),
	)
	if err != nil {
		listener.Close()
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /livez", app.LivenessHandler())
	mux.Handle("GET /readyz", app.ReadinessHandler())
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	log.Info("health endpoints", "livez", "http://"+listener.Addr().String()+"/livez", "readyz", "http://"+listener.Addr().String()+"/readyz")

	if cfg.feed {
		feedCtx, stopFeed := context.WithCancel(ctx)
		defer stopFeed()
		go watch(feedCtx, seeds, topics.Alerts, deadLetters)
		if cfg.hour.IsZero() {
			cfg.hour = time.Now().UTC().Truncate(time.Hour)
		}
		if err := feed(ctx, seeds, topics, cfg.hour); err != nil {
			return errors.Join(err, shutdown(server, served))
		}
	}

	// Run returns when ctx ends (the signal), after committing and leaving the group.
	runErr := app.Run(ctx)
	if runErr != nil {
		log.Error("the application failed", "error", runErr)
	}
	return errors.Join(runErr, shutdown(server, served))
}

// shutdown stops the HTTP server, letting requests in flight finish for up to 5 s.
func shutdown(server *http.Server, served <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := server.Shutdown(ctx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// sampleCustomers and sampleOrders are what the demo feeds. Orders carry event times
// from the start of an hour, the same offsets on every run: windows are of event time.
var sampleCustomers = map[string]orders.Customer{
	"c1": {Name: "Ann", Limit: 100},
	"c2": {Name: "Bob", Limit: 500},
	"c3": {Name: "Cyd", Limit: 50},
}

type sampleOrder struct {
	customer string
	amount   int64
	offset   time.Duration
}

var sampleOrders = []sampleOrder{
	{"c1", 60, 10 * time.Second},
	{"c2", 300, 15 * time.Second},
	{"c1", 50, 20 * time.Second}, // Ann: 110 > 100 in the first window
	{"c3", 20, 25 * time.Second},
	{"c2", 250, 40 * time.Second}, // Bob: 550 > 500
	{"c3", 20, 50 * time.Second},
	{"c1", 10, 6 * time.Minute},
}

// poison is an order that the orders' serde cannot decode: the dead-letter topic gets it.
var poison = []byte(`{"id": "c3-broken", "amount": "twenty"}`)

// feed produces the sample customers, then the orders, placed from hour on, with the
// poison one among them.
func feed(ctx context.Context, seeds []string, topics orders.Topics, hour time.Time) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer client.Close()
	customerSerde, orderSerde := serde.JSON[orders.Customer](), serde.JSON[orders.Order]()
	var records []*kgo.Record
	for id, c := range sampleCustomers {
		value, err := customerSerde.Serialize(topics.Customers, c)
		if err != nil {
			return err
		}
		records = append(records, &kgo.Record{Topic: topics.Customers, Key: []byte(id), Value: value, Timestamp: hour})
	}
	for i, o := range sampleOrders {
		value, err := orderSerde.Serialize(topics.Orders, orders.Order{ID: fmt.Sprintf("%s-%d", o.customer, i), Amount: o.amount})
		if err != nil {
			return err
		}
		records = append(records, &kgo.Record{Topic: topics.Orders, Key: []byte(o.customer), Value: value, Timestamp: hour.Add(o.offset)})
		if i == 3 {
			records = append(records, &kgo.Record{Topic: topics.Orders, Key: []byte("c3"), Value: poison, Timestamp: hour.Add(o.offset)})
		}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("feeding the sample: %w", err)
	}
	return nil
}

// watch prints the alerts and the dead letters as they come, until ctx ends.
func watch(ctx context.Context, seeds []string, alerts, deadLetters string) {
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(alerts, deadLetters),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "watching the output:", err)
		return
	}
	defer client.Close()
	for ctx.Err() == nil {
		client.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if r.Topic == alerts {
				fmt.Printf("alert: %s %s\n", r.Key, r.Value)
				return
			}
			fmt.Printf("dead letter: %s %q\n", r.Key, r.Value)
			for _, h := range r.Headers {
				fmt.Printf("    %s: %q\n", h.Key, h.Value)
			}
		})
	}
}
