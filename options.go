package eddy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Opt configures an App. Options are applied in order; New validates the result, and
// reports a nil Opt as a configuration error.
type Opt func(*config)

type config struct {
	applicationID  string
	seeds          []string
	stateDir       string
	commitInterval time.Duration
	// commitIntervalSet says CommitInterval was given, so ExactlyOnce keeps it.
	commitIntervalSet    bool
	exactlyOnce          bool
	maxTaskIdle          time.Duration
	pollRecords          int
	bufferedPerPartition int
	replication          int16
	onDeserialization    processor.ErrorHandler
	onProcessing         processor.ErrorHandler
	onProduction         processor.ErrorHandler
	deadLetterTopic      string
	stores               store.Engine
	storesSet            bool
	logger               *slog.Logger
	restoreListener      RestoreListener
	stateListener        StateListener
	outageTimeout        time.Duration
	clientOpts           []kgo.Opt
	// nilOpts are the positions, from 1, of the nil options given to New.
	nilOpts []int
}

func defaultConfig() config {
	return config{
		stateDir:             filepath.Join(os.TempDir(), "eddy"),
		commitInterval:       30 * time.Second,
		pollRecords:          1000,
		bufferedPerPartition: 1000,
		replication:          -1,
		outageTimeout:        engine.DefaultOutageTimeout,
		logger:               slog.Default(),
		onDeserialization:    processor.LogAndFail,
		onProcessing:         processor.LogAndFail,
		onProduction:         processor.LogAndFail,
	}
}

// ApplicationID names the application: its consumer group, the prefix of its internal
// topics and its state subdirectory. Required; letters, digits, '.', '_' and '-' only.
// Instances with the same id share the work. Kafka Streams: application.id.
func ApplicationID(id string) Opt { return func(c *config) { c.applicationID = id } }

// SeedBrokers are the brokers to bootstrap from, each host:port ("[::1]:9092" for an
// IPv6 address), the port a number from 1 to 65535. Required; New reports every bad
// address. Kafka Streams: bootstrap.servers, which also requires a port.
func SeedBrokers(addrs ...string) Opt { return func(c *config) { c.seeds = addrs } }

// StateDir is the directory under which the application keeps its local state, in a
// subdirectory named after the application id that one instance at a time may use.
// Default: the "eddy" directory in os.TempDir(). Kafka Streams: state.dir.
func StateDir(dir string) Opt { return func(c *config) { c.stateDir = dir } }

// CommitInterval is how often processing progress is committed: output flushed, input
// offsets committed, stores made durable with their changelog offsets. Default 30s, or
// 100ms with ExactlyOnce, where output becomes visible to read_committed readers only
// at a commit. Kafka Streams: commit.interval.ms.
func CommitInterval(d time.Duration) Opt {
	return func(c *config) { c.commitInterval, c.commitIntervalSet = d, true }
}

// ExactlyOnce turns exactly-once processing on: each commit is a Kafka transaction that
// holds the output records, the changelog records and the input offsets, input is read
// read_committed, a zombie instance whose tasks moved is fenced by the group generation,
// and stores apply a commit's writes only once its transaction committed, so a crash
// never leaves local state ahead of its changelog. Off by default. Kafka Streams:
// processing.guarantee=exactly_once_v2.
func ExactlyOnce() Opt { return func(c *config) { c.exactlyOnce = true } }

// MaxTaskIdle sets how a task with several input partitions (a join, a merge) orders
// their records when one of them is empty. With d >= 0, the task processes none of its
// records while an empty partition may still have records on their way: until the
// consumer has fetched everything the partition held when its end was last learned, and
// then d more. So a backlog is processed in event-time order across the partitions, the
// same whatever the consumer fetched first, at the cost of d of latency (and of a fetch
// round trip) when one input is idle. A negative d never waits: records are processed as
// they are fetched, which is fastest and depends on fetch timing. Default 0. Kafka
// Streams: max.task.idle.ms (KIP-353, KIP-695), whose -1 is a negative d here.
func MaxTaskIdle(d time.Duration) Opt { return func(c *config) { c.maxTaskIdle = d } }

// PollRecords bounds how many records one poll returns, and so how long a rebalance may
// wait for the batch in progress. Default 1000. Kafka Streams: max.poll.records.
func PollRecords(n int) Opt { return func(c *config) { c.pollRecords = n } }

// BufferedRecordsPerPartition is how many fetched records of one input partition a task
// may hold before it processes them; beyond it, fetching that partition pauses until the
// task catches up, so that a task that waits (MaxTaskIdle, restoration) does not buffer
// without bound. Default 1000. Kafka Streams: buffered.records.per.partition.
func BufferedRecordsPerPartition(n int) Opt { return func(c *config) { c.bufferedPerPartition = n } }

// ReplicationFactor is the replication factor of the internal topics the application
// creates. Default -1: the broker's default.replication.factor. Kafka Streams:
// replication.factor.
func ReplicationFactor(n int16) Opt { return func(c *config) { c.replication = n } }

// SkipUndecodableRecords makes the application skip records that its sources and global
// stores cannot deserialize, logging each with its topic, partition and offset and
// counting them in Stats: the shorthand for
// OnDeserializationError(processor.LogAndContinue). By default such a record stops the
// application with a *processor.DeserializationError. Kafka Streams:
// deserialization.exception.handler=LogAndContinueExceptionHandler.
func SkipUndecodableRecords() Opt { return OnDeserializationError(processor.LogAndContinue) }

// OnDeserializationError sets the handler that decides about a record that a source or
// a global store cannot deserialize (its serdes return an error or panic): Fail stops
// the application, Run returning a *processor.DeserializationError; Continue skips the
// record (a global store does not apply it; its offset moves past it all the same),
// counts it in Stats.SkippedUndecodable and writes it to the DeadLetterTopic if there is
// one (not for a global store). The engine logs every decision (WARN when continuing,
// ERROR when failing). Default processor.LogAndFail. Kafka Streams:
// deserialization.exception.handler (KIP-161), default LogAndFailExceptionHandler.
func OnDeserializationError(h processor.ErrorHandler) Opt {
	return func(c *config) { c.onDeserialization = h }
}

// OnProcessingError sets the handler that decides about a failure of user code while
// processing a record: an error a processor returns from Process, or forwards from a
// child, an error of a store, and a panic in any user function called while processing
// (processors, DSL callbacks such as mappers, predicates, aggregators, joiners and key
// selectors, serdes called inside nodes, punctuators, processor.Flusher), which becomes a
// *processor.PanicError with its stack. Fail stops the application, Run returning a
// *processor.ProcessingError; Continue drops the record from the failing node on (its
// further forwards stop; what it did before stays), processing goes on with the next
// record, and its offset is committed as processed, so a poison record is not read
// again; the record goes to the DeadLetterTopic if there is one. A punctuator or a
// flush fails without an input record: Continue goes on with the next one and writes
// no dead-letter record. Errors of Processor.Init and Close always fail. Default
// processor.LogAndFail. Kafka Streams: processing.exception.handler (KIP-1033), default
// LogAndFailProcessingExceptionHandler.
func OnProcessingError(h processor.ErrorHandler) Opt {
	return func(c *config) { c.onProcessing = h }
}

// OnProductionError sets the handler that decides about an output record that cannot be
// written: its sink's serdes fail or panic (decided at once; the FailedRecord is the
// input record, and the dead-letter record too), or the broker refuses it at least once
// (for example a record larger than the topic's max.message.bytes; decided at the next
// commit, before the offsets are committed; the FailedRecord holds the output record,
// and no dead-letter record is written). Fail stops the application, Run returning a
// *processor.ProductionError; Continue drops that output record. Under ExactlyOnce a
// record the broker refuses always fails: franz-go's transactional producer cannot go
// on in that transaction, which must abort, and the record would fail again when
// processed again. Errors that mean the producer was fenced or is not authorized, and
// failures of changelog and dead-letter records, are never the handler's: they fail (or
// make the instance rejoin). Default processor.LogAndFail. Kafka Streams:
// production.exception.handler, default DefaultProductionExceptionHandler.
func OnProductionError(h processor.ErrorHandler) Opt {
	return func(c *config) { c.onProduction = h }
}

// DeadLetterTopic names a topic that receives every input record that an error handler
// continues past (see OnDeserializationError, OnProcessingError, OnProductionError): its
// raw key, value, headers and timestamp, partitioned by its key, plus the headers of
// Kafka Streams' KIP-1034: __streams.errors.exception (the error's Go type),
// __streams.errors.message, __streams.errors.stacktrace (a panic's stack, or else the
// chain of wrapped errors), __streams.errors.topic, __streams.errors.partition and
// __streams.errors.offset (of the input record, in decimal). Under ExactlyOnce the
// dead-letter record is part of the transaction of the record's task, so a crash neither
// loses nor doubles it; at least once it is flushed before the input offset is
// committed. The topic must exist when Run starts (ErrMissingTopics otherwise), like the
// sinks' topics. Default: none. Kafka Streams: errors.dead.letter.queue.topic.name.
func DeadLetterTopic(name string) Opt { return func(c *config) { c.deadLetterTopic = name } }

// StoreEngine sets the engine that holds the application's state stores. Default: a
// Pebble engine with pebblestore's default Options (a 64 MiB block cache shared by every
// task, among others), made when Run starts. Pass pebblestore.New(opts) to tune Pebble,
// or memstore.New() to keep state in memory, so that nothing is written to the state
// directory but its lock and every task restores its stores from their changelogs when
// it starts. Run closes the engine when it returns; if New fails or Run is never called,
// closing it is the caller's. Kafka Streams: default.dsl.store and
// rocksdb.config.setter, which this replaces for the whole application.
func StoreEngine(e store.Engine) Opt {
	return func(c *config) { c.stores, c.storesSet = e, true }
}

// Logger receives the application's logs. Default slog.Default().
func Logger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// OnRestore sets a listener for the progress of state restoration, of task stores and
// of global stores alike. Default: none. Kafka Streams:
// KafkaStreams#setGlobalStateRestoreListener.
func OnRestore(l RestoreListener) Opt { return func(c *config) { c.restoreListener = l } }

// OnStateChange sets a listener told every change of the App's state, in order, with
// the new state first, as Kafka Streams' StateListener.onChange(newState, oldState). It
// is called from the goroutine that made the change, with the App's state held: it
// must return quickly, and must not call Close or wait for Run. Default: none. Kafka
// Streams: KafkaStreams#setStateListener.
func OnStateChange(l StateListener) Opt { return func(c *config) { c.stateListener = l } }

// OutageTimeout is how long the App waits for a Kafka cluster that does not answer
// before Run returns an error wrapping ErrClusterUnavailable: at start, a cluster not
// up yet; mid-run, a broker outage, a frozen broker or a network partition. Meanwhile
// the state is StateDisconnected, nothing is lost, and a commit under way waits (so a
// commit may take this long). The same bound applies to a group membership that keeps
// failing with transient errors. Default 5 minutes. Kafka Streams: task.timeout.ms
// (whose default it takes), which bounds each task's retries instead.
func OutageTimeout(d time.Duration) Opt { return func(c *config) { c.outageTimeout = d } }

// ClientOptions passes options to every franz-go client the application makes, after
// Eddy's own (so they may override them, at the user's risk: consumer group, balancer,
// partitioner and offset handling are Eddy's). Use it for TLS, SASL, timeouts, linger.
// Eddy names its clients <application id>-<instance id>-<role>, the role being stream
// (the group member), restore-consumer, global-consumer or admin, and the instance id
// the one kept in the state directory; a kgo.ClientID here replaces that name. Kafka
// Streams: client.id, whose default is <application.id>-<process id>.
func ClientOptions(opts ...kgo.Opt) Opt {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// checkSeed checks that addr is host:port with a port from 1 to 65535.
func checkSeed(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

var validApplicationID = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// validate returns every problem of c, each wrapped in ErrInvalidConfig.
func (c *config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.applicationID == "":
		bad("ApplicationID is required")
	case !validApplicationID.MatchString(c.applicationID):
		bad("ApplicationID %q may hold only letters, digits, '.', '_' and '-'", c.applicationID)
	case len(c.applicationID) > 200:
		bad("ApplicationID is %d characters; internal topic names need it under 200", len(c.applicationID))
	}
	for _, i := range c.nilOpts {
		bad("option %d of New is nil", i)
	}
	if len(c.seeds) == 0 {
		bad("SeedBrokers is required")
	}
	for _, s := range c.seeds {
		if err := checkSeed(s); err != nil {
			bad("SeedBrokers address %q: %s", s, err)
		}
	}
	if c.stateDir == "" {
		bad("StateDir is empty")
	}
	if c.storesSet && c.stores == nil {
		bad("StoreEngine is nil")
	}
	if c.commitInterval <= 0 {
		bad("CommitInterval must be positive, got %s", c.commitInterval)
	}
	if c.bufferedPerPartition <= 0 {
		bad("BufferedRecordsPerPartition must be positive, got %d", c.bufferedPerPartition)
	}
	if c.pollRecords <= 0 {
		bad("PollRecords must be positive, got %d", c.pollRecords)
	}
	if c.replication == 0 || c.replication < -1 {
		bad("ReplicationFactor must be positive or -1, got %d", c.replication)
	}
	if c.outageTimeout <= 0 {
		bad("OutageTimeout must be positive, got %s", c.outageTimeout)
	}
	if c.logger == nil {
		bad("Logger is nil")
	}
	if c.onDeserialization == nil {
		bad("OnDeserializationError has a nil handler")
	}
	if c.onProcessing == nil {
		bad("OnProcessingError has a nil handler")
	}
	if c.onProduction == nil {
		bad("OnProductionError has a nil handler")
	}
	return errors.Join(errs...)
}
