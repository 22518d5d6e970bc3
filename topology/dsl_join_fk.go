package topology

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// This file holds the foreign-key table-table join, built as Kafka Streams builds it
// (KIP-213). The two tables are partitioned by their own keys, so a left row and the
// right row its foreign key names usually live in different tasks. The join therefore
// runs as a conversation over two internal topics:
//
//  1. The left side sends a subscription for each change of a left row: (foreign key,
//     primary key, hash of the left value, instruction), through
//     <application id>-<name>-subscription-registration-topic, partitioned by the foreign
//     key, which is copartitioned with the right table's topic.
//  2. The right side keeps the subscriptions in the store <name>-subscription-store,
//     keyed by foreign key then primary key, and answers with a response (primary key,
//     the hash it was sent, right value) through
//     <application id>-<name>-subscription-response-topic, which is copartitioned with the
//     left table's topic. Each change of a right row answers every subscription of its key
//     (a prefix scan of the store).
//  3. The left side drops a response whose hash is not that of the row's current value:
//     the row changed since the subscription was sent, and the response to the change is
//     still to come. Otherwise it joins and updates the result table.

// fkInstruction tells the right side what to do with a subscription. The values are those
// of Kafka Streams' SubscriptionWrapper.Instruction.
type fkInstruction byte

const (
	// fkDeleteAndPropagate removes the subscription and answers without a right value: the
	// left row left an inner join (it was deleted or lost its foreign key).
	fkDeleteAndPropagate fkInstruction = iota
	// fkDeleteNoPropagate removes the subscription without an answer: the left row moved
	// to another foreign key, whose answer replaces the result.
	fkDeleteNoPropagate
	// fkPropagateNullIfNoValue keeps the subscription and always answers, without a right
	// value when there is none, so that a previous result is replaced.
	fkPropagateNullIfNoValue
	// fkPropagateOnlyIfValue keeps the subscription and answers only when the right table
	// has the foreign key: used when no previous result can exist.
	fkPropagateOnlyIfValue
	fkInstructions // the count
)

// fkHash is the hash of a left value that a subscription carries and its response
// returns: the first 16 bytes of the SHA-256 of the value serialized with the left
// table's value serde. ok is false for no value (a deleted row).
type fkHash struct {
	sum [16]byte
	ok  bool
}

// fkSubscription is the value of a subscription record, whose key is the foreign key as
// the right table's key serde serializes it.
type fkSubscription struct {
	instruction fkInstruction
	hash        fkHash
	// partition is the partition of the left task that sent the subscription, where the
	// response goes back to.
	partition int32
	// primaryKey is the left row's key as the left table's key serde serializes it.
	primaryKey []byte
}

// fkResponse is the value of a response record, whose key is the primary key (bytes on
// the right side, which needs no type for it; typed on the left side).
type fkResponse[VO any] struct {
	hash      fkHash
	partition int32
	value     VO
	hasValue  bool
}

// The wire formats of the internal topics, version 1. Both start with a version byte,
// so a later format can be told apart; a decoder refuses versions it does not know.
//
//	subscription: version 1 | instruction | flags | partition (int32 big-endian)
//	              | hash (16 bytes, when flags&1) | primary key (the rest)
//	response:     version 1 | flags | partition (int32 big-endian)
//	              | hash (16 bytes, when flags&1) | right value (the rest, when flags&2)
//
// Flag bit 0 says the hash is present, bit 1 (responses) that the right value is; other
// bits must be 0. A response without a right value has nothing after the hash.
const (
	fkWireVersion  byte = 1
	fkFlagHash     byte = 1 << 0
	fkFlagValue    byte = 1 << 1
	fkSubHeaderLen      = 1 + 1 + 1 + 4
	fkResHeaderLen      = 1 + 1 + 4
)

// errFKWire is wrapped by the errors of the wire format decoders.
var errFKWire = errors.New("topology: foreign-key join: malformed internal record")

func appendFKHash(out []byte, h fkHash) []byte {
	if h.ok {
		out = append(out, h.sum[:]...)
	}
	return out
}

func encodeFKSubscription(s fkSubscription) []byte {
	flags := byte(0)
	if s.hash.ok {
		flags |= fkFlagHash
	}
	out := make([]byte, 0, fkSubHeaderLen+16+len(s.primaryKey))
	out = append(out, fkWireVersion, byte(s.instruction), flags)
	out = binary.BigEndian.AppendUint32(out, uint32(s.partition))
	out = appendFKHash(out, s.hash)
	return append(out, s.primaryKey...)
}

func decodeFKSubscription(data []byte) (fkSubscription, error) {
	var s fkSubscription
	if len(data) < fkSubHeaderLen {
		return s, fmt.Errorf("%w: subscription of %d bytes: %w", errFKWire, len(data), serde.ErrSize)
	}
	if data[0] != fkWireVersion {
		return s, fmt.Errorf("%w: subscription of unknown version %d", errFKWire, data[0])
	}
	if s.instruction = fkInstruction(data[1]); s.instruction >= fkInstructions {
		return s, fmt.Errorf("%w: unknown subscription instruction %d", errFKWire, data[1])
	}
	flags := data[2]
	if flags&^fkFlagHash != 0 {
		return s, fmt.Errorf("%w: unknown subscription flags %#x", errFKWire, flags)
	}
	if s.partition = int32(binary.BigEndian.Uint32(data[3:])); s.partition < 0 {
		return s, fmt.Errorf("%w: subscription from partition %d", errFKWire, s.partition)
	}
	rest, err := decodeFKHash(data[fkSubHeaderLen:], flags, &s.hash)
	if err != nil {
		return s, err
	}
	s.primaryKey = append([]byte{}, rest...)
	return s, nil
}

func decodeFKHash(data []byte, flags byte, h *fkHash) ([]byte, error) {
	if flags&fkFlagHash == 0 {
		return data, nil
	}
	if len(data) < len(h.sum) {
		return nil, fmt.Errorf("%w: hash of %d bytes: %w", errFKWire, len(data), serde.ErrSize)
	}
	h.ok = true
	copy(h.sum[:], data)
	return data[len(h.sum):], nil
}

// encodeFKResponse encodes a response whose right value is value, nil for none.
func encodeFKResponse(h fkHash, partition int32, value []byte) []byte {
	flags := byte(0)
	if h.ok {
		flags |= fkFlagHash
	}
	if value != nil {
		flags |= fkFlagValue
	}
	out := make([]byte, 0, fkResHeaderLen+16+len(value))
	out = append(out, fkWireVersion, flags)
	out = binary.BigEndian.AppendUint32(out, uint32(partition))
	out = appendFKHash(out, h)
	return append(out, value...)
}

// decodeFKResponse decodes a response; value is nil when it has no right value, and
// otherwise a part of data.
func decodeFKResponse(data []byte) (h fkHash, partition int32, value []byte, err error) {
	if len(data) < fkResHeaderLen {
		return h, 0, nil, fmt.Errorf("%w: response of %d bytes: %w", errFKWire, len(data), serde.ErrSize)
	}
	if data[0] != fkWireVersion {
		return h, 0, nil, fmt.Errorf("%w: response of unknown version %d", errFKWire, data[0])
	}
	flags := data[1]
	if flags&^(fkFlagHash|fkFlagValue) != 0 {
		return h, 0, nil, fmt.Errorf("%w: unknown response flags %#x", errFKWire, flags)
	}
	if partition = int32(binary.BigEndian.Uint32(data[2:])); partition < 0 {
		return h, 0, nil, fmt.Errorf("%w: response to partition %d", errFKWire, partition)
	}
	rest, err := decodeFKHash(data[fkResHeaderLen:], flags, &h)
	if err != nil {
		return h, 0, nil, err
	}
	if flags&fkFlagValue == 0 {
		if len(rest) != 0 {
			return h, 0, nil, fmt.Errorf("%w: %d bytes after a response without a value", errFKWire, len(rest))
		}
		return h, partition, nil, nil
	}
	return h, partition, rest, nil
}

// fkSubscriptionSerde is the serde of subscriptions, on the topic and in the store.
func fkSubscriptionSerde() serde.Serde[fkSubscription] {
	return serde.Func(
		func(_ string, s fkSubscription) ([]byte, error) { return encodeFKSubscription(s), nil },
		func(_ string, data []byte) (fkSubscription, error) { return decodeFKSubscription(data) },
	)
}

// fkResponseSerde is the serde of responses, whose right values values serializes.
func fkResponseSerde[VO any](values serde.Serde[VO]) serde.Serde[fkResponse[VO]] {
	return serde.Func(
		func(topic string, r fkResponse[VO]) ([]byte, error) {
			var value []byte
			if r.hasValue {
				var err error
				if value, err = values.Serialize(topic, r.value); err != nil {
					return nil, err
				}
				if value == nil {
					value = []byte{}
				}
			}
			return encodeFKResponse(r.hash, r.partition, value), nil
		},
		func(topic string, data []byte) (fkResponse[VO], error) {
			h, partition, value, err := decodeFKResponse(data)
			if err != nil {
				return fkResponse[VO]{}, err
			}
			r := fkResponse[VO]{hash: h, partition: partition, hasValue: value != nil}
			if r.hasValue {
				if r.value, err = values.Deserialize(topic, value); err != nil {
					return fkResponse[VO]{}, err
				}
			}
			return r, nil
		},
	)
}

// fkKeyBytes is the serde of keys that the join already serialized: it copies them, and
// never turns an empty key into nil, which Kafka would take for a null key (and
// partition at random).
func fkKeyBytes() serde.Serde[[]byte] {
	clone := func(_ string, b []byte) ([]byte, error) { return append([]byte{}, b...), nil }
	return serde.Func(clone, clone)
}

// fkStoreKey is the key of a subscription in the subscription store: the foreign key's
// length (uint32 big-endian), the foreign key, then the primary key; all subscriptions of
// a foreign key share the prefix fkStorePrefix. Kafka Streams: CombinedKeySchema.
func fkStoreKey(foreignKey, primaryKey []byte) []byte {
	out := fkStorePrefix(foreignKey, len(primaryKey))
	return append(out, primaryKey...)
}

func fkStorePrefix(foreignKey []byte, extra int) []byte {
	out := make([]byte, 0, 4+len(foreignKey)+extra)
	out = binary.BigEndian.AppendUint32(out, uint32(len(foreignKey)))
	return append(out, foreignKey...)
}

// hashFKValue returns the hash of a left value.
func hashFKValue[V any](values serde.Serde[V], topic string, v V) (fkHash, error) {
	b, err := values.Serialize(topic, v)
	if err != nil {
		return fkHash{}, fmt.Errorf("topology: foreign-key join: serializing a left value to hash it: %w", err)
	}
	sum := sha256.Sum256(b)
	h := fkHash{ok: true}
	copy(h.sum[:], sum[:])
	return h, nil
}

// JoinFK joins each row of left with the row of right whose key foreignKey extracts from
// the left value: the result table has left's keys and, for each left row whose foreign
// key right has, joiner(left value, right value). It is updated by changes on either
// side: a right row's change updates every left row that refers to it. A left row whose
// foreign key is nil (for key types that can be nil: pointers, interfaces, maps, slices)
// joins nothing. A left row that stops joining (deleted, its foreign key gone from right,
// changed to one right lacks, or nil) deletes its result (a tombstone downstream).
//
// The result is kept in the store name (changelog <application id>-<name>-changelog),
// with results serializing its values; name also names the subscription store
// <name>-subscription-store and the internal topics
// <application id>-<name>-subscription-registration-topic and
// <application id>-<name>-subscription-response-topic ("" generates a name, which
// RequireExplicitNames refuses). The serdes of both tables must be known, and the left
// value serde must serialize equal values to equal bytes: the join compares hashes of
// them. Results come a round trip through Kafka after the change that causes them.
// Kafka Streams: KTable#join(KTable, Function, ValueJoiner, Named, Materialized.as(name)).
func JoinFK[K, V, KO, VO, VR any](left Table[K, V], right Table[KO, VO], name string, foreignKey func(value V) KO, joiner func(value V, other VO) VR, results serde.Serde[VR]) Table[K, VR] {
	return joinFK(left, right, name, "fkJoin", false, foreignKey, joiner, results)
}

// LeftJoinFK is JoinFK that also keeps the left rows that join nothing: their result is
// joiner(left value, zero VO), Kafka Streams' null, which includes rows whose foreign key
// is nil (KIP-962). Only a left row's delete deletes its result. Kafka Streams:
// KTable#leftJoin(KTable, Function, ValueJoiner, Named, Materialized.as(name)).
func LeftJoinFK[K, V, KO, VO, VR any](left Table[K, V], right Table[KO, VO], name string, foreignKey func(value V) KO, joiner func(value V, other VO) VR, results serde.Serde[VR]) Table[K, VR] {
	return joinFK(left, right, name, "fkLeftJoin", true, foreignKey, joiner, results)
}

func joinFK[K, V, KO, VO, VR any](left Table[K, V], right Table[KO, VO], name, operator string, leftJoin bool, foreignKey func(V) KO, joiner func(V, VO) VR, results serde.Serde[VR]) Table[K, VR] {
	b := left.b
	if b == nil {
		return Table[K, VR]{}
	}
	base := b.resourceName(name, "", operator)
	problems := len(b.problems)
	switch {
	case right.b == nil:
		b.problemf("%s %q: the right table belongs to no builder", operator, base)
	case right.b != b:
		b.problemf("%s %q: the right table belongs to another builder", operator, base)
	case left.view == nil || right.view == nil:
		b.problemf("%s %q: a table that cannot be read (no store or view) cannot be joined", operator, base)
	}
	if foreignKey == nil || joiner == nil {
		b.problemf("%s %q: foreign-key extractor and joiner must not be nil", operator, base)
	}
	if left.keys == nil || left.values == nil || right.keys == nil || right.values == nil || results == nil {
		b.problemf("%s %q: the serdes of both tables and of the results must be known", operator, base)
	}
	if len(b.problems) > problems {
		return Table[K, VR]{}
	}
	subTopic := base + "-subscription-registration-topic"
	resTopic := base + "-subscription-response-topic"
	subs := store.KeyValue(base+"-subscription-store", fkKeyBytes(), timestamped(fkSubscriptionSerde()))
	b.declareInternalTopic(subTopic, 0)
	b.declareInternalTopic(resTopic, 0)
	// The serdes of the keys and values hashed are called with the subscription topic's
	// bare name on both sides, so that they agree whatever the application id.
	serdeTopic := subTopic

	// Left side: subscriptions out.
	send := base + "-subscription-registration-send"
	addDSLNode(b, send, func() dslProcessor[K, Change[V], []byte, fkSubscription] {
		return &fkSubscriptionSender[K, V, KO]{
			foreignKey: foreignKey, foreignKeys: right.keys, keys: left.keys, values: left.values,
			topic: serdeTopic, leftJoin: leftJoin,
		}
	}, left.node)
	addSink(b, base+"-subscription-registration-sink", subTopic, fkKeyBytes(), fkSubscriptionSerde(), []string{send}, true)

	// Right side: subscriptions in, responses out.
	subSource := base + "-subscription-registration-source"
	addSource(b, subSource, fkKeyBytes(), fkSubscriptionSerde(), []string{subTopic}, true, true)
	receive := base + "-subscription-receive"
	rightView := right.view
	addDSLNode(b, receive, func() dslProcessor[[]byte, fkSubscription, []byte, fkResponse[VO]] {
		return &fkSubscriptionReceiver[KO, VO]{subs: subs, right: rightView, foreignKeys: right.keys, topic: serdeTopic}
	}, subSource)
	AddStore(b, subs, receive)
	connectView(b, right.view, receive)
	rightChanges := base + "-foreign-table-join"
	addDSLNode(b, rightChanges, func() dslProcessor[KO, Change[VO], []byte, fkResponse[VO]] {
		return &fkForeignTableJoiner[KO, VO]{subs: subs, foreignKeys: right.keys, topic: serdeTopic}
	}, right.node)
	AddStore(b, subs, rightChanges)
	backToSender := WithPartitioner(func(_ []byte, r fkResponse[VO], _ int32) int32 { return r.partition })
	addSink(b, base+"-subscription-response-sink", resTopic, fkKeyBytes(), fkResponseSerde(right.values), []string{receive, rightChanges}, true, backToSender)

	// Left side: responses in, results out.
	resSource := base + "-subscription-response-source"
	addSource(b, resSource, left.keys, fkResponseSerde(right.values), []string{resTopic}, true, true)
	parents := []string{resSource}
	if leftJoin {
		// A left join answers a row without a foreign key at once, as if the right side
		// had answered that it has no such key: Kafka Streams sends it through the topics
		// with a null key, which Eddy cannot partition.
		noKey := base + "-null-foreign-key"
		addDSLNode(b, noKey, func() dslProcessor[K, Change[V], K, fkResponse[VO]] {
			return &fkNullKeyResolver[K, V, KO, VO]{foreignKey: foreignKey, values: left.values, topic: serdeTopic}
		}, left.node)
		parents = append(parents, noKey)
	}
	resolve := base + "-response-join"
	leftView := left.view
	addDSLNode(b, resolve, func() dslProcessor[K, fkResponse[VO], K, VR] {
		return &fkResponseJoiner[K, V, VO, VR]{left: leftView, values: left.values, topic: serdeTopic, joiner: joiner, leftJoin: leftJoin}
	}, parents...)
	connectView(b, left.view, resolve)
	return materialize(b, resolve, base, left.keys, results)
}

// fkSubscriptionSender turns each change of a left row into the subscriptions it needs,
// with Kafka Streams' instructions (SubscriptionSendProcessorSupplier).
type fkSubscriptionSender[K, V, KO any] struct {
	foreignKey  func(V) KO
	foreignKeys serde.Serde[KO]
	keys        serde.Serde[K]
	values      serde.Serde[V]
	topic       string
	leftJoin    bool
	ctx         *dslContext[[]byte, fkSubscription]
}

func (p *fkSubscriptionSender[K, V, KO]) init(ctx *dslContext[[]byte, fkSubscription]) error {
	p.ctx = ctx
	return nil
}

// foreignKeyBytes returns the serialized foreign key of v, and false when there is no
// v or its foreign key is nil.
func (p *fkSubscriptionSender[K, V, KO]) foreignKeyBytes(v V, has bool) ([]byte, bool, error) {
	if !has {
		return nil, false, nil
	}
	fk := p.foreignKey(v)
	if isNullResult(fk) {
		return nil, false, nil
	}
	b, err := p.foreignKeys.Serialize(p.topic, fk)
	if err != nil {
		return nil, false, fmt.Errorf("topology: foreign-key join: serializing a foreign key: %w", err)
	}
	return b, true, nil
}

func (p *fkSubscriptionSender[K, V, KO]) process(r dslRecord[K, Change[V]]) error {
	ch := r.Value
	if r.keyNull || r.valueNull || (!ch.HasOld && !ch.HasNew) {
		return nil
	}
	oldFK, hasOldFK, err := p.foreignKeyBytes(ch.Old, ch.HasOld)
	if err != nil {
		return err
	}
	newFK, hasNewFK, err := p.foreignKeyBytes(ch.New, ch.HasNew)
	if err != nil {
		return err
	}
	sub := fkSubscription{partition: p.ctx.TaskID().Partition}
	if ch.HasNew {
		if sub.hash, err = hashFKValue(p.values, p.topic, ch.New); err != nil {
			return err
		}
	}
	if sub.primaryKey, err = p.keys.Serialize(p.topic, r.Key); err != nil {
		return fmt.Errorf("topology: foreign-key join: serializing a primary key: %w", err)
	}
	send := func(foreignKey []byte, instruction fkInstruction) {
		s := sub
		s.instruction = instruction
		p.ctx.forward(with(r, foreignKey, s))
	}
	moved := hasOldFK && (!hasNewFK || !bytes.Equal(oldFK, newFK))
	if p.leftJoin {
		// Every change needs an answer, to give the row a result with or without a right
		// value; a row without a foreign key gets it from fkNullKeyResolver.
		if moved {
			send(oldFK, fkDeleteNoPropagate)
		}
		if hasNewFK {
			send(newFK, fkPropagateNullIfNoValue)
		}
		return nil
	}
	switch {
	case !hasNewFK:
		// Deleted, or no foreign key any more: no result, if there was one.
		if hasOldFK {
			send(oldFK, fkDeleteAndPropagate)
		}
	case !hasOldFK:
		// A new row (or one that had no foreign key) had no result to replace.
		send(newFK, fkPropagateOnlyIfValue)
	case moved:
		// The old subscription is on another partition; the new one must answer even
		// without a right value, to delete the result the old foreign key gave.
		send(oldFK, fkDeleteNoPropagate)
		send(newFK, fkPropagateNullIfNoValue)
	default:
		// Same foreign key: without a right value the row had no result either.
		send(newFK, fkPropagateOnlyIfValue)
	}
	return nil
}

// fkNullKeyResolver answers, on the left side, the changes of a left join's rows that
// subscribe to nothing: deleted rows, and rows whose foreign key is nil.
type fkNullKeyResolver[K, V, KO, VO any] struct {
	foreignKey func(V) KO
	values     serde.Serde[V]
	topic      string
	ctx        *dslContext[K, fkResponse[VO]]
}

func (p *fkNullKeyResolver[K, V, KO, VO]) init(ctx *dslContext[K, fkResponse[VO]]) error {
	p.ctx = ctx
	return nil
}

func (p *fkNullKeyResolver[K, V, KO, VO]) process(r dslRecord[K, Change[V]]) error {
	ch := r.Value
	if r.keyNull || r.valueNull || (!ch.HasOld && !ch.HasNew) {
		return nil
	}
	if ch.HasNew && !isNullResult(p.foreignKey(ch.New)) {
		return nil
	}
	res := fkResponse[VO]{partition: p.ctx.TaskID().Partition}
	if ch.HasNew {
		var err error
		if res.hash, err = hashFKValue(p.values, p.topic, ch.New); err != nil {
			return err
		}
	}
	p.ctx.forward(withValue(r, res))
	return nil
}

// fkSubscriptionReceiver keeps the subscriptions that reach the right side and answers
// them (Kafka Streams: SubscriptionReceiveProcessorSupplier and
// SubscriptionJoinProcessorSupplier).
type fkSubscriptionReceiver[KO, VO any] struct {
	subs        store.KeyValueDef[[]byte, ValueAndTimestamp[fkSubscription]]
	right       *tableView[KO, VO]
	foreignKeys serde.Serde[KO]
	topic       string
	kv          store.KV[[]byte, ValueAndTimestamp[fkSubscription]]
	read        tableReader[KO, VO]
	ctx         *dslContext[[]byte, fkResponse[VO]]
}

func (p *fkSubscriptionReceiver[KO, VO]) init(ctx *dslContext[[]byte, fkResponse[VO]]) error {
	p.ctx, p.kv, p.read = ctx, p.subs.From(ctx), p.right.open(ctx)
	return nil
}

func (p *fkSubscriptionReceiver[KO, VO]) process(r dslRecord[[]byte, fkSubscription]) error {
	if r.keyNull || r.valueNull {
		return nil
	}
	sub := r.Value
	key := fkStoreKey(r.Key, sub.primaryKey)
	var err error
	switch sub.instruction {
	case fkDeleteAndPropagate, fkDeleteNoPropagate:
		err = p.kv.Delete(key)
	default:
		err = p.kv.Put(key, ValueAndTimestamp[fkSubscription]{Value: sub, Timestamp: r.Timestamp})
	}
	if err != nil || sub.instruction == fkDeleteNoPropagate {
		return err
	}
	foreignKey, err := p.foreignKeys.Deserialize(p.topic, r.Key)
	if err != nil {
		return fmt.Errorf("topology: foreign-key join: deserializing a foreign key: %w", err)
	}
	other, found, err := p.read(foreignKey)
	if err != nil {
		return err
	}
	res := fkResponse[VO]{hash: sub.hash, partition: sub.partition}
	switch sub.instruction {
	case fkPropagateOnlyIfValue:
		if !found {
			return nil
		}
		res.value, res.hasValue = other.Value, true
	case fkPropagateNullIfNoValue:
		res.value, res.hasValue = other.Value, found
	}
	out := with(r, sub.primaryKey, res)
	if found && other.Timestamp.After(out.Timestamp) {
		out.Timestamp = other.Timestamp
	}
	p.ctx.forward(out)
	return nil
}

// fkForeignTableJoiner answers every subscription of a right row when the row changes
// (Kafka Streams: ForeignTableJoinProcessorSupplier).
type fkForeignTableJoiner[KO, VO any] struct {
	subs        store.KeyValueDef[[]byte, ValueAndTimestamp[fkSubscription]]
	foreignKeys serde.Serde[KO]
	topic       string
	kv          store.KV[[]byte, ValueAndTimestamp[fkSubscription]]
	ctx         *dslContext[[]byte, fkResponse[VO]]
}

func (p *fkForeignTableJoiner[KO, VO]) init(ctx *dslContext[[]byte, fkResponse[VO]]) error {
	p.ctx, p.kv = ctx, p.subs.From(ctx)
	return nil
}

func (p *fkForeignTableJoiner[KO, VO]) process(r dslRecord[KO, Change[VO]]) (err error) {
	ch := r.Value
	if r.keyNull || r.valueNull || (!ch.HasOld && !ch.HasNew) {
		return nil
	}
	foreignKey, err := p.foreignKeys.Serialize(p.topic, r.Key)
	if err != nil {
		return fmt.Errorf("topology: foreign-key join: serializing a foreign key: %w", err)
	}
	prefix := fkStorePrefix(foreignKey, 0)
	it, err := p.kv.PrefixScan(prefix)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for it.Next() {
		sub := it.Value().Value
		res := fkResponse[VO]{hash: sub.hash, partition: sub.partition, value: ch.New, hasValue: ch.HasNew}
		p.ctx.forward(with(r, it.Key()[len(prefix):], res))
	}
	return it.Err()
}

// fkResponseJoiner joins the responses that reach the left side with the left rows'
// current values, dropping stale ones (Kafka Streams: ResponseJoinProcessorSupplier).
type fkResponseJoiner[K, V, VO, VR any] struct {
	left     *tableView[K, V]
	values   serde.Serde[V]
	topic    string
	joiner   func(V, VO) VR
	leftJoin bool
	read     tableReader[K, V]
	ctx      *dslContext[K, VR]
}

func (p *fkResponseJoiner[K, V, VO, VR]) init(ctx *dslContext[K, VR]) error {
	p.ctx, p.read = ctx, p.left.open(ctx)
	return nil
}

func (p *fkResponseJoiner[K, V, VO, VR]) process(r dslRecord[K, fkResponse[VO]]) error {
	if r.keyNull || r.valueNull {
		return nil
	}
	current, found, err := p.read(r.Key)
	if err != nil {
		return err
	}
	var h fkHash
	if found {
		if h, err = hashFKValue(p.values, p.topic, current.Value); err != nil {
			return err
		}
	}
	res := r.Value
	if h != res.hash {
		return nil // stale: the row changed since; the response to that change follows
	}
	var result VR
	out := withValue(r, result)
	out.Headers = nil
	if !found || (!res.hasValue && !p.leftJoin) {
		out.valueNull = true
	} else {
		out.Value = p.joiner(current.Value, res.value)
	}
	p.ctx.forward(out)
	return nil
}
