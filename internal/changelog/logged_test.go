package changelog_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/changelog"
	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
)

type sent struct {
	topic     string
	partition int32
	key       string
	value     []byte
	ts        int64
}

type recordingSink struct{ records []sent }

func (s *recordingSink) Send(topic string, partition int32, key, value []byte, ts time.Time) {
	s.records = append(s.records, sent{topic, partition, string(key), value, ts.UnixMilli()})
}

func TestLoggedStoreSendsEveryChangeToItsChangelogPartition(t *testing.T) {
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := db.KeyValue("s")
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	now := time.UnixMilli(7)
	logged := changelog.Logged(kv, plan.ChangelogTopic("app", "s"), 3, sink, func() time.Time { return now })

	key, value := []byte("k"), []byte("v1")
	if err := logged.Put(key, value); err != nil {
		t.Fatal(err)
	}
	value[1] = 'X' // the store's caller owns its buffers once Put returns
	if _, found, err := logged.PutIfAbsent([]byte("k"), []byte("ignored")); err != nil || !found {
		t.Fatalf("PutIfAbsent of a present key: found %v, error %v", found, err)
	}
	if _, found, err := logged.PutIfAbsent([]byte("j"), []byte("v2")); err != nil || found {
		t.Fatalf("PutIfAbsent of an absent key: found %v, error %v", found, err)
	}
	if err := logged.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, r := range sink.records {
		got = append(got, fmt.Sprintf("%s/%d %s=%q@%d nil:%v", r.topic, r.partition, r.key, r.value, r.ts, r.value == nil))
	}
	want := []string{
		`app-s-changelog/3 k="v1"@7 nil:false`,
		`app-s-changelog/3 j="v2"@7 nil:false`,
		`app-s-changelog/3 k=""@7 nil:true`, // a tombstone
	}
	if !slices.Equal(got, want) {
		t.Errorf("changelog records:\n%s\nwant:\n%s", got, want)
	}
	if _, found, _ := kv.Get([]byte("k")); found {
		t.Error("the delete did not reach the store")
	}
}

func TestLoggedStoreUnloggedWritesReachTheStoreButNotTheChangelog(t *testing.T) {
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := db.KeyValue("s")
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	logged := changelog.Logged(kv, "app-s-changelog", 0, sink, time.Now)
	u, ok := logged.(store.Unlogger)
	if !ok {
		t.Fatalf("the logged store, a %T, does not implement store.Unlogger", logged)
	}
	if got := u.Unlogged(); got != kv {
		t.Fatalf("Unlogged = %v, want the wrapped store %v", got, kv)
	}
	if err := logged.Put([]byte("logged"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := u.Unlogged().Put([]byte("quiet"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := u.Unlogged().Delete([]byte("logged")); err != nil {
		t.Fatal(err)
	}
	if len(sink.records) != 1 || sink.records[0].key != "logged" {
		t.Errorf("changelog records %v, want only the put of \"logged\"", sink.records)
	}
	if v, found, err := logged.Get([]byte("quiet")); err != nil || !found || string(v) != "2" {
		t.Errorf("Get through the logged store of a key put unlogged = %q, %v, %v; want 2", v, found, err)
	}
	if _, found, _ := logged.Get([]byte("logged")); found {
		t.Error("a key deleted unlogged is still visible through the logged store")
	}
}

func TestAWindowStoreOverALoggedStoreLogsItsWritesButNotItsExpiry(t *testing.T) {
	db, err := memstore.New().Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := db.KeyValue("w")
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	logged := changelog.Logged(kv, "app-w-changelog", 0, sink, time.Now)
	ws, err := store.NewWindowStore(logged, store.WindowConfig{Retention: 300 * time.Millisecond, SegmentInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []int64{50, 120, 1000} { // 1000 expires the first two
		if err := ws.Put([]byte("k"), start, []byte(fmt.Sprint(start))); err != nil {
			t.Fatal(err)
		}
	}
	var values []string
	for _, r := range sink.records {
		if r.value == nil {
			t.Errorf("the window store logged a tombstone for %q", r.key)
		}
		values = append(values, string(r.value))
	}
	for _, v := range []string{"50", "120", "1000"} {
		if !slices.Contains(values, v) {
			t.Errorf("the put of %s was not logged; logged %q", v, values)
		}
	}
	// Each put moved into a new segment: three meta records and three windows.
	if len(sink.records) != 6 {
		t.Errorf("logged %d records, want 6 (3 windows, 3 meta records)", len(sink.records))
	}
	it, err := kv.All()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		n++
	}
	it.Close()
	if n != 2 {
		t.Errorf("the store holds %d keys after expiry, want 2 (the meta record and the live window)", n)
	}
}
