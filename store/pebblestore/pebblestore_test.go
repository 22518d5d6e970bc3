package pebblestore_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/pebblestore"
	"github.com/eddy-streams/eddy/store/storetest"
)

func TestEngine(t *testing.T) {
	t.Run("on vfs.NewMem", func(t *testing.T) {
		// One file system per subtest, shared by the engines it starts, so that a
		// restarted engine finds what the one before it wrote.
		var fss sync.Map // *testing.T -> vfs.FS
		storetest.TestEngine(t, func(t *testing.T) store.Engine {
			fs, _ := fss.LoadOrStore(t, vfs.NewMem())
			return newEngine(t, pebblestore.Options{FS: fs.(vfs.FS)})
		})
	})
	t.Run("on disk", func(t *testing.T) {
		storetest.TestEngine(t, func(t *testing.T) store.Engine {
			return newEngine(t, pebblestore.Options{})
		})
	})
}

// newEngine returns an engine that logs Pebble's messages to the test's output.
func newEngine(t *testing.T, opts pebblestore.Options) store.Engine {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := pebblestore.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}
