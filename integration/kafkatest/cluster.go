package kafkatest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables that steer the harness.
const (
	// EnvImage names the Docker image to start instead of the official one.
	EnvImage = "KAFKA_IMAGE"
	// EnvBootstrap names running brokers (host:port, comma separated, loopback only) to
	// use instead of starting any.
	EnvBootstrap = "KAFKA_BOOTSTRAP"
)

//go:embed image/VERSION
var pinnedVersion string

// Version returns the Apache Kafka release the harness starts by default, as pinned in
// image/VERSION.
func Version() string { return strings.TrimSpace(pinnedVersion) }

// DefaultImage returns the official apache/kafka image of Version.
func DefaultImage() string { return "apache/kafka:" + Version() }

// readyLine is what a KRaft node logs once it serves clients.
const readyLine = "Kafka Server started"

var versionLine = regexp.MustCompile(`Kafka version: (\S+)`)

// Option configures Start.
type Option func(*options)

type options struct {
	image        string
	nodes        int
	heap         string
	startTimeout time.Duration
	overrides    map[string]string
}

// Image sets the Docker image. Default: $KAFKA_IMAGE, or DefaultImage when that is unset.
func Image(name string) Option { return func(o *options) { o.image = name } }

// Nodes sets how many combined broker and controller nodes to start. Default 1. Internal
// topics are replicated to min(n, 3) nodes.
func Nodes(n int) Option { return func(o *options) { o.nodes = n } }

// BrokerConfig sets a server property on every node, over the harness's defaults.
func BrokerConfig(property, value string) Option {
	return func(o *options) { o.overrides[property] = value }
}

// Heap sets each node's JVM heap options. Default "-Xms512m -Xmx512m".
func Heap(opts string) Option { return func(o *options) { o.heap = opts } }

// StartTimeout bounds the wait for every node's ready line. Default 2 minutes.
func StartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// Cluster is a running Kafka cluster: one the harness started, or an external one named
// by KAFKA_BOOTSTRAP. Its methods are safe for concurrent use.
type Cluster struct {
	seeds      []string
	version    string
	image      string
	startup    time.Duration
	containers []*testcontainers.DockerContainer
}

// Seeds returns the brokers' addresses, host:port.
func (c *Cluster) Seeds() []string { return append([]string(nil), c.seeds...) }

// Bootstrap returns the brokers' addresses as one comma-separated string.
func (c *Cluster) Bootstrap() string { return strings.Join(c.seeds, ",") }

// Version returns the broker's version: from its own log when the harness started it,
// otherwise as guessed by franz-go from the APIs it serves.
func (c *Cluster) Version() string { return c.version }

// Image returns the Docker image the nodes run, or "" for an external cluster.
func (c *Cluster) Image() string { return c.image }

// StartupTime returns how long the nodes took from container creation to the ready line,
// or 0 for an external cluster.
func (c *Cluster) StartupTime() time.Duration { return c.startup }

// String describes the cluster in one line, for test logs.
func (c *Cluster) String() string {
	if c.image == "" {
		return fmt.Sprintf("external Kafka at %s (version %s)", c.Bootstrap(), c.version)
	}
	return fmt.Sprintf("Apache Kafka %s, %d node(s) from image %s, ready at %s after %s",
		c.version, len(c.containers), c.image, c.Bootstrap(), c.startup.Round(time.Millisecond))
}

// Start starts a cluster, or connects to the one KAFKA_BOOTSTRAP names, and returns once
// every node serves clients. Close stops it.
func Start(ctx context.Context, opts ...Option) (*Cluster, error) {
	o := options{
		image:        os.Getenv(EnvImage),
		nodes:        1,
		heap:         "-Xms512m -Xmx512m",
		startTimeout: 2 * time.Minute,
		overrides:    map[string]string{},
	}
	if o.image == "" {
		o.image = DefaultImage()
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.nodes < 1 {
		return nil, fmt.Errorf("kafkatest: %d nodes requested, need at least 1", o.nodes)
	}
	if bootstrap := os.Getenv(EnvBootstrap); bootstrap != "" {
		return external(ctx, bootstrap)
	}
	return startContainers(ctx, o)
}

// external checks that the cluster at bootstrap answers and guesses its version.
func external(ctx context.Context, bootstrap string) (*Cluster, error) {
	seeds := strings.Split(bootstrap, ",")
	for _, seed := range seeds {
		host, _, err := net.SplitHostPort(seed)
		if err != nil {
			return nil, fmt.Errorf("kafkatest: %s=%q: %w", EnvBootstrap, bootstrap, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("kafkatest: %s=%q: tests only talk to loopback addresses, not %s", EnvBootstrap, bootstrap, host)
		}
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	defer client.Close()
	versions, err := kadm.NewClient(client).ApiVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: asking %s for its API versions: %w", bootstrap, err)
	}
	version := "unknown"
	for _, v := range versions.Sorted() {
		if v.Err != nil {
			return nil, fmt.Errorf("kafkatest: broker %d at %s: %w", v.NodeID, bootstrap, v.Err)
		}
		version = v.VersionGuess()
	}
	return &Cluster{seeds: seeds, version: version}, nil
}

func startContainers(ctx context.Context, o options) (*Cluster, error) {
	// Ryuk, testcontainers' reaper, is an image that cannot be pulled without a registry;
	// Close removes the containers instead. The host override keeps testcontainers from
	// guessing a bridge gateway when the tests themselves run in a container.
	setDefaultEnv("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefaultEnv("TESTCONTAINERS_HOST_OVERRIDE", loopback)

	clusterID, err := newClusterID()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2 * o.nodes)
	if err != nil {
		return nil, err
	}
	nodes := make([]node, o.nodes)
	for i := range nodes {
		nodes[i] = node{id: i + 1, brokerPort: ports[2*i], controllerPort: ports[2*i+1]}
	}

	c := &Cluster{image: o.image, containers: make([]*testcontainers.DockerContainer, len(nodes))}
	for _, n := range nodes {
		c.seeds = append(c.seeds, n.brokerAddr())
	}

	// The nodes start together: a controller quorum of several nodes elects a leader only
	// once a majority of them runs.
	began := time.Now()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			env := containerEnv(clusterID, o.heap, brokerConfig(nodes, n, o.overrides))
			ctr, err := testcontainers.Run(ctx, o.image,
				testcontainers.WithEnv(env),
				testcontainers.WithLabels(map[string]string{"org.eddy-streams.kafkatest": clusterID}),
				testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = "host" }),
				testcontainers.WithWaitStrategy(wait.ForLog(readyLine).WithStartupTimeout(o.startTimeout)),
			)
			c.containers[i] = ctr
			if err != nil {
				errs[i] = fmt.Errorf("kafkatest: node %d (image %s): %w%s", n.id, o.image, err, logTail(ctr, 40))
			}
		})
	}
	wg.Wait()
	c.startup = time.Since(began)
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, c.Close(context.WithoutCancel(ctx)))
	}

	c.version, err = loggedVersion(ctx, c.containers[0])
	if err != nil {
		return nil, errors.Join(err, c.Close(context.WithoutCancel(ctx)))
	}
	return c, nil
}

// Close kills and removes the nodes the harness started; their data goes with them. It
// does nothing for an external cluster.
func (c *Cluster) Close(ctx context.Context) error {
	errs := make([]error, len(c.containers))
	var wg sync.WaitGroup
	for i, ctr := range c.containers {
		if ctr == nil {
			continue
		}
		wg.Go(func() {
			if err := ctr.Terminate(ctx, testcontainers.StopTimeout(0)); err != nil {
				errs[i] = fmt.Errorf("kafkatest: removing container %s: %w", ctr.GetContainerID(), err)
			}
		})
	}
	wg.Wait()
	c.containers = nil
	return errors.Join(errs...)
}

// loggedVersion reads the version the broker printed at start.
func loggedVersion(ctx context.Context, ctr *testcontainers.DockerContainer) (string, error) {
	logs, err := ctr.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("kafkatest: reading broker log: %w", err)
	}
	defer logs.Close()
	scanner := bufio.NewScanner(logs)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		if m := versionLine.FindStringSubmatch(scanner.Text()); m != nil {
			return m[1], nil
		}
	}
	if err := scanner.Err(); err != nil {
		return "", fmt.Errorf("kafkatest: reading broker log: %w", err)
	}
	return "", errors.New("kafkatest: the broker log names no version")
}

// logTail returns the last n lines of a container's log, for an error message, or "" when
// there is no container or no log.
func logTail(ctr *testcontainers.DockerContainer, n int) string {
	if ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logs, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer logs.Close()
	b, err := io.ReadAll(logs)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return "\nlast lines of its log:\n" + strings.Join(lines, "\n")
}

func setDefaultEnv(key, value string) {
	if _, ok := os.LookupEnv(key); !ok {
		os.Setenv(key, value)
	}
}

// ErrExternal is returned by operations that need containers the harness started.
var ErrExternal = errors.New("kafkatest: the cluster was not started by the harness")

// Pause freezes every node (docker pause): connections stay open but nothing answers,
// as in a broker outage or a long garbage collection pause. Unpause ends it. The
// kernel's freezer sometimes fails to freeze a node in time (runc's "unable to
// freeze", seen once in some sixty pauses of a busy broker); Pause then tries that node
// again, up to five times.
func (c *Cluster) Pause(ctx context.Context) error { return c.docker(ctx, "pause") }

// Unpause lets paused nodes run again.
func (c *Cluster) Unpause(ctx context.Context) error { return c.docker(ctx, "unpause") }

// Stop stops every node (docker stop): its ports close, as those of a cluster that is
// down or not up yet, and its data stays. Start starts it again.
func (c *Cluster) Stop(ctx context.Context) error { return c.docker(ctx, "stop") }

// Start starts stopped nodes again and returns once the cluster answers a metadata
// request with every node, or ctx ends.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.docker(ctx, "start"); err != nil {
		return err
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(c.seeds...))
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	for {
		brokers, err := admin.ListBrokers(ctx)
		if err == nil && len(brokers) == len(c.containers) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: the restarted cluster does not answer: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) docker(ctx context.Context, verb string) error {
	if len(c.containers) == 0 {
		return ErrExternal
	}
	for _, ctr := range c.containers {
		for try := 1; ; try++ {
			out, err := exec.CommandContext(ctx, "docker", verb, ctr.GetContainerID()).CombinedOutput()
			if err == nil {
				break
			}
			if verb != "pause" || !bytes.Contains(out, []byte("unable to freeze")) || try == 5 {
				return fmt.Errorf("kafkatest: docker %s %s: %w: %s", verb, ctr.GetContainerID(), err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}
