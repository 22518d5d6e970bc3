package store

// Layer is a window or session store as the engine keeps it: one per store and task,
// over the KeyValueStore that the task's processors write through, and handed to every
// processor connected to the store. So every handle on the store sees one observed
// stream time, and a reader never returns what the writer expired, as with Kafka
// Streams' one store object per task. The layers NewWindowStore and NewSessionStore
// return implement it; those of NewLayer are a WindowStore or a SessionStore too.
type Layer interface {
	// Name is the name of the KeyValueStore under the layer.
	Name() string
	// Reset forgets what the layer keeps in memory, the observed stream time and the
	// sequence numbers it reserved: its next call reads them from the store's meta
	// record. The engine calls it after it rolled the store back (TaskDB.Abort), so that
	// the layer goes back with the store.
	Reset()
	// ExpiredPuts counts the puts the layer dropped because their segment had expired
	// (see WindowStore), since the layer was made; Reset keeps the count. Kafka Streams
	// records them in the task's dropped-records metric, and so does the engine.
	ExpiredPuts() int64
	// Publish writes what the layer knows in memory, its observed stream time and
	// sequence limit, into the store's meta record, without logging it (a changelog
	// keeps the meta record of the last segment move), so that another layer over the
	// same KeyValueStore, such as the test driver's handles, reads them and agrees with
	// this one. The engine does not need it.
	Publish() error
}

// NewLayer returns the layer of def over kv: a WindowStore for a WindowDef, a
// SessionStore for a SessionDef. ok is false for a definition of another kind (a
// key-value store has no layer). An invalid definition returns its Validate error.
func NewLayer(def Definition, kv KeyValueStore) (layer Layer, ok bool, err error) {
	d, ok := def.(layered)
	if !ok {
		return nil, false, nil
	}
	layer, err = d.layer(kv)
	return layer, true, err
}

// layered is a definition of a store that is a layer over a KeyValueStore.
type layered interface {
	layer(kv KeyValueStore) (Layer, error)
}

func (d WindowDef[K, V]) layer(kv KeyValueStore) (Layer, error) {
	if d.err != nil {
		return nil, d.err
	}
	return newWindowStore(kv, d.config())
}

func (d SessionDef[K, V]) layer(kv KeyValueStore) (Layer, error) {
	if d.err != nil {
		return nil, d.err
	}
	return newSessionStore(kv, d.config())
}

func (w *windowStore) Reset()             { w.seg.reset() }
func (w *windowStore) ExpiredPuts() int64 { return w.seg.expiredPuts }
func (w *windowStore) Publish() error     { return w.seg.publish() }

func (s *sessionStore) Reset()             { s.seg.reset() }
func (s *sessionStore) ExpiredPuts() int64 { return s.seg.expiredPuts }
func (s *sessionStore) Publish() error     { return s.seg.publish() }
