// Package demo holds what the example commands share: the brokers to run against (an
// embedded one by default), their topics, and the application running in the background.
// Being internal to the examples module, it is for the examples only.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokersFlag defines the -brokers flag, which Brokers takes.
func BrokersFlag() *string {
	return flag.String("brokers", "", "comma-separated brokers of a Kafka cluster; empty starts an embedded broker")
}

// Main parses the flags and calls run with a context that an interrupt or SIGTERM
// cancels; if run fails, it prints "<name>: <error>" and exits with status 1.
func Main(name string, run func(ctx context.Context) error) {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Brokers returns the seed brokers of the cluster a demo runs against, and a function that
// releases it. With brokers empty (the -brokers flag not given) it starts an embedded
// broker (package embedded) with topics, each of partitions partitions, and says where;
// stop closes it. Otherwise the seeds are brokers split at commas, CreateTopics creates the
// topics that are absent, and stop does nothing.
func Brokers(ctx context.Context, brokers string, partitions int32, topics ...string) (seeds []string, stop func(), err error) {
	if brokers == "" {
		opts := make([]embedded.Option, len(topics))
		for i, topic := range topics {
			opts[i] = embedded.Topic(topic, partitions)
		}
		broker, err := embedded.Start(ctx, opts...)
		if err != nil {
			return nil, nil, err
		}
		seeds = broker.Seeds()
		fmt.Printf("Embedded broker at %s\n\n", strings.Join(seeds, ","))
		return seeds, broker.Close, nil
	}
	seeds = strings.Split(brokers, ",")
	if err := CreateTopics(ctx, seeds, partitions, topics...); err != nil {
		return nil, nil, err
	}
	return seeds, func() {}, nil
}

// CreateTopics creates the demo's topics on a real cluster, leaving existing ones alone.
func CreateTopics(ctx context.Context, seeds []string, partitions int32, names ...string) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer client.Close()
	resps, err := kadm.NewClient(client).CreateTopics(ctx, partitions, -1, nil, names...)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// App is a demo's application, running in the background in a state directory of its own.
type App struct {
	stop     context.CancelFunc
	done     chan struct{}
	err      error // Run's result, once done is closed
	stateDir string
}

// RunApp starts the application of topo with id appID against seeds, committing every
// commitInterval and logging warnings and errors only, in a new temporary state directory.
// The caller must Stop it.
func RunApp(ctx context.Context, topo *topology.Topology, appID string, seeds []string, commitInterval time.Duration) (*App, error) {
	stateDir, err := os.MkdirTemp("", "eddy-"+appID+"-")
	if err != nil {
		return nil, err
	}
	app, err := eddy.New(topo,
		eddy.ApplicationID(appID),
		eddy.SeedBrokers(seeds...),
		eddy.StateDir(stateDir),
		eddy.CommitInterval(commitInterval),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	)
	if err != nil {
		os.RemoveAll(stateDir)
		return nil, err
	}
	appCtx, stop := context.WithCancel(ctx)
	a := &App{stop: stop, done: make(chan struct{}), stateDir: stateDir}
	go func() {
		a.err = app.Run(appCtx)
		close(a.done)
	}()
	return a, nil
}

// Done is closed when the application has stopped, by itself or by Stop; Err then says why.
func (a *App) Done() <-chan struct{} { return a.done }

// Err is what the application's Run returned, once Done is closed.
func (a *App) Err() error {
	<-a.done
	return a.err
}

// Stop stops the application, waits until it has, removes its state directory and returns
// what Run returned. It may be called more than once, and after the application stopped by
// itself.
func (a *App) Stop() error {
	a.stop()
	<-a.done
	os.RemoveAll(a.stateDir)
	return a.err
}
