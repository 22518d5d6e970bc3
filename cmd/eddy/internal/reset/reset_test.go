package reset

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/statedir"
)

const app = "shop"

// fixture is a kfake cluster with the topics of application shop, records with known
// timestamps in its input, and its group's committed offsets.
type fixture struct {
	adm    *kadm.Client
	client *kgo.Client
	seeds  []string
	base   time.Time // timestamp of the first input record of each partition
}

// The cluster's topics: shop's input, output and intermediate topics, its internal
// topics, and topics that only look like them.
var (
	internalTopics = []string{
		"shop-counts-changelog",
		"shop-by-customer-repartition",
		"shop-fk-subscription-registration-topic",
		"shop-fk-subscription-response-topic",
	}
	otherTopics = []string{
		"orders", "customers", "shop-out", "shop-through",
		"shopping-counts-changelog", // another application's
		"shop-notes",                // the prefix without an internal suffix
		"shop-repartition",          // the suffix with nothing between
	}
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	f := &fixture{seeds: cluster.ListenAddrs(), base: time.UnixMilli(1_700_000_000_000)}
	f.client, err = kgo.NewClient(kgo.SeedBrokers(f.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.client.Close)
	f.adm = kadm.NewClient(f.client)
	ctx := t.Context()
	if _, err := f.adm.CreateTopics(ctx, 2, 1, nil, slices.Concat(internalTopics, otherTopics)...); err != nil {
		t.Fatal(err)
	}
	// Ten records per partition of orders and customers, a second apart; three in
	// shop-through.
	var records []*kgo.Record
	for _, topic := range []string{"orders", "customers"} {
		for p := range int32(2) {
			for i := range 10 {
				records = append(records, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v"), Timestamp: f.base.Add(time.Duration(i) * time.Second)})
			}
		}
	}
	for i := range 3 {
		records = append(records, &kgo.Record{Topic: "shop-through", Partition: 0, Value: []byte("v"), Timestamp: f.base.Add(time.Duration(i) * time.Second)})
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(f.seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The group read everything of orders and customers, one record of shop-through,
	// and some of its repartition topic.
	var committed kadm.Offsets
	for _, topic := range []string{"orders", "customers"} {
		for p := range int32(2) {
			committed.AddOffset(topic, p, 10, -1)
		}
	}
	committed.AddOffset("shop-through", 0, 1, -1)
	committed.AddOffset("shop-by-customer-repartition", 0, 4, -1)
	committed.AddOffset("shop-by-customer-repartition", 1, 2, -1)
	if resp, err := f.adm.CommitOffsets(ctx, app, committed); err != nil || resp.Error() != nil {
		t.Fatalf("committing: %v %v", err, resp.Error())
	}
	return f
}

// state returns the cluster's topics and the group's committed offsets, read by a new
// client: a client keeps the metadata it read for a while (kgo.MetadataMinAge).
func (f *fixture) state(t *testing.T) ([]string, kadm.Offsets) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(f.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	topics, err := adm.ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	offsets, err := adm.FetchOffsets(t.Context(), app)
	if err != nil {
		t.Fatal(err)
	}
	return topics.Names(), offsets.Offsets()
}

// stateDir makes an application state directory with two tasks and global stores.
func stateDir(t *testing.T) (root, appDir string) {
	t.Helper()
	root = t.TempDir()
	appDir = filepath.Join(root, app)
	for _, d := range []string{"0_0", "1_1", statedir.GlobalDir} {
		if err := os.MkdirAll(filepath.Join(appDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(appDir, d, "data"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(appDir, statedir.InstanceIDFile), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, appDir
}

func offsetsOf(p []PartitionOffset) map[string][]int64 {
	out := map[string][]int64{}
	for _, o := range p {
		out[o.Topic] = append(out[o.Topic], int64(o.Partition), o.Offset, o.Committed)
	}
	return out
}

func TestIsInternal(t *testing.T) {
	for _, topic := range internalTopics {
		if !IsInternal(app, topic) {
			t.Errorf("IsInternal(%q, %q) = false, want true", app, topic)
		}
	}
	for _, topic := range otherTopics {
		if IsInternal(app, topic) {
			t.Errorf("IsInternal(%q, %q) = true, want false", app, topic)
		}
	}
}

// TestPlanAndExecute: the inferred inputs are the non-internal topics with committed
// offsets; every partition of them goes to its earliest offset, intermediate topics to
// their ends; the internal topics, and the group's offsets on them, are deleted, nothing
// else; the state directory is wiped but for the lock and the instance id.
func TestPlanAndExecute(t *testing.T) {
	f := newFixture(t)
	root, appDir := stateDir(t)
	ctx := t.Context()
	p, err := MakePlan(ctx, f.client, Config{ApplicationID: app, IntermediateTopics: []string{"shop-through"}, StateDir: root})
	if err != nil {
		t.Fatal(err)
	}
	wantInputs := map[string][]int64{"customers": {0, 0, 10, 1, 0, 10}, "orders": {0, 0, 10, 1, 0, 10}}
	if got := offsetsOf(p.Inputs); !reflect.DeepEqual(got, wantInputs) {
		t.Errorf("inputs (partition, new, committed): %v, want %v", got, wantInputs)
	}
	wantIntermediate := map[string][]int64{"shop-through": {0, 3, 1, 1, 0, -1}}
	if got := offsetsOf(p.Intermediate); !reflect.DeepEqual(got, wantIntermediate) {
		t.Errorf("intermediate: %v, want %v", got, wantIntermediate)
	}
	wantInternal := slices.Sorted(slices.Values(internalTopics))
	if !slices.Equal(p.Internal, wantInternal) {
		t.Errorf("internal topics %q, want %q", p.Internal, wantInternal)
	}
	if got := p.InternalOffsets.Sorted(); len(got) != 1 || got[0].Topic != "shop-by-customer-repartition" || !slices.Equal(got[0].Partitions, []int32{0, 1}) {
		t.Errorf("internal offsets %v, want shop-by-customer-repartition [0 1]", got)
	}
	if want := []string{"0_0", "1_1", "global"}; p.StateDir != appDir || !slices.Equal(p.State, want) {
		t.Errorf("state %s %q, want %s %q", p.StateDir, p.State, appDir, want)
	}

	if err := Execute(ctx, f.client, p); err != nil {
		t.Fatal(err)
	}
	topics, offsets := f.state(t)
	if want := slices.Sorted(slices.Values(otherTopics)); !slices.Equal(topics, want) {
		t.Errorf("topics after the reset %q, want %q", topics, want)
	}
	want := map[string]map[int32]int64{"orders": {0: 0, 1: 0}, "customers": {0: 0, 1: 0}, "shop-through": {0: 3, 1: 0}}
	if got := atOf(offsets); !reflect.DeepEqual(got, want) {
		t.Errorf("committed offsets after the reset %v, want %v", got, want)
	}
	entries, err := os.ReadDir(appDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{statedir.LockFile, statedir.InstanceIDFile}; !slices.Equal(names, want) {
		t.Errorf("state directory after the reset holds %q, want %q", names, want)
	}
}

// TestPlanToTime: inputs go to the first record at or after the time, or to the end
// when none is; named inputs replace the inferred ones.
func TestPlanToTime(t *testing.T) {
	f := newFixture(t)
	p, err := MakePlan(t.Context(), f.client, Config{ApplicationID: app, InputTopics: []string{"orders"}, ToTime: f.base.Add(3500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := offsetsOf(p.Inputs), map[string][]int64{"orders": {0, 4, 10, 1, 4, 10}}; !reflect.DeepEqual(got, want) {
		t.Errorf("inputs at +3.5 s: %v, want %v", got, want)
	}
	p, err = MakePlan(t.Context(), f.client, Config{ApplicationID: app, InputTopics: []string{"orders"}, ToTime: f.base.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := offsetsOf(p.Inputs), map[string][]int64{"orders": {0, 10, 10, 1, 10, 10}}; !reflect.DeepEqual(got, want) {
		t.Errorf("inputs after the last record: %v, want %v", got, want)
	}
}

// TestDryRunChangesNothing: printing a plan changes nothing: topics, offsets and the
// state directory are as before.
func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	root, appDir := stateDir(t)
	topicsBefore, offsetsBefore := f.state(t)
	p, err := MakePlan(t.Context(), f.client, Config{ApplicationID: app, StateDir: root})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Print(&out, p)
	topics, offsets := f.state(t)
	if !slices.Equal(topics, topicsBefore) || !reflect.DeepEqual(atOf(offsets), atOf(offsetsBefore)) {
		t.Errorf("planning changed the cluster: topics %q offsets %v, were %q %v", topics, atOf(offsets), topicsBefore, atOf(offsetsBefore))
	}
	for _, d := range []string{"0_0", "1_1", "global"} {
		if _, err := os.Stat(filepath.Join(appDir, d, "data")); err != nil {
			t.Errorf("planning changed the state directory: %v", err)
		}
	}
	text := out.String()
	for _, want := range append([]string{
		"orders partition 0: offset 0 (committed: 10)", "orders partition 1: offset 0 (committed: 10)",
		"customers partition 0: offset 0 (committed: 10)", "customers partition 1: offset 0 (committed: 10)",
		"shop-through partition 0: offset 0 (committed: 1)",
		"shop-by-customer-repartition partitions [0 1]",
		"Local state wiped in " + appDir + ":\n  0_0\n  1_1\n  global\n",
	}, internalTopics...) {
		if !strings.Contains(text, want) {
			t.Errorf("the plan's text misses %q:\n%s", want, text)
		}
	}
}

// TestRefusals: a group with a member, a missing input topic, and a state directory an
// instance holds are refused, and nothing changes.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	root, appDir := stateDir(t)
	ctx := t.Context()
	topicsBefore, offsetsBefore := f.state(t)

	if _, err := MakePlan(ctx, f.client, Config{ApplicationID: app, InputTopics: []string{"orders", "nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a missing input topic: %v, want an error naming it", err)
	}

	p, err := MakePlan(ctx, f.client, Config{ApplicationID: app, StateDir: root})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := statedir.Lock(appDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Execute(ctx, f.client, p); !errors.Is(err, statedir.ErrLocked) {
		t.Errorf("Execute while an instance holds the state directory: %v, want ErrLocked", err)
	}
	unlock()

	member, err := kgo.NewClient(kgo.SeedBrokers(f.seeds...), kgo.ConsumerGroup(app), kgo.ConsumeTopics("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		described, err := f.adm.DescribeGroups(ctx, app)
		if err == nil && len(described[app].Members) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the member did not join")
		}
		pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		member.PollRecords(pollCtx, 10)
		cancel()
	}
	if _, err := MakePlan(ctx, f.client, Config{ApplicationID: app}); !errors.Is(err, ErrActiveMembers) {
		t.Errorf("MakePlan with a member in the group: %v, want ErrActiveMembers", err)
	}
	if err := Execute(ctx, f.client, p); !errors.Is(err, ErrActiveMembers) {
		t.Errorf("Execute with a member in the group: %v, want ErrActiveMembers", err)
	}
	member.Close()

	topics, offsets := f.state(t)
	if !slices.Equal(topics, topicsBefore) || !reflect.DeepEqual(atOf(offsets), atOf(offsetsBefore)) {
		t.Errorf("refused resets changed the cluster: topics %q offsets %v, were %q %v", topics, atOf(offsets), topicsBefore, atOf(offsetsBefore))
	}
	for _, d := range []string{"0_0", "1_1", "global"} {
		if _, err := os.Stat(filepath.Join(appDir, d, "data")); err != nil {
			t.Errorf("refused resets changed the state directory: %v", err)
		}
	}
}

func atOf(o kadm.Offsets) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	o.Each(func(o kadm.Offset) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out
}
