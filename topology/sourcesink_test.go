package topology_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// edges builds source "in" of topic "input" and sink "out" of topic "output", both of
// string keys and int64 values, and returns them.
func edges(t *testing.T, srcOpts []topology.SourceOption, sinkOpts []topology.SinkOption[string, int64]) (*plan.Source, *plan.Sink) {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{"input"}, srcOpts...)
	topology.AddSink(b, "out", "output", serde.String(), serde.Int64(), []string{"in"}, sinkOpts...)
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	s := plan.Of(topo).Subtopologies[0]
	return s.Sources[0], s.Sinks[0]
}

func int64Bytes(t *testing.T, v int64) []byte {
	t.Helper()
	b, err := serde.Int64().Serialize("", v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeEncodeRoundTrip(t *testing.T) {
	src, sink := edges(t, nil, nil)
	ts := time.UnixMilli(1700000000000)
	headers := []processor.Header{{Key: "trace", Value: []byte("x")}}
	r, err := src.Decode("input", []byte("word"), int64Bytes(t, 7), ts, headers)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if r.Key != "word" || r.Value != int64(7) || !r.Timestamp.Equal(ts) || len(r.Headers) != 1 || r.Headers[0].Key != "trace" {
		t.Fatalf("Decode returned %+v, want word, 7, the record's timestamp and headers", r)
	}
	key, value, err := sink.Encode(r)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if string(key) != "word" || string(value) != string(int64Bytes(t, 7)) {
		t.Errorf("Encode returned %q, %q", key, value)
	}
	if sink.Partition != nil {
		t.Error("a sink without partitioner has a Partition function")
	}
}

func TestDecodeErrors(t *testing.T) {
	errLate := errors.New("too late")
	tests := []struct {
		name       string
		opts       []topology.SourceOption
		key, value []byte
		want       []string
		is         error
	}{
		{
			name:  "a value the serde rejects is an error (the task's names the source and topic)",
			key:   []byte("k"),
			value: []byte{1, 2, 3},
			want:  []string{`value: serde: wrong number of bytes`},
			is:    serde.ErrSize,
		},
		{
			name: "an error of the timestamp extractor is an error (the task's names the source and topic)",
			opts: []topology.SourceOption{topology.WithTimestampExtractor(
				func(processor.Record[string, int64]) (time.Time, error) { return time.Time{}, errLate })},
			key:   []byte("k"),
			value: make([]byte, 8),
			want:  []string{`extracting timestamp: too late`},
			is:    errLate,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := edges(t, tt.opts, nil)
			_, err := src.Decode("input", tt.key, tt.value, time.UnixMilli(1), nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestTimestampExtractorSeesTheRecord(t *testing.T) {
	kafkaTime := time.UnixMilli(5000)
	var seen processor.Record[string, int64]
	src, _ := edges(t, []topology.SourceOption{topology.WithTimestampExtractor(
		func(r processor.Record[string, int64]) (time.Time, error) {
			seen = r
			return time.UnixMilli(r.Value), nil
		})}, nil)
	r, err := src.Decode("input", []byte("k"), int64Bytes(t, 1234), kafkaTime, nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !r.Timestamp.Equal(time.UnixMilli(1234)) {
		t.Errorf("Decode gave timestamp %v, want the extractor's %v", r.Timestamp, time.UnixMilli(1234))
	}
	if seen.Key != "k" || seen.Value != 1234 || !seen.Timestamp.Equal(kafkaTime) {
		t.Errorf("the extractor saw %+v, want the decoded record with Kafka's timestamp", seen)
	}
}

func TestDecodePassesNilBytesToTheSerdes(t *testing.T) {
	var nils []string
	nullable := serde.Func(
		func(_ string, v string) ([]byte, error) { return []byte(v), nil },
		func(_ string, b []byte) (string, error) {
			if b == nil {
				nils = append(nils, "nil")
				return "<null>", nil
			}
			return string(b), nil
		})
	b := topology.NewBuilder()
	topology.AddSource(b, "in", nullable, nullable, []string{"input"})
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	r, err := plan.Of(topo).Subtopologies[0].Sources[0].Decode("input", nil, nil, time.Time{}, nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(nils) != 2 || r.Key != "<null>" || r.Value != "<null>" {
		t.Errorf("the serdes saw %d nil slices and gave %+v, want 2 and nulls", len(nils), r)
	}
}

func TestEncodeErrors(t *testing.T) {
	_, sink := edges(t, nil, nil)
	tests := []struct {
		name string
		r    plan.Record
		want string
	}{
		{name: "a key of the wrong type is an error", r: plan.Record{Key: 1, Value: int64(1)}, want: `key is a int, not a string`},
		{name: "a value of the wrong type is an error", r: plan.Record{Key: "k", Value: "1"}, want: `value is a string, not a int64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := sink.Encode(tt.r); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode(%+v) returned %v, want an error containing %q", tt.r, err, tt.want)
			}
		})
	}
}

func TestEncodeWrapsSerdeErrors(t *testing.T) {
	errRefused := errors.New("refused")
	refusing := serde.Func(
		func(string, string) ([]byte, error) { return nil, errRefused },
		func(string, []byte) (string, error) { return "", errRefused })
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), []string{"input"})
	topology.AddSink(b, "out", "output", refusing, serde.String(), []string{"in"})
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	_, _, err = plan.Of(topo).Subtopologies[0].Sinks[0].Encode(plan.Record{Key: "k", Value: "v"})
	if !errors.Is(err, errRefused) || err.Error() != "key: refused" {
		t.Errorf("Encode returned %v, want the serde's error, which the task's names the sink and topic", err)
	}
}

func TestPartitionerSeesTypedRecords(t *testing.T) {
	var gotKey string
	var gotValue int64
	_, sink := edges(t, nil, []topology.SinkOption[string, int64]{topology.WithPartitioner(
		func(key string, value int64, n int32) int32 {
			gotKey, gotValue = key, value
			return int32(value) % n
		})})
	if sink.Partition == nil {
		t.Fatal("a sink with a partitioner has no Partition function")
	}
	if p := sink.Partition(plan.Record{Key: "k", Value: int64(7)}, 4); p != 3 || gotKey != "k" || gotValue != 7 {
		t.Errorf("Partition = %d after the partitioner saw %q, %d; want 3 after k, 7", p, gotKey, gotValue)
	}
	if p := sink.Partition(plan.Record{Key: "k", Value: "7"}, 4); p != -1 {
		t.Errorf("Partition of a record of the wrong type = %d, want -1", p)
	}
}

// The options that do not depend on the record types take no type arguments, and go
// with typed ones, inferred from their function, in one list.
func TestSourceOptionsWithoutTypeArguments(t *testing.T) {
	b := topology.NewBuilder()
	extract := topology.WithTimestampExtractor(func(r processor.Record[string, int64]) (time.Time, error) {
		return time.UnixMilli(r.Value), nil
	})
	opts := []topology.SourceOption{topology.SourceNamed("lines"), topology.WithOffsetReset(topology.Latest), extract}
	if s := topology.StreamFrom(b, "input", serde.String(), serde.Int64(), opts...); s.Node() != "lines" {
		t.Errorf("StreamFrom's source is %q, want lines", s.Node())
	}
	tbl := topology.TableFrom(b, "table-input", "table", serde.String(), serde.String(),
		topology.SourceNamed("table-source"), topology.WithOffsetReset(topology.Latest))
	topology.ToStream(tbl)
	topology.AddSource(b, "raw", serde.String(), serde.Int64(), []string{"raw-input"}, topology.WithOffsetReset(topology.Latest))
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	sources := map[string]*plan.Source{}
	for _, s := range plan.Of(topo).Subtopologies {
		for _, src := range s.Sources {
			sources[src.Name] = src
		}
	}
	for _, name := range []string{"lines", "table-source", "raw"} {
		src := sources[name]
		if src == nil {
			t.Errorf("no source %q among %v", name, sources)
			continue
		}
		if !src.ResetToLatest {
			t.Errorf("source %q resets to the earliest offset, want the latest", name)
		}
	}
	if src := sources["lines"]; src != nil {
		r, err := src.Decode("input", []byte("k"), int64Bytes(t, 1234), time.UnixMilli(1), nil)
		if err != nil || !r.Timestamp.Equal(time.UnixMilli(1234)) {
			t.Errorf("Decode = %+v, %v; want the extractor's timestamp 1234", r, err)
		}
	}
}

// An extractor of other types than the source's is a problem that Build reports, naming
// the source, whichever way the source was added.
func TestMismatchedTimestampExtractorFailsBuild(t *testing.T) {
	wrong := topology.WithTimestampExtractor(func(r processor.Record[int, string]) (time.Time, error) { return r.Timestamp, nil })
	tests := []struct {
		name  string
		build func(b *topology.Builder)
		want  string
	}{
		{
			name: "StreamFrom",
			build: func(b *topology.Builder) {
				topology.StreamFrom(b, "input", serde.String(), serde.Int64(), topology.SourceNamed("lines"), wrong)
			},
			want: `source "lines": the timestamp extractor takes keys int and values string, but the source reads keys string and values int64`,
		},
		{
			name: "TableFrom",
			build: func(b *topology.Builder) {
				topology.ToStream(topology.TableFrom(b, "input", "table", serde.String(), serde.Int64(), wrong))
			},
			want: `source "KTABLE-SOURCE-0000000001": the timestamp extractor takes keys int and values string`,
		},
		{
			name: "AddSource",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{"input"}, wrong)
			},
			want: `source "in": the timestamp extractor takes keys int and values string`,
		},
		{
			name: "an extractor of the right key type only",
			build: func(b *topology.Builder) {
				topology.AddSource(b, "in", serde.String(), serde.Int64(), []string{"input"},
					topology.WithTimestampExtractor(func(r processor.Record[string, string]) (time.Time, error) { return r.Timestamp, nil }))
			},
			want: `source "in": the timestamp extractor takes keys string and values string, but the source reads keys string and values int64`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := topology.NewBuilder()
			tt.build(b)
			_, err := b.Build()
			if err == nil {
				t.Fatal("Build succeeded")
			}
			if !errors.Is(err, topology.ErrInvalidTopology) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build error %q, want ErrInvalidTopology containing %q", err, tt.want)
			}
		})
	}
}
