package store_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
)

// initContext is a processor.InitContext with the stores of a map.
type initContext struct{ stores map[string]any }

func (c initContext) ApplicationID() string    { return "app" }
func (c initContext) TaskID() processor.TaskID { return processor.TaskID{} }
func (c initContext) StreamTime() time.Time    { return time.Time{} }
func (c initContext) StateStore(name string) (any, error) {
	s, ok := c.stores[name]
	if !ok {
		return nil, fmt.Errorf("store %q is not connected", name)
	}
	return s, nil
}
func (c initContext) Schedule(time.Duration, processor.PunctuationType, processor.Punctuator) (processor.Cancellable, error) {
	return nil, errors.New("not in this test")
}

func newKV(t *testing.T, name string) store.KeyValueStore {
	t.Helper()
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kv, err := db.KeyValue(name)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// ms is the time of a number of milliseconds since the epoch, in UTC.
func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

// typedWin is a window or session as a typed iterator returns it.
type typedWin struct {
	key        string
	start, end time.Time
	value      int64
}

func (w typedWin) String() string {
	return fmt.Sprintf("%s@[%d,%d]=%d(%s)", w.key, w.start.UnixMilli(), w.end.UnixMilli(), w.value, w.start.Location())
}

func drainTyped(t *testing.T, it store.WindowedIterator[string, int64], err error) []typedWin {
	t.Helper()
	if err != nil {
		t.Fatalf("opening an iterator: %v", err)
	}
	defer it.Close()
	var out []typedWin
	for it.Next() {
		out = append(out, typedWin{it.Key(), it.Start(), it.End(), it.Value()})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterator Err: %v", err)
	}
	return out
}

func wantTyped(t *testing.T, what string, got, want []typedWin) {
	t.Helper()
	eq := func(a, b typedWin) bool {
		return a.key == b.key && a.start.Equal(b.start) && a.end.Equal(b.end) && a.value == b.value &&
			a.start.Location() == time.UTC && a.end.Location() == time.UTC
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("%s = %v, want %v (in UTC)", what, got, want)
	}
}

var counts = store.Window("counts", serde.String(), serde.Int64(), time.Hour, 10*time.Second)

func TestWindowDefDescribesItsStoreAndChangelog(t *testing.T) {
	if counts.Name() != "counts" || counts.Kind() != store.KindWindow || !counts.Logged() {
		t.Errorf("Name, Kind, Logged = %q, %v, %v", counts.Name(), counts.Kind(), counts.Logged())
	}
	if counts.Retention() != time.Hour || counts.WindowSize() != 10*time.Second || counts.Validate() != nil {
		t.Errorf("Retention, WindowSize, Validate = %v, %v, %v", counts.Retention(), counts.WindowSize(), counts.Validate())
	}
	want := map[string]string{"cleanup.policy": "compact,delete", "retention.ms": fmt.Sprint((25 * time.Hour).Milliseconds())}
	if got := counts.ChangelogConfig(); !maps.Equal(got, want) {
		t.Errorf("ChangelogConfig = %v, want %v", got, want)
	}
	counts.ChangelogConfig()["retention.ms"] = "1" // a copy
	if got := counts.ChangelogConfig(); !maps.Equal(got, want) {
		t.Errorf("ChangelogConfig after changing a returned map = %v, want %v", got, want)
	}
	user := store.Window("w", serde.String(), serde.Int64(), time.Hour, time.Minute,
		store.WithChangelogConfig(map[string]string{"retention.ms": "5", "min.compaction.lag.ms": "7"}), store.WithoutLogging(), store.RetainDuplicates())
	want = map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "5", "min.compaction.lag.ms": "7"}
	if got := user.ChangelogConfig(); !maps.Equal(got, want) || user.Logged() {
		t.Errorf("with user config: ChangelogConfig = %v, Logged %v; want %v, false", got, user.Logged(), want)
	}
	if k, v := store.Window[string, int64]("w", nil, serde.Int64(), time.Hour, time.Minute).Serdes(); k || !v {
		t.Errorf("Serdes without a key serde = %v, %v", k, v)
	}
	huge := store.Window("w", serde.String(), serde.Int64(), math.MaxInt64, time.Minute)
	if got, want := huge.ChangelogConfig()["retention.ms"], fmt.Sprint(int64(math.MaxInt64)/1e6+86_400_000); got != want {
		t.Errorf("retention.ms of the longest retention = %s, want %s", got, want)
	}
	var _ store.Definition = counts
}

func TestInvalidWindowAndSessionDefsFailEveryCall(t *testing.T) {
	s, i := serde.String(), serde.Int64()
	windows := map[string]store.WindowDef[string, int64]{
		"no retention":                  store.Window("w", s, i, 0, 0),
		"no window size":                store.Window("w", s, i, time.Hour, 0),
		"a window longer than retained": store.Window("w", s, i, time.Minute, time.Hour),
		"a sub-millisecond retention":   store.Window("w", s, i, time.Microsecond, time.Microsecond),
		"a negative segment interval":   store.Window("w", s, i, time.Hour, time.Minute, store.WithSegmentInterval(-time.Second)),
	}
	for name, d := range windows {
		err := d.Validate()
		if !errors.Is(err, store.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: Validate = %v, want an error wrapping ErrInvalidConfig", name, err)
		}
		if err := d.Wrap(newKV(t, "w")).Put("k", ms(0), 1); !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("%s: Put = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := d.From(initContext{map[string]any{"w": newKV(t, "w")}}).All(); !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("%s: All through From = %v, want ErrInvalidConfig", name, err)
		}
	}
	sessions := map[string]store.SessionDef[string, int64]{
		"no retention":                store.Session("s", s, i, 0),
		"a sub-millisecond interval":  store.Session("s", s, i, time.Hour, store.WithSegmentInterval(time.Microsecond)),
		"a negative segment interval": store.Session("s", s, i, time.Hour, store.WithSegmentInterval(-1)),
	}
	for name, d := range sessions {
		if err := d.Validate(); !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := d.Wrap(newKV(t, "s")).Fetch("k"); !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("%s: Fetch = %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := store.NewWindowStore(newKV(t, "w"), store.WindowConfig{}); !errors.Is(err, store.ErrInvalidConfig) {
		t.Errorf("NewWindowStore without a retention: %v, want ErrInvalidConfig", err)
	}
	if _, err := store.NewSessionStore(newKV(t, "s"), store.SessionConfig{Retention: time.Hour, SegmentInterval: -1}); !errors.Is(err, store.ErrInvalidConfig) {
		t.Errorf("NewSessionStore with a negative segment interval: %v, want ErrInvalidConfig", err)
	}
}

func TestWindowsHandle(t *testing.T) {
	w := counts.Wrap(newKV(t, "counts"))
	for _, p := range []struct {
		key   string
		start int64
		value int64
	}{{"b", 0, 1}, {"a", 10_000, 2}, {"a", 0, 3}, {"a", -10_000, 4}} {
		if err := w.Put(p.key, ms(p.start), p.value); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := w.Fetch("a", ms(10_000)); err != nil || !ok || v != 2 {
		t.Errorf("Fetch(a, 10s) = %d, %v, %v; want 2", v, ok, err)
	}
	if v, ok, err := w.Fetch("a", ms(20_000)); err != nil || ok || v != 0 {
		t.Errorf("Fetch of an absent window = %d, %v, %v; want 0, false", v, ok, err)
	}
	win := func(key string, start, value int64) typedWin {
		return typedWin{key, ms(start), ms(start + 10_000), value}
	}
	it, err := w.FetchRange("a", ms(-10_000), ms(0))
	wantTyped(t, "FetchRange(a, -10s, 0)", drainTyped(t, it, err), []typedWin{win("a", -10_000, 4), win("a", 0, 3)})
	it, err = w.FetchAll(ms(0), ms(10_000))
	wantTyped(t, "FetchAll(0, 10s)", drainTyped(t, it, err), []typedWin{win("a", 0, 3), win("a", 10_000, 2), win("b", 0, 1)}) // one segment
	if err := w.Delete("a", ms(0)); err != nil {
		t.Fatal(err)
	}
	it, err = w.All()
	wantTyped(t, "All", drainTyped(t, it, err), []typedWin{win("a", -10_000, 4), win("a", 10_000, 2), win("b", 0, 1)})
}

func TestWindowsHandleTruncatesTimesToTheMillisecondBelow(t *testing.T) {
	w := counts.Wrap(newKV(t, "counts"))
	at := ms(5_000).Add(999 * time.Microsecond).In(time.FixedZone("east", 3600))
	if err := w.Put("k", at, 1); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := w.Fetch("k", ms(5_000)); err != nil || !ok || v != 1 {
		t.Errorf("Fetch at the millisecond = %d, %v, %v; want the value put 999µs later", v, ok, err)
	}
	before := ms(-1).Add(500 * time.Microsecond) // -0.5 ms: the millisecond below is -1
	if err := w.Put("neg", before, 2); err != nil {
		t.Fatal(err)
	}
	it, err := w.FetchRange("neg", ms(-1), ms(-1))
	wantTyped(t, "FetchRange(neg, -1ms, -1ms)", drainTyped(t, it, err), []typedWin{{"neg", ms(-1), ms(9_999), 2}})

	far := time.Unix(1<<62, 0)
	if err := w.Put("k", far, 1); err == nil {
		t.Error("Put at a time past the int64 milliseconds succeeded")
	}
	if _, err := w.FetchRange("k", ms(0), far); err == nil {
		t.Error("FetchRange to a time past the int64 milliseconds succeeded")
	}
	if _, err := w.FetchAll(time.Unix(-1<<62, 0), ms(0)); err == nil {
		t.Error("FetchAll from a time before the int64 milliseconds succeeded")
	}
	// The extremes themselves are times like any other.
	if err := w.Put("max", time.UnixMilli(math.MaxInt64), 3); err != nil {
		t.Errorf("Put at the last millisecond: %v", err)
	}
	it, err = w.FetchRange("max", time.UnixMilli(math.MaxInt64), time.UnixMilli(math.MaxInt64).Add(999*time.Microsecond))
	wantTyped(t, "FetchRange at the last millisecond", drainTyped(t, it, err), []typedWin{{"max", ms(math.MaxInt64), ms(math.MaxInt64), 3}})
}

// failing is a serde that fails where told.
type failing struct{ ser, de bool }

func (f failing) Serialize(_ string, v string) ([]byte, error) {
	if f.ser {
		return nil, errors.New("cannot serialize")
	}
	return []byte(v), nil
}

func (f failing) Deserialize(_ string, b []byte) (string, error) {
	if f.de {
		return "", errors.New("cannot deserialize")
	}
	return string(b), nil
}

func TestWindowsHandleReportsSerdeErrors(t *testing.T) {
	kv := newKV(t, "w")
	good := store.Window("w", serde.String(), serde.String(), time.Hour, time.Minute).Wrap(kv)
	if err := good.Put("k", ms(0), "v"); err != nil {
		t.Fatal(err)
	}
	badKeys := store.Window[string, string]("w", failing{ser: true}, serde.String(), time.Hour, time.Minute).Wrap(kv)
	if err := badKeys.Put("k", ms(0), "v"); err == nil || !strings.Contains(err.Error(), "serializing key") {
		t.Errorf("Put with a failing key serde: %v", err)
	}
	if _, _, err := badKeys.Fetch("k", ms(0)); err == nil {
		t.Error("Fetch with a failing key serde succeeded")
	}
	badValues := store.Window[string, string]("w", serde.String(), failing{ser: true, de: true}, time.Hour, time.Minute).Wrap(kv)
	if err := badValues.Put("k", ms(0), "v"); err == nil || !strings.Contains(err.Error(), "serializing value") {
		t.Errorf("Put with a failing value serde: %v", err)
	}
	if _, ok, err := badValues.Fetch("k", ms(0)); err == nil || ok || !strings.Contains(err.Error(), "deserializing value") {
		t.Errorf("Fetch with a failing value serde: found %v, error %v", ok, err)
	}
	it, err := badValues.All()
	if err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		t.Error("Next with a failing value serde = true")
	}
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), "deserializing value") {
		t.Errorf("Err with a failing value serde: %v", err)
	}
	it.Close()
	badKeyDecoding := store.Window[string, string]("w", failing{de: true}, serde.String(), time.Hour, time.Minute).Wrap(kv)
	it, err = badKeyDecoding.FetchAll(ms(0), ms(0))
	if err != nil {
		t.Fatal(err)
	}
	if it.Next() || it.Err() == nil || !strings.Contains(it.Err().Error(), "deserializing key") {
		t.Errorf("iterating with a failing key deserializer: Err %v", it.Err())
	}
	it.Close()
}

func TestWindowsFromAProcessorContext(t *testing.T) {
	kv := newKV(t, "counts")
	ws, err := store.NewWindowStore(newKV(t, "counts"), store.WindowConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := store.NewSessionStore(newKV(t, "counts"), store.SessionConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		stored any
		ok     bool
	}{
		"a key-value store": {kv, true},
		"a window store":    {ws, true},
		"a session store":   {sessions, false},
		"something else":    {"a string", false},
		"no store":          {nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			stores := map[string]any{}
			if c.stored != nil {
				stores["counts"] = c.stored
			}
			w := counts.From(initContext{stores})
			err := w.Put("k", ms(0), 1)
			_, _, fetchErr := w.Fetch("k", ms(0))
			_, rangeErr := w.FetchRange("k", ms(0), ms(1))
			_, allErr := w.FetchAll(ms(0), ms(1))
			_, everyErr := w.All()
			deleteErr := w.Delete("k", ms(0))
			errs := []error{err, fetchErr, rangeErr, allErr, everyErr, deleteErr}
			for i, err := range errs {
				if (err == nil) != c.ok {
					t.Errorf("call %d: error %v, want an error: %v", i, err, !c.ok)
				}
			}
		})
	}
}
