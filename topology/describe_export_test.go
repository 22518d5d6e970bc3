package topology

// AddGlobalStoreForTest adds a global store, which only the DSL's global tables do
// otherwise.
func AddGlobalStoreForTest(b *Builder, g GlobalStore) { b.addGlobalStore(g) }
