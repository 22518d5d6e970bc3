package topology

import "github.com/eddy-streams/eddy/internal/plan"

// AddGlobalStoreForTest adds a global store, which only the DSL's global tables do
// otherwise.
func AddGlobalStoreForTest(b *Builder, g plan.GlobalStore) { b.addGlobalStore(g) }
