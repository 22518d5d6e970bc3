package topology_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Kafka Streams' TimeWindowedSerializer writes the key then the window start as 8
// big-endian bytes; SessionWindowedSerializer (SessionKeySchema) the key, the end, then
// the start.
func TestWindowedSerdesWriteKafkaStreamsFormats(t *testing.T) {
	w := topology.Windowed[string]{Key: "key", Start: time.UnixMilli(5000), End: time.UnixMilli(15000)}
	timeKeys := topology.TimeWindowedSerde(serde.String(), 10*time.Second)
	b, err := timeKeys.Serialize("t", w)
	if err != nil {
		t.Fatal(err)
	}
	want := binary.BigEndian.AppendUint64([]byte("key"), 5000)
	if !bytes.Equal(b, want) {
		t.Errorf("time-windowed key %x, want %x", b, want)
	}
	back, err := timeKeys.Deserialize("t", b)
	if err != nil || back.Key != "key" || back.Start.UnixMilli() != 5000 || back.End.UnixMilli() != 15000 {
		t.Errorf("time-windowed key read back as %v, %v; want key@5000/15000", back, err)
	}
	sessionKeys := topology.SessionWindowedSerde(serde.String())
	b, err = sessionKeys.Serialize("t", w)
	if err != nil {
		t.Fatal(err)
	}
	want = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte("key"), 15000), 5000)
	if !bytes.Equal(b, want) {
		t.Errorf("session-windowed key %x, want %x", b, want)
	}
	back, err = sessionKeys.Deserialize("t", b)
	if err != nil || back.Key != w.Key || !back.Start.Equal(w.Start) || !back.End.Equal(w.End) {
		t.Errorf("session-windowed key read back as %v, %v; want %v", back, err, w)
	}
	if _, err := timeKeys.Deserialize("t", []byte{1, 2, 3}); !errors.Is(err, serde.ErrSize) {
		t.Errorf("short time-windowed key: %v, want serde.ErrSize", err)
	}
	if _, err := sessionKeys.Deserialize("t", make([]byte, 15)); !errors.Is(err, serde.ErrSize) {
		t.Errorf("short session-windowed key: %v, want serde.ErrSize", err)
	}
}
