// Package eddytest runs a topology in memory, synchronously, through the same task code
// that runs it against Kafka, in the spirit of net/http/httptest and Kafka Streams'
// TopologyTestDriver. No broker, no goroutines: piping a record in processes it, and
// everything it causes, before Pipe returns.
//
// Every topic has one partition, so each subtopology runs as one task (partition 0).
// Records written to a topic that another subtopology reads are processed by it in turn,
// internal (repartition) topics included, whose names the application id completes.
// Records written to the topic of a global store are applied to the store at once.
// Stores are in memory. By default the driver commits after every piped record, first
// flushing the processors that hold records back (processor.Flusher); with ManualCommit
// it commits only when the test calls Commit.
//
// The driver catches a test's mistakes: piping into a topic that nothing reads, or
// reading one that the topology never writes, is ErrUnknownTopic; ReadAll refuses a
// tombstone (a null value) rather than let a serde read it as a value. The DSL's stores
// are read with TableStore, WindowStore and SessionStore. See the package example.
package eddytest

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/internal/task"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/topology"
)

// Driver runs one topology. It is not safe for concurrent use.
type Driver struct {
	topo   *plan.Topology
	now    time.Time
	engine store.Engine
	tasks  []*task.Task
	// manual says the driver commits only when Commit is called.
	manual bool
	// globalDB holds the global stores; globals are the global stores by topic.
	globalDB store.TaskDB
	globals  map[string]globalStore
	byTopic  map[string]*task.Task
	// written are the topics the topology writes: sink topics (repartition topics
	// included), changelogs and the dead-letter topic, the ones an Output may read.
	written map[string]bool
	// topics holds every record written, per topic, with the read position of tests.
	topics map[string]*topicLog
	// offsets counts the records piped into each topic.
	offsets map[string]int64
	// deferred holds errors of records written to topics that tasks read, which the
	// collector cannot return; the drain loop returns them.
	deferred []error
	// errors are the error handlers, for the global stores (the tasks have their own).
	errors task.ErrorPolicy
	closed bool
}

// Option configures a Driver.
type Option func(*options)

type options struct {
	applicationID string
	wallClock     time.Time
	errors        task.ErrorPolicy
	manualCommit  bool
}

// ApplicationID sets the application id that processors see and that completes the
// names of changelog topics (<id>-<store>-changelog) and internal topics (<id>-<name>).
// Default "eddytest".
func ApplicationID(id string) Option { return func(o *options) { o.applicationID = id } }

// ManualCommit makes the driver commit only when the test calls Driver.Commit, instead
// of after every piped record: processors that hold records back between commits, such
// as a record cache, then show what they hold back (several updates of a key collapse
// into one output at the commit).
func ManualCommit() Option { return func(o *options) { o.manualCommit = true } }

// WallClock sets the driver's wall-clock time at start. Default: time.Now().
func WallClock(t time.Time) Option { return func(o *options) { o.wallClock = t } }

// SkipUndecodableRecords makes sources and global stores skip records they cannot
// deserialize, as the App option of the same name does: the shorthand for
// OnDeserializationError(processor.LogAndContinue). By default Pipe returns the error.
func SkipUndecodableRecords() Option { return OnDeserializationError(processor.LogAndContinue) }

// OnDeserializationError, OnProcessingError and OnProductionError set the error handlers
// as the App options of the same names do (a produce failure cannot happen in the
// driver). By default every failure fails: Pipe returns it, a panic in user code as a
// *processor.ProcessingError wrapping a *processor.PanicError.
func OnDeserializationError(h processor.ErrorHandler) Option {
	return func(o *options) { o.errors.Deserialization = h }
}

// OnProcessingError: see OnDeserializationError.
func OnProcessingError(h processor.ErrorHandler) Option {
	return func(o *options) { o.errors.Processing = h }
}

// OnProductionError: see OnDeserializationError.
func OnProductionError(h processor.ErrorHandler) Option {
	return func(o *options) { o.errors.Production = h }
}

// DeadLetterTopic names the topic that receives the records the handlers continue past,
// as the App option of the same name does; read it as any output topic.
func DeadLetterTopic(name string) Option { return func(o *options) { o.errors.DeadLetterTopic = name } }

type topicLog struct {
	records []Record
	read    int
}

// Record is a record as written to a topic, before deserialization.
type Record struct {
	Key, Value []byte
	Timestamp  time.Time
	Headers    []processor.Header
}

// New starts every task of the topology. Close releases them.
func New(topo *topology.Topology, opts ...Option) (*Driver, error) {
	o := options{applicationID: "eddytest", wallClock: time.Now()}
	for _, opt := range opts {
		opt(&o)
	}
	built := plan.Of(topo)
	if built == nil {
		return nil, errors.New("eddytest: nil topology, or one not made by Builder.Build")
	}
	// Every topic name below is complete.
	built = built.Complete(o.applicationID)
	d := &Driver{
		topo:    built,
		now:     o.wallClock,
		engine:  memstore.New(),
		manual:  o.manualCommit,
		byTopic: map[string]*task.Task{},
		topics:  map[string]*topicLog{},
		offsets: map[string]int64{},
		globals: map[string]globalStore{},
		errors:  o.errors,
		written: map[string]bool{},
	}
	for _, topic := range built.SinkTopics() {
		d.written[topic] = true
	}
	if o.errors.DeadLetterTopic != "" {
		d.written[o.errors.DeadLetterTopic] = true
	}
	globals, err := d.openGlobals()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("eddytest: %w", err), d.Close())
	}
	for _, sub := range built.Subtopologies {
		db, err := d.engine.Open("")
		if err != nil {
			return nil, errors.Join(fmt.Errorf("eddytest: %w", err), d.Close())
		}
		t, err := task.New(task.Config{
			ID:            processor.TaskID{Subtopology: sub.ID, Partition: 0},
			ApplicationID: o.applicationID,
			Subtopology:   sub,
			DB:            db,
			GlobalStores:  globals,
			Collector:     collector{d},
			Errors:        o.errors,
			Now:           func() time.Time { return d.now },
		})
		if err == nil {
			err = t.Init()
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("eddytest: %w", err), db.Close(), d.Close())
		}
		d.tasks = append(d.tasks, t)
		for _, st := range sub.Stores {
			if st.Changelog != "" {
				d.written[st.Changelog] = true
			}
		}
		for _, topic := range sub.SourceTopics() {
			d.byTopic[topic] = t
		}
	}
	return d, nil
}

// openGlobals opens the global stores in one database, as the engine does.
func (d *Driver) openGlobals() (map[string]store.KeyValueStore, error) {
	defs := d.topo.GlobalStores
	if len(defs) == 0 {
		return nil, nil
	}
	db, err := d.engine.Open("")
	if err != nil {
		return nil, err
	}
	d.globalDB = db
	byName := map[string]store.KeyValueStore{}
	for _, g := range defs {
		kv, err := db.KeyValue(g.Def.Name())
		if err != nil {
			return nil, fmt.Errorf("opening global store %q: %w", g.Def.Name(), err)
		}
		byName[g.Def.Name()] = kv
		d.globals[g.Topic] = globalStore{GlobalStore: g, kv: kv}
	}
	return byName, nil
}

// globalStore is a global store with its store.
type globalStore struct {
	plan.GlobalStore
	kv store.KeyValueStore
}

// applyGlobal writes a record of a global store's topic to the store and commits it.
func (d *Driver) applyGlobal(g globalStore, r Record) error {
	in := task.Input{Topic: g.Topic, Offset: int64(len(d.log(g.Topic).records)) - 1, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers}
	if _, err := task.ApplyGlobal(g.GlobalStore, g.kv, in, d.errors, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("eddytest: %w", err)
	}
	return d.globalDB.Commit(nil)
}

// ErrUnknownTopic is the error, tested with errors.Is, of piping into a topic that no
// source or global store of the topology reads, and of reading a topic that the
// topology never writes (no sink writes it, it is no store's changelog and not the
// dead-letter topic): a test that misspells a topic fails instead of passing for the
// wrong reason. Kafka Streams' TopologyTestDriver throws for an unknown input topic and
// only logs a warning for an unknown output topic; Eddy has no dynamic routing
// (TopicNameExtractor), so every topic the topology may write is known when it is
// built, and both are errors.
var ErrUnknownTopic = errors.New("unknown topic")

// unknownTopic returns the error of a topic that the topology does not read (the
// input side) or write.
func unknownTopic(topic, what string, known []string) error {
	return fmt.Errorf("eddytest: %w %q: the topology %s %q", ErrUnknownTopic, topic, what, known)
}

// PipeRaw writes a record of bytes to topic and processes it and everything it causes.
// A record of the topic of a global store is applied to the store. A topic that no
// source or global store reads is an error (ErrUnknownTopic), and nothing is written.
func (d *Driver) PipeRaw(topic string, r Record) error {
	if d.closed {
		return errors.New("eddytest: driver closed")
	}
	g, global := d.globals[topic]
	t, read := d.byTopic[topic]
	if !global && !read {
		known := slices.Concat(d.topo.SourceTopics(), slices.Collect(maps.Keys(d.globals)))
		slices.Sort(known)
		return unknownTopic(topic, "reads only", known)
	}
	d.log(topic).records = append(d.log(topic).records, r)
	if global {
		return d.applyGlobal(g, r)
	}
	offset := d.offsets[topic]
	d.offsets[topic]++
	err := t.Add([]task.Input{{
		Topic: topic, Partition: 0, Offset: offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers,
	}})
	if err != nil {
		return err
	}
	return d.drain()
}

// drain processes every queued record of every task, including those that tasks write
// to topics that other tasks read, then commits unless commits are manual.
func (d *Driver) drain() error {
	if _, err := d.process(); err != nil {
		return err
	}
	if d.manual {
		return nil
	}
	return d.commit()
}

// process processes every queued record of every task, including those that tasks
// write to topics that other tasks read, and reports whether there were any.
func (d *Driver) process() (bool, error) {
	processed := false
	for progress := true; progress; {
		progress = false
		for _, t := range d.tasks {
			for {
				ok, err := t.Process()
				if err = errors.Join(append(d.deferred, err)...); err != nil {
					d.deferred = nil
					return processed, err
				}
				if !ok {
					break
				}
				progress, processed = true, true
			}
		}
	}
	return processed, nil
}

// maxFlushRounds bounds the rounds of flushing and processing of one commit: what a
// task flushes to a topic that another task reads may be held back there and flushed in
// the next round, and so on down the topology; a processor that forwards something at
// every flush would never let a commit end.
const maxFlushRounds = 1000

// Commit commits as the engine does, through the same task code: every task flushes
// the records its processors hold back (processor.Flusher), what that causes is
// processed (and flushed in turn), and the stores commit. Without ManualCommit the
// driver already commits after every piped record, and Commit has nothing left to do.
func (d *Driver) Commit() error {
	if d.closed {
		return errors.New("eddytest: driver closed")
	}
	return d.commit()
}

func (d *Driver) commit() error {
	for round := 0; ; round++ {
		if round == maxFlushRounds {
			return fmt.Errorf("eddytest: processors still forward records after %d rounds of flushing", round)
		}
		for _, t := range d.tasks {
			if _, err := t.PrepareCommit(); err != nil {
				return err
			}
		}
		more, err := d.process()
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	// The driver keeps no changelogs: the stores commit without checkpoints.
	for _, t := range d.tasks {
		if err := t.PostCommit(noChangelog); err != nil {
			return err
		}
	}
	return nil
}

func noChangelog(string, int32) (int64, bool) { return 0, false }

// AdvanceWallClock moves the wall clock forward by by, running the wall-clock
// punctuators that become due (each at most once, as in Kafka Streams).
func (d *Driver) AdvanceWallClock(by time.Duration) error {
	if by < 0 {
		return fmt.Errorf("eddytest: the wall clock does not go back (%s)", by)
	}
	d.now = d.now.Add(by)
	for _, t := range d.tasks {
		if _, err := t.PunctuateWallClock(); err != nil {
			return err
		}
	}
	return d.drain()
}

// KeyValueStore returns a store of the topology as bytes, as its processors see it but
// without changelog logging, or a global store. For a store of the Processor API, wrap
// it with the definition the processors use (see the example). The stores of the DSL
// hold timestamped values (and windows or sessions): read them with TableStore,
// WindowStore and SessionStore, which decode them with the store's own serdes. A store
// with a cache (store.WithCaching; the DSL's tables and aggregations) writes its cache
// back, to the store and its changelog, before each call, as a commit would. A window
// or session store wrapped with its definition hides what the processors' store had
// expired when KeyValueStore was called: take the store again after piping more
// records.
func (d *Driver) KeyValueStore(name string) (store.KeyValueStore, error) {
	for _, t := range d.tasks {
		if s, ok, err := t.UnloggedStore(name); err != nil {
			return nil, fmt.Errorf("eddytest: %w", err)
		} else if ok {
			return s, nil
		}
	}
	for _, g := range d.globals {
		if g.Def.Name() == name {
			return g.kv, nil
		}
	}
	return nil, d.noStore(name)
}

// DroppedRecords returns how many records the topology's operators dropped so far:
// records late for their window, and records with a null key or value that an operator
// ignores, counted as eddy.Stats.DroppedRecords counts them (plan.DropCounter).
// Kafka Streams: the dropped-records metric of TopologyTestDriver#metrics.
func (d *Driver) DroppedRecords() int64 {
	var n int64
	for _, t := range d.tasks {
		n += t.Dropped()
	}
	return n
}

// Written returns every record written to topic so far, oldest first, raw: input topics
// (what was piped), output topics and changelog topics (<application id>-<store>-changelog)
// alike. Unlike Output, it does not check the topic: nil is also the answer for a topic
// that nothing reads or writes.
func (d *Driver) Written(topic string) []Record {
	return slices.Clone(d.log(topic).records)
}

// Close closes every task and its stores.
func (d *Driver) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, t := range d.tasks {
		errs = append(errs, t.Close(true))
	}
	if d.globalDB != nil {
		errs = append(errs, d.globalDB.Close())
	}
	errs = append(errs, d.engine.Close())
	return errors.Join(errs...)
}

// outputLog returns the log of a topic that the topology writes, or ErrUnknownTopic.
func (d *Driver) outputLog(topic string) (*topicLog, error) {
	if !d.written[topic] {
		return nil, unknownTopic(topic, "writes only", slices.Sorted(maps.Keys(d.written)))
	}
	return d.log(topic), nil
}

func (d *Driver) log(topic string) *topicLog {
	l, ok := d.topics[topic]
	if !ok {
		l = &topicLog{}
		d.topics[topic] = l
	}
	return l
}

// collector keeps what tasks write in the driver's topics.
type collector struct{ d *Driver }

func (c collector) Send(topic string, _ int32, key, value []byte, ts time.Time, headers []processor.Header) {
	l := c.d.log(topic)
	l.records = append(l.records, Record{Key: key, Value: value, Timestamp: ts, Headers: headers})
	if g, ok := c.d.globals[topic]; ok {
		// A topology that writes the topic of a global store updates the store, as on
		// Kafka (there a little later).
		if err := c.d.applyGlobal(g, Record{Key: key, Value: value, Timestamp: ts}); err != nil {
			c.d.deferred = append(c.d.deferred, err)
		}
		return
	}
	t, ok := c.d.byTopic[topic]
	if !ok {
		return
	}
	offset := c.d.offsets[topic]
	c.d.offsets[topic]++
	// Queued now, processed by the drain loop of the record that caused it.
	if err := t.Add([]task.Input{{Topic: topic, Offset: offset, Key: key, Value: value, Timestamp: ts, Headers: headers}}); err != nil {
		c.d.deferred = append(c.d.deferred, err)
	}
}

func (collector) Partitions(string) (int32, error) { return 1, nil }
