package engine

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store/pebblestore"
)

func TestLocalTaskOffsetsReportRunningAndClosedTasks(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"0_1", "0_2", "1_0", "not-a-task"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "0_1", stateOffsetsFile), []byte("42"), 0o644); err != nil {
		t.Fatal(err)
	}
	stores, err := pebblestore.New(pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	e := &Engine{cfg: Config{StateDir: dir, Stores: stores}}
	e.stateOffsets.Store(processor.TaskID{Subtopology: 1, Partition: 0}, int64(7))

	got := e.localTaskOffsets()
	want := map[processor.TaskID]int64{
		{Subtopology: 0, Partition: 1}: 42, // closed, with its recorded sum
		{Subtopology: 0, Partition: 2}: 1,  // left behind by a crash: state of unknown size
		{Subtopology: 1, Partition: 0}: 7,  // running
	}
	if !maps.Equal(got, want) {
		t.Errorf("localTaskOffsets() = %v, want %v", got, want)
	}
}
