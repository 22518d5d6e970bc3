package eddytest

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/processor"
)

// TestRecord is a typed record that may have a Kafka null key or value, which a Go
// value of type K or V cannot show: KeyNull and ValueNull say so, and Key or Value is
// then the zero value. A record with a null value is a tombstone for tables; one with a
// null key is keyless. Kafka Streams: TestRecord<K, V>, whose key and value are null.
type TestRecord[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []processor.Header
	KeyNull   bool
	ValueNull bool
}

// PipeNullValue writes a record with a null value (a tombstone) and processes it with
// everything it causes.
func (in *Input[K, V]) PipeNullValue(key K, timestamp time.Time) error {
	return in.PipeWithNulls(TestRecord[K, V]{Key: key, Timestamp: timestamp, ValueNull: true})
}

// PipeNullKey writes a record with a null key and processes it with everything it
// causes.
func (in *Input[K, V]) PipeNullKey(value V, timestamp time.Time) error {
	return in.PipeWithNulls(TestRecord[K, V]{Value: value, Timestamp: timestamp, KeyNull: true})
}

// PipeWithNulls writes r, with a null key when r.KeyNull and a null value when
// r.ValueNull (what is in Key or Value is then ignored), and processes it with
// everything it causes. Otherwise it is PipeRecord.
func (in *Input[K, V]) PipeWithNulls(r TestRecord[K, V]) error {
	var k, v []byte
	var err error
	if !r.KeyNull {
		if k, err = in.keys.Serialize(in.topic, r.Key); err != nil {
			return fmt.Errorf("eddytest: serializing key for %s: %w", in.topic, err)
		}
	}
	if !r.ValueNull {
		if v, err = in.values.Serialize(in.topic, r.Value); err != nil {
			return fmt.Errorf("eddytest: serializing value for %s: %w", in.topic, err)
		}
	}
	return in.d.PipeRaw(in.topic, Record{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
}

// ReadAllWithNulls is ReadAll for topics that may hold null keys or values: a nil key or
// value is not deserialized but marked KeyNull or ValueNull, so a tombstone is told from
// a value whatever the serde (serde.String would read nil as ""). It shares its read
// position with ReadAll, and like ReadAll does not move it when it fails.
func (o *Output[K, V]) ReadAllWithNulls() ([]TestRecord[K, V], error) {
	records, l, err := o.unread()
	if err == nil {
		l.read += len(records)
	}
	return records, err
}

// unread decodes the unread records of the topic, up to the first that fails, without
// moving the read position. A topic the topology does not write is ErrUnknownTopic.
func (o *Output[K, V]) unread() ([]TestRecord[K, V], *topicLog, error) {
	l, err := o.d.outputLog(o.topic)
	if err != nil {
		return nil, &topicLog{}, err
	}
	unread := l.records[l.read:]
	out := make([]TestRecord[K, V], 0, len(unread))
	for i, r := range unread {
		tr := TestRecord[K, V]{Timestamp: r.Timestamp, Headers: r.Headers, KeyNull: r.Key == nil, ValueNull: r.Value == nil}
		if !tr.KeyNull {
			if tr.Key, err = o.keys.Deserialize(o.topic, r.Key); err != nil {
				return out, l, fmt.Errorf("eddytest: %s record %d: key: %w", o.topic, l.read+i, err)
			}
		}
		if !tr.ValueNull {
			if tr.Value, err = o.values.Deserialize(o.topic, r.Value); err != nil {
				return out, l, fmt.Errorf("eddytest: %s record %d: value: %w", o.topic, l.read+i, err)
			}
		}
		out = append(out, tr)
	}
	return out, l, nil
}
