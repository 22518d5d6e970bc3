package memstore_test

import (
	"testing"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/store/storetest"
)

func TestEngine(t *testing.T) {
	storetest.TestEngine(t, func(*testing.T) store.Engine { return memstore.New() })
}
