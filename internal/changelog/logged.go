package changelog

import (
	"time"

	"github.com/eddy-streams/eddy/store"
)

// Sink sends changelog records. Sends are asynchronous: the engine flushes them before
// it commits, and a failed send fails the commit.
type Sink interface {
	Send(topic string, partition int32, key, value []byte, timestamp time.Time)
}

// Logged wraps a key-value store so that every change is also sent to its changelog
// topic, on the task's partition: puts as the new value, deletes as tombstones (a null
// value), so that compaction keeps exactly the newest state of every key. now gives the
// timestamp of changelog records: that of the record being processed, as in Kafka
// Streams. The returned store implements store.Unlogger, whose Unlogged returns s.
func Logged(s store.KeyValueStore, topic string, partition int32, sink Sink, now func() time.Time) store.KeyValueStore {
	return &loggedStore{KeyValueStore: s, topic: topic, partition: partition, sink: sink, now: now}
}

type loggedStore struct {
	store.KeyValueStore
	topic     string
	partition int32
	sink      Sink
	now       func() time.Time
}

// Unlogged returns the wrapped store: writes through it are not logged.
func (l *loggedStore) Unlogged() store.KeyValueStore { return l.KeyValueStore }

func (l *loggedStore) Put(key, value []byte) error {
	if err := l.KeyValueStore.Put(key, value); err != nil {
		return err
	}
	l.log(key, value)
	return nil
}

func (l *loggedStore) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	existing, found, err := l.KeyValueStore.PutIfAbsent(key, value)
	if err == nil && !found {
		l.log(key, value)
	}
	return existing, found, err
}

func (l *loggedStore) Delete(key []byte) error {
	if err := l.KeyValueStore.Delete(key); err != nil {
		return err
	}
	l.log(key, nil)
	return nil
}

// log sends copies: the store's callers own key and value once the call returns, and the
// send completes later.
func (l *loggedStore) log(key, value []byte) {
	k := append([]byte(nil), key...)
	var v []byte
	if value != nil {
		v = append(make([]byte, 0, len(value)), value...)
	}
	l.sink.Send(l.topic, l.partition, k, v, l.now())
}
