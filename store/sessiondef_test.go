package store_test

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

var activity = store.Session("activity", serde.String(), serde.Int64(), time.Hour)

func TestSessionDefDescribesItsStoreAndChangelog(t *testing.T) {
	if activity.Name() != "activity" || activity.Kind() != store.KindSession || !activity.Logged() || activity.Retention() != time.Hour {
		t.Errorf("Name, Kind, Logged, Retention = %q, %v, %v, %v", activity.Name(), activity.Kind(), activity.Logged(), activity.Retention())
	}
	want := map[string]string{"cleanup.policy": "compact,delete", "retention.ms": fmt.Sprint((25 * time.Hour).Milliseconds())}
	if got := activity.ChangelogConfig(); !maps.Equal(got, want) {
		t.Errorf("ChangelogConfig = %v, want %v", got, want)
	}
	user := store.Session("s", serde.String(), serde.Int64(), time.Hour, store.WithChangelogConfig(map[string]string{"cleanup.policy": "compact"}), store.WithSegmentInterval(time.Minute))
	if got := user.ChangelogConfig(); got["cleanup.policy"] != "compact" || user.Validate() != nil {
		t.Errorf("with the user's policy: ChangelogConfig = %v, Validate %v", got, user.Validate())
	}
	var _ store.Definition = activity
}

func TestSessionsHandleMergesSessions(t *testing.T) {
	s := activity.Wrap(newKV(t, "activity"))
	const gap = 5 * time.Second
	// A session-windowed count.
	record := func(key string, at time.Time) {
		t.Helper()
		it, err := s.FindSessions(key, at.Add(-gap), at.Add(gap))
		if err != nil {
			t.Fatal(err)
		}
		found := drainTyped(t, it, nil)
		start, end, n := at, at, int64(1)
		for _, x := range found {
			if x.start.Before(start) {
				start = x.start
			}
			if x.end.After(end) {
				end = x.end
			}
			n += x.value
			if err := s.Remove(key, x.start, x.end); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Put(key, start, end, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []int64{0, 3_000, 20_000, 10_000} {
		record("k", ms(at))
	}
	it, err := s.Fetch("k")
	wantTyped(t, "Fetch", drainTyped(t, it, err), []typedWin{{"k", ms(0), ms(3_000), 2}, {"k", ms(10_000), ms(10_000), 1}, {"k", ms(20_000), ms(20_000), 1}})
	record("k", ms(15_000)) // bridges the last two
	it, err = s.All()
	wantTyped(t, "All", drainTyped(t, it, err), []typedWin{{"k", ms(0), ms(3_000), 2}, {"k", ms(10_000), ms(20_000), 3}})
	if v, ok, err := s.FetchSession("k", ms(10_000), ms(20_000)); err != nil || !ok || v != 3 {
		t.Errorf("FetchSession = %d, %v, %v; want 3", v, ok, err)
	}
	if _, ok, err := s.FetchSession("k", ms(10_000), ms(10_000)); err != nil || ok {
		t.Errorf("FetchSession of a merged session: found %v, %v", ok, err)
	}
	if err := s.Put("k", ms(2), ms(1), 1); err == nil {
		t.Error("Put of a session that ends before it starts succeeded")
	}
	if err := s.Put("k", time.Unix(1<<62, 0), time.Unix(1<<62, 0), 1); err == nil {
		t.Error("Put at a time past the int64 milliseconds succeeded")
	}
}

func TestSessionsFromAProcessorContext(t *testing.T) {
	ws, err := store.NewWindowStore(newKV(t, "activity"), store.WindowConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := store.NewSessionStore(newKV(t, "activity"), store.SessionConfig{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		stored any
		ok     bool
	}{
		"a key-value store": {newKV(t, "activity"), true},
		"a session store":   {ss, true},
		"a window store":    {ws, false},
		"no store":          {nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			stores := map[string]any{}
			if c.stored != nil {
				stores["activity"] = c.stored
			}
			s := activity.From(initContext{stores})
			putErr := s.Put("k", ms(0), ms(1), 1)
			_, _, fetchErr := s.FetchSession("k", ms(0), ms(1))
			_, findErr := s.FindSessions("k", ms(0), ms(1))
			_, keyErr := s.Fetch("k")
			_, allErr := s.All()
			removeErr := s.Remove("k", ms(0), ms(1))
			for i, err := range []error{putErr, fetchErr, findErr, keyErr, allErr, removeErr} {
				if (err == nil) != c.ok {
					t.Errorf("call %d: error %v, want an error: %v", i, err, !c.ok)
				}
			}
		})
	}
}

func TestAHandleOfOneKindOverAStoreOfAnotherFailsWithErrCorruptKey(t *testing.T) {
	kv := newKV(t, "x")
	if err := activity.Wrap(kv).Put("k", ms(0), ms(1), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := counts.Wrap(kv).All(); !errors.Is(err, store.ErrCorruptKey) {
		t.Errorf("a window handle over a session store: %v, want ErrCorruptKey", err)
	}
	kv2 := newKV(t, "y")
	if err := store.KeyValue("y", serde.String(), serde.Int64()).Wrap(kv2).Put("k", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := activity.Wrap(kv2).Fetch("k"); !errors.Is(err, store.ErrCorruptKey) {
		t.Errorf("a session handle over a key-value store: %v, want ErrCorruptKey", err)
	}
}
