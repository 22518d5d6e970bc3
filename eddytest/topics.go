package eddytest

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// Input writes typed records to a topic of a Driver.
type Input[K, V any] struct {
	d      *Driver
	topic  string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

// InputTopic returns a typed writer of topic.
func InputTopic[K, V any](d *Driver, topic string, keys serde.Serde[K], values serde.Serde[V]) *Input[K, V] {
	return &Input[K, V]{d: d, topic: topic, keys: keys, values: values}
}

// Pipe serializes a record, writes it and processes it with everything it causes.
func (in *Input[K, V]) Pipe(key K, value V, timestamp time.Time) error {
	return in.PipeRecord(processor.Record[K, V]{Key: key, Value: value, Timestamp: timestamp})
}

// PipeRecord is Pipe with headers.
func (in *Input[K, V]) PipeRecord(r processor.Record[K, V]) error {
	k, err := in.keys.Serialize(in.topic, r.Key)
	if err != nil {
		return fmt.Errorf("eddytest: serializing key for %s: %w", in.topic, err)
	}
	v, err := in.values.Serialize(in.topic, r.Value)
	if err != nil {
		return fmt.Errorf("eddytest: serializing value for %s: %w", in.topic, err)
	}
	return in.d.PipeRaw(in.topic, Record{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
}

// Output reads typed records from a topic of a Driver.
type Output[K, V any] struct {
	d      *Driver
	topic  string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

// OutputTopic returns a typed reader of topic.
func OutputTopic[K, V any](d *Driver, topic string, keys serde.Serde[K], values serde.Serde[V]) *Output[K, V] {
	return &Output[K, V]{d: d, topic: topic, keys: keys, values: values}
}

// ReadAll returns the records written to the topic since the last read, oldest first.
// A record with a null key or a null value (a tombstone) is an error that names it,
// whatever the serdes would make of nil: read such topics with ReadAllWithNulls, which
// marks them. A topic the topology never writes is an error (ErrUnknownTopic). When it
// fails, ReadAll returns the records before the failing one and does not move the read
// position.
func (o *Output[K, V]) ReadAll() ([]processor.Record[K, V], error) {
	records, l, err := o.unread()
	out := make([]processor.Record[K, V], 0, len(records))
	for i, r := range records {
		if r.KeyNull || r.ValueNull {
			return out, fmt.Errorf("eddytest: %s record %d has a null %s: read the topic with ReadAllWithNulls", o.topic, l.read+i, nullPart(r.KeyNull))
		}
		out = append(out, processor.Record[K, V]{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers})
	}
	if err != nil {
		return out, err
	}
	l.read += len(records)
	return out, nil
}

// nullPart names the null part of a record in ReadAll's error.
func nullPart(key bool) string {
	if key {
		return "key"
	}
	return "value (a tombstone)"
}

// LatestValues reads the unread records of o and returns the newest value of each key,
// as a compacted topic would keep it: a tombstone (null value) deletes its key. A record
// with a null key, which a compacted topic refuses, is an error.
func LatestValues[K comparable, V any](o *Output[K, V]) (map[K]V, error) {
	records, err := o.ReadAllWithNulls()
	latest := make(map[K]V, len(records))
	for _, r := range records {
		switch {
		case r.KeyNull:
			return latest, fmt.Errorf("eddytest: %s: LatestValues of a record with a null key", o.topic)
		case r.ValueNull:
			delete(latest, r.Key)
		default:
			latest[r.Key] = r.Value
		}
	}
	return latest, err
}
