package topology

import "github.com/eddy-streams/eddy/serde"

// AddInternalSource and AddInternalSink give the external tests of this package the
// internal topics the DSL declares, until the DSL itself can make them.
func AddInternalSource[K, V any](b *Builder, name string, keys serde.Serde[K], values serde.Serde[V], topic string, partitions int32) {
	b.declareInternalTopic(topic, partitions)
	addSource(b, name, keys, values, []string{topic}, true, false)
}

func AddInternalSink[K, V any](b *Builder, name, topic string, keys serde.Serde[K], values serde.Serde[V], partitions int32, parents ...string) {
	b.declareInternalTopic(topic, partitions)
	addSink(b, name, topic, keys, values, parents, true)
}
