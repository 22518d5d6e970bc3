// Package task runs one task: one subtopology of a topology on one partition number of
// its source topics, with the task's state stores. It orders the task's input records,
// keeps stream time, drives punctuation, and passes records through the subtopology's
// nodes. It knows nothing of the Kafka client: the engine feeds it records and gives it a
// Collector for what it writes, and so does the test driver.
//
// A Task is used from one goroutine.
package task

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddy-streams/eddy/internal/cache"
	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// Collector sends what a task writes: sink records and changelog records. Send is
// asynchronous; the engine flushes and checks for errors before it commits.
type Collector interface {
	// Send produces a record; a negative partition leaves the choice to the default
	// partitioner (murmur2 of the key). The collector owns key, value and headers.
	Send(topic string, partition int32, key, value []byte, timestamp time.Time, headers []processor.Header)
	// Partitions returns the partition count of topic, for sinks with a partitioner.
	Partitions(topic string) (int32, error)
}

// Config is what a task needs.
type Config struct {
	ID            processor.TaskID
	ApplicationID string
	Subtopology   *plan.Subtopology
	// DB holds the task's stores; the task closes it.
	DB store.TaskDB
	// GlobalStores are the topology's global stores, by name, which processors read when
	// their node lists them (plan.Processor.GlobalStores). The engine owns them
	// and keeps them up to date; the task only reads them, from its goroutine.
	GlobalStores map[string]store.KeyValueStore
	Collector    Collector
	// IdleWait makes a task with several input partitions wait for an empty one before
	// its other inputs run ahead (Kafka Streams' max.task.idle.ms >= 0, KIP-695): until
	// the partition is known to be caught up (SetPosition, SetEnd and the records added
	// tell), and then MaxIdle more. Without it the task processes whatever it holds, as
	// Kafka Streams' max.task.idle.ms = -1 does: what a caller that feeds records in
	// the order it wants them processed (the test driver) needs.
	IdleWait bool
	// MaxIdle is how long a waiting task waits for a caught-up empty partition. Kafka
	// Streams: max.task.idle.ms.
	MaxIdle time.Duration
	// Errors says what to do with records the task cannot deserialize, process or
	// produce (serialization at a sink; produce failures are the collector's).
	Errors ErrorPolicy
	// Now is the wall clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Task is one running task.
type Task struct {
	id            processor.TaskID
	applicationID string
	sub           *plan.Subtopology
	db            store.TaskDB
	collector     Collector
	now           func() time.Time
	log           *slog.Logger
	errors        ErrorPolicy

	group      *partitionGroup
	streamTime time.Time
	// raw are the stores as the engine restores them; stores are the stores processors
	// use, which also write to the changelogs, through a write-back cache when their
	// definition asks for one (caches).
	raw    map[string]store.KeyValueStore
	stores map[string]store.KeyValueStore
	caches []*cache.Store
	// layers are the window and session stores over stores, one per store, which every
	// processor connected to the store shares (StateStore). Abort resets them.
	layers map[string]store.Layer
	// globals are the global stores, read-only.
	globals map[string]store.KeyValueStore

	nodes     map[string]*node
	sources   map[string]*plan.Source // by topic
	schedules []*schedule

	// current is the input record being processed, nil in punctuators. It points to
	// record, so that the records do not each escape to the heap.
	current *queued
	record  queued
	// err is the first error of the record being processed; later forwards of that
	// record are dropped.
	err error
	// consumed holds, per input topic, the offset of the next record to read, as of the
	// last PrepareCommit: the queues hold newer offsets (queue.consumed) until it copies
	// them here. committed holds those of the last commit (PostCommit).
	consumed, committed map[string]int64
	// flushing is set while Flush runs, for the errors it makes.
	flushing bool
	// processed and processedInternal count the records processed from the
	// application's input topics and from its internal topics (see Processed).
	processed         int64
	processedInternal int64
	// skipped counts the undecodable records the deserialization handler continued past.
	skipped     int64
	initialized bool
}

// node is a processor or sink node of the running subtopology.
type node struct {
	name     string
	proc     plan.NodeProcessor // nil for sinks
	sink     *plan.Sink
	stores   map[string]bool
	globals  map[string]bool
	children []*node
	ctx      *nodeContext
}

// New opens the task's stores. The engine then restores them (RawStores) and calls Init.
func New(cfg Config) (*Task, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Task{
		id:            cfg.ID,
		applicationID: cfg.ApplicationID,
		sub:           cfg.Subtopology,
		db:            cfg.DB,
		collector:     cfg.Collector,
		now:           cfg.Now,
		log:           cfg.Logger.With("task", cfg.ID.String()),
		errors:        cfg.Errors,
		group:         newPartitionGroup(cfg.Subtopology.SourceTopics(), cfg.ID.Partition, cfg.IdleWait, cfg.MaxIdle),
		raw:           map[string]store.KeyValueStore{},
		stores:        map[string]store.KeyValueStore{},
		layers:        map[string]store.Layer{},
		globals:       cfg.GlobalStores,
		nodes:         map[string]*node{},
		sources:       map[string]*plan.Source{},
		consumed:      map[string]int64{},
		committed:     map[string]int64{},
	}
	for _, st := range cfg.Subtopology.Stores {
		name := st.Def.Name()
		if st.Def.Logged() && st.Changelog == "" {
			return nil, fmt.Errorf("task %s: store %q is logged but has no changelog topic: the plan was not completed with the application id", t.id, name)
		}
		kv, err := cfg.DB.KeyValue(name)
		if err != nil {
			return nil, fmt.Errorf("task %s: opening store %q: %w", t.id, name, err)
		}
		t.raw[name] = kv
		var s store.KeyValueStore = kv
		if st.Def.Logged() {
			s = changelog.Logged(kv, st.Changelog, t.id.Partition, changelogSink{cfg.Collector}, t.recordTime)
		}
		if n := st.Def.CacheBytes(); n > 0 {
			c := cache.New(s, n)
			t.caches = append(t.caches, c)
			s = c
		}
		t.stores[name] = s
		// An invalid definition gets no layer: its handles fail with its error at their
		// first call, as they do outside a task.
		if l, ok, err := store.NewLayer(st.Def, s); ok && err == nil {
			t.layers[name] = l
		}
	}
	for _, src := range cfg.Subtopology.Sources {
		for _, topic := range src.Topics {
			t.sources[topic] = src
		}
	}
	return t, nil
}

// ID is the task's id.
func (t *Task) ID() processor.TaskID { return t.id }

// Subtopology is the subtopology the task runs.
func (t *Task) Subtopology() *plan.Subtopology { return t.sub }

// UnloggedStore returns the store name as the task's processors see it, but writing to no
// changelog: the raw store, or, for a cached store, its cache.Store.Unlogged view,
// which writes the cache back before each call. For the test driver. For a window or
// session store, it first has the task's layer publish its observed time
// (store.Layer.Publish), so that a layer the caller makes over the store agrees with it.
func (t *Task) UnloggedStore(name string) (store.KeyValueStore, bool, error) {
	if l, ok := t.layers[name]; ok {
		if err := l.Publish(); err != nil {
			return nil, false, fmt.Errorf("task %s: %w", t.id, err)
		}
	}
	for _, c := range t.caches {
		if c.Name() == name {
			return c.Unlogged(), true, nil
		}
	}
	s, ok := t.raw[name]
	return s, ok, nil
}

// StreamTime is the largest event time the task has processed.
func (t *Task) StreamTime() time.Time { return t.streamTime }

// Processed counts the records processed from the application's input topics, the
// sources that are not internal; ProcessedInternal those read back from its internal
// topics (repartition topics, the foreign-key join's subscription and response topics).
// Kafka Streams' process-total counts both. Skipped counts the undecodable records the
// deserialization handler continued past.
func (t *Task) Processed() int64         { return t.processed }
func (t *Task) ProcessedInternal() int64 { return t.processedInternal }
func (t *Task) Skipped() int64           { return t.skipped }

// Dropped counts the records that the task's processors dropped by design, summing
// their counts (plan.DropCounter): records too late for their window, or with a null
// key or value that an operator ignores; and the puts its window and session stores
// dropped because their segment had expired (store.Layer.ExpiredPuts; Kafka Streams
// records both in the task's dropped-records sensor). Undecodable records are not among
// them (see Skipped). Records processed again after a rollback (Abort) count again, as
// in Processed. 0 before Init.
func (t *Task) Dropped() int64 {
	if !t.initialized {
		return 0
	}
	var n int64
	for _, p := range t.sub.Processors {
		if c, ok := t.nodes[p.Name].proc.(plan.DropCounter); ok {
			n += c.DroppedRecords()
		}
	}
	for _, l := range t.layers {
		n += l.ExpiredPuts()
	}
	return n
}

// Buffered is the number of records added but not yet processed.
func (t *Task) Buffered() int { return t.group.buffered() }

// EachBuffered calls fn with each input topic of the task and the number of its records
// added but not yet processed.
func (t *Task) EachBuffered(fn func(topic string, n int)) {
	for _, q := range t.group.queues {
		fn(q.topic, q.len())
	}
}

// Init makes the task's processors and calls their Init, parents first.
func (t *Task) Init() error {
	for _, sink := range t.sub.Sinks {
		t.nodes[sink.Name] = &node{name: sink.Name, sink: sink}
	}
	for _, p := range t.sub.Processors {
		n := &node{name: p.Name, proc: p.New(), stores: map[string]bool{}, globals: map[string]bool{}}
		for _, s := range p.Stores {
			n.stores[s] = true
		}
		for _, s := range p.GlobalStores {
			n.globals[s] = true
		}
		n.ctx = &nodeContext{task: t, node: n}
		t.nodes[p.Name] = n
	}
	link := func(n *node, children []string) error {
		for _, c := range children {
			child, ok := t.nodes[c]
			if !ok {
				return fmt.Errorf("task %s: node %q has unknown child %q", t.id, n.name, c)
			}
			n.children = append(n.children, child)
		}
		return nil
	}
	for _, p := range t.sub.Processors {
		if err := link(t.nodes[p.Name], p.Children); err != nil {
			return err
		}
	}
	for _, src := range t.sub.Sources {
		n := &node{name: src.Name}
		if err := link(n, src.Children); err != nil {
			return err
		}
		t.nodes[src.Name] = n
	}
	for _, p := range t.sub.Processors {
		n := t.nodes[p.Name]
		if err := t.run(n, func() error { return n.proc.Init(n.ctx) }); err != nil {
			return err
		}
	}
	t.initialized = true
	return nil
}

// Add deserializes records and queues them for processing. A record that cannot be
// deserialized (its serdes fail or panic) fails with a *processor.DeserializationError,
// or, if the deserialization handler continues past it, is skipped, counted and written
// to the dead-letter topic.
// Transaction markers (Input.Control) are not queued: they only move the offsets.
func (t *Task) Add(records []Input) error {
	for _, in := range records {
		src, ok := t.sources[in.Topic]
		q := t.group.queue(in.Topic)
		if !ok || q == nil || in.Partition != t.id.Partition {
			return fmt.Errorf("task %s: record of topic %q partition %d does not belong to it", t.id, in.Topic, in.Partition)
		}
		q.fetched(in.Offset)
		if in.Control {
			q.skip(in.Offset)
			continue
		}
		meta := processor.RecordMetadata{Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
		raw := rawInput{key: in.Key, value: in.Value, headers: in.Headers, timestamp: in.Timestamp}
		rec, err := decode(src, in)
		if err != nil {
			derr := &processor.DeserializationError{Task: t.id, Source: src.Name, Record: meta, Err: err}
			if !t.decide(deserializationKind, processor.FailedRecord{
				Task: t.id, Node: src.Name, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset,
				Timestamp: in.Timestamp, Key: in.Key, Value: in.Value, Headers: in.Headers, Err: derr,
			}) {
				return derr
			}
			q.skip(in.Offset)
			continue
		}
		q.push(queued{record: rec, meta: meta, source: src, queue: q, raw: raw})
	}
	return nil
}

// decode deserializes in with src's serdes, a panic of theirs an error.
func decode(src *plan.Source, in Input) (r plan.Record, err error) {
	defer recoverPanic(&err)
	return src.Decode(in.Topic, in.Key, in.Value, in.Timestamp, in.Headers)
}

// SetPosition tells the task where the consumer starts reading its input partition of
// topic: the offset of the first record it will hand over. A waiting task
// (Config.IdleWait) needs it to know when the partition is caught up.
func (t *Task) SetPosition(topic string, offset int64) {
	if q := t.group.queue(topic); q != nil {
		q.start, q.position = offset, max(q.position, offset)
	}
}

// SetEnd tells the task the end of its input partition of topic as the consumer last
// learned it: the high watermark, or the last stable offset for a read_committed
// consumer. The engine calls it with every fetch that hands over records, and after
// listing the ends of the partitions that EachBlocking reports.
func (t *Task) SetEnd(topic string, end int64) {
	if q := t.group.queue(topic); q != nil {
		q.end = end
	}
}

// EachBlocking calls fn with each empty input partition that keeps a waiting task
// (Config.IdleWait) from processing the records it holds: position is where the
// consumer reads it and end where it ends, -1 where the task does not know.
func (t *Task) EachBlocking(fn func(topic string, position, end int64)) {
	t.group.blocking(func(q *queue) { fn(q.topic, q.position, q.end) })
}

// AssumeCaughtUp makes the task treat its input partition of topic as caught up at
// end: for a partition whose end lies past records the consumer will never hand over
// (removed by compaction or retention after the end was learned).
func (t *Task) AssumeCaughtUp(topic string, end int64) {
	if q := t.group.queue(topic); q != nil {
		q.end, q.position = end, max(q.position, end)
	}
}

// Process processes the next record, if one is ready, and the stream-time punctuators it
// makes due. It reports whether it processed a record.
func (t *Task) Process() (bool, error) {
	r, ok := t.group.next(t.now)
	if !ok {
		return false, nil
	}
	if r.record.Timestamp.After(t.streamTime) {
		t.streamTime = r.record.Timestamp
	}
	t.record = r
	t.current = &t.record
	src := t.nodes[r.source.Name]
	err := t.run(src, func() error {
		t.forward(src, "", r.record)
		return nil
	})
	failed := err != nil && !t.continueProcessing(err)
	t.current, t.record = nil, queued{}
	if failed {
		return true, err
	}
	r.queue.consumed = r.meta.Offset + 1
	if r.queue.len() == 0 {
		r.queue.consumed = max(r.queue.consumed, r.queue.skippedTo)
	}
	if r.source.Internal {
		t.processedInternal++
	} else {
		t.processed++
	}
	_, err = t.punctuate(processor.StreamTime, t.streamTime)
	return true, err
}

// PunctuateWallClock runs the wall-clock punctuators that are due.
func (t *Task) PunctuateWallClock() (bool, error) {
	return t.punctuate(processor.WallClockTime, t.now())
}

// Close closes the processors (children first) and the stores. A task closed unclean
// (after an error, or when its partitions were lost) drops the writes since its last
// commit.
func (t *Task) Close(clean bool) error {
	var errs []error
	if t.initialized {
		for i := len(t.sub.Processors) - 1; i >= 0; i-- {
			n := t.nodes[t.sub.Processors[i].Name]
			if err := call(n.proc.Close); err != nil {
				errs = append(errs, fmt.Errorf("task %s: closing node %q: %w", t.id, n.name, err))
			}
		}
	}
	if !clean {
		if err := t.db.Abort(); err != nil {
			errs = append(errs, fmt.Errorf("task %s: dropping uncommitted writes: %w", t.id, err))
		}
	}
	if err := t.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("task %s: closing stores: %w", t.id, err))
	}
	return errors.Join(errs...)
}

// run calls fn as node n and turns the first error of it or of the nodes it forwards to
// (a panic included) into a *processor.ProcessingError; a *processor.ProductionError
// that the production handler did not continue past stays as it is.
func (t *Task) run(n *node, fn func() error) error {
	t.err = nil
	if err := call(fn); err != nil && t.err == nil {
		t.fail(n, err)
	}
	err := t.err
	t.err = nil
	return err
}

func (t *Task) fail(n *node, err error) {
	var perr *processor.ProcessingError
	var prod *processor.ProductionError
	if errors.As(err, &perr) || errors.As(err, &prod) {
		t.err = err
		return
	}
	meta := processor.RecordMetadata{Offset: -1}
	if t.current != nil {
		meta = t.current.meta
	}
	t.err = &processor.ProcessingError{Task: t.id, Node: n.name, Record: meta, Flushing: t.flushing, Initializing: !t.initialized, Err: err}
}

// forward passes r from node from to its children, or to the one named child.
func (t *Task) forward(from *node, child string, r plan.Record) {
	for _, c := range from.children {
		if t.err != nil {
			return
		}
		if child != "" && c.name != child {
			continue
		}
		if err := t.deliver(c, r); err != nil && t.err == nil {
			t.fail(c, err)
		}
	}
	if child != "" && t.err == nil && !hasChild(from, child) {
		t.fail(from, fmt.Errorf("forward to %q, which is not a child of %q", child, from.name))
	}
}

func hasChild(n *node, name string) bool {
	for _, c := range n.children {
		if c.name == name {
			return true
		}
	}
	return false
}

// continueProcessing asks the processing handler about err, a failure of the record
// being processed (or of a punctuator or flush without one), and reports whether to go
// on. A *processor.ProductionError was decided on already, at its sink.
func (t *Task) continueProcessing(err error) bool {
	perr, ok := errors.AsType[*processor.ProcessingError](err)
	if !ok {
		return false
	}
	return t.decide(processingKind, t.failedRecord(perr.Node, err))
}

// deliver passes r to node n: a processor processes it, a sink encodes and sends it. A
// panic becomes the error, of n.
func (t *Task) deliver(n *node, r plan.Record) (err error) {
	defer recoverPanic(&err)
	if n.sink == nil {
		return n.proc.Process(r)
	}
	key, value, err := encode(n.sink, r)
	if err != nil {
		perr := &processor.ProductionError{Task: t.id, Sink: n.name, Topic: n.sink.Topic, Partition: -1, Input: processor.RecordMetadata{Partition: -1, Offset: -1}, Err: err}
		if t.current != nil {
			perr.Input = t.current.meta
		}
		if t.decide(productionKind, t.failedRecord(n.name, perr)) {
			return nil
		}
		return perr
	}
	partition := int32(-1)
	if n.sink.Partition != nil {
		count, err := t.collector.Partitions(n.sink.Topic)
		if err != nil {
			return err
		}
		partition = n.sink.Partition(r, count)
		if partition < 0 || partition >= count {
			return fmt.Errorf("partitioner chose partition %d of topic %q, which has %d", partition, n.sink.Topic, count)
		}
	}
	t.collector.Send(n.sink.Topic, partition, key, value, r.Timestamp, r.Headers)
	return nil
}

// encode serializes r with sink's serdes, a panic of theirs an error.
func encode(sink *plan.Sink, r plan.Record) (key, value []byte, err error) {
	defer recoverPanic(&err)
	return sink.Encode(r)
}

// recordTime is the timestamp of the record being processed, or stream time in a
// punctuator: the timestamp of changelog records.
func (t *Task) recordTime() time.Time {
	if t.current != nil {
		return t.current.record.Timestamp
	}
	return t.streamTime
}

type changelogSink struct{ c Collector }

func (s changelogSink) Send(topic string, partition int32, key, value []byte, ts time.Time) {
	s.c.Send(topic, partition, key, value, ts, nil)
}
