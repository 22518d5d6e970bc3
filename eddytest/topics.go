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
func (o *Output[K, V]) ReadAll() ([]processor.Record[K, V], error) {
	l := o.d.log(o.topic)
	unread := l.records[l.read:]
	out := make([]processor.Record[K, V], 0, len(unread))
	for i, r := range unread {
		k, err := o.keys.Deserialize(o.topic, r.Key)
		if err != nil {
			return out, fmt.Errorf("eddytest: %s record %d: key: %w", o.topic, l.read+i, err)
		}
		v, err := o.values.Deserialize(o.topic, r.Value)
		if err != nil {
			return out, fmt.Errorf("eddytest: %s record %d: value: %w", o.topic, l.read+i, err)
		}
		out = append(out, processor.Record[K, V]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
	}
	l.read = len(l.records)
	return out, nil
}

// LatestValues reads the unread records of o and returns the newest value of each key,
// as a compacted topic would keep it.
func LatestValues[K comparable, V any](o *Output[K, V]) (map[K]V, error) {
	records, err := o.ReadAll()
	latest := make(map[K]V, len(records))
	for _, r := range records {
		latest[r.Key] = r.Value
	}
	return latest, err
}
