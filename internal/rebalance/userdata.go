package rebalance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/eddy-streams/eddy/processor"
)

// UserDataVersion is the version of the user data this package writes. A reader accepts
// every version from 1 up: later versions must keep the version 1 layout as a prefix and
// may only append fields, so an older leader still reads what it knows of a newer member.
const UserDataVersion = 1

// ErrBadUserData is wrapped by every error of DecodeUserData.
var ErrBadUserData = errors.New("rebalance: malformed user data")

// UserData is what a member tells the group leader about itself in the UserData field of
// its kmsg.ConsumerMemberMetadata: the tasks it owned and the local state it has. Kafka
// Streams: SubscriptionInfo (prevTasks, taskOffsetSums).
//
// Encoding, version 1 (uvarint is unsigned LEB128 as in encoding/binary, varint is its
// zig-zag signed form; both in their shortest form):
//
//	version      uint16, big-endian
//	prev count   uvarint, then per task: subtopology uvarint, partition uvarint
//	offset count uvarint, then per task: subtopology uvarint, partition uvarint, offset varint
//
// Both lists are in strictly ascending task order (subtopology, then partition), so a
// task appears at most once in each and one UserData has exactly one encoding.
// Subtopologies and partitions are at most math.MaxInt32.
type UserData struct {
	// PrevTasks are the tasks the member owned when it joined, sorted.
	PrevTasks []processor.TaskID
	// TaskOffsets maps each task the member has local state for to the sum of the
	// changelog offsets its local stores reflect; the larger, the less there is to restore.
	TaskOffsets map[processor.TaskID]int64
}

// EncodeUserData returns the version 1 encoding of d. Tasks with a negative subtopology or
// partition, or one above math.MaxInt32, are not tasks and are left out.
func EncodeUserData(d UserData) []byte {
	prev := validTasks(d.PrevTasks)
	withState := make([]processor.TaskID, 0, len(d.TaskOffsets))
	for id := range d.TaskOffsets {
		withState = append(withState, id)
	}
	withState = validTasks(withState)

	dst := make([]byte, 0, 2+binary.MaxVarintLen64*(1+2*len(prev))+3*binary.MaxVarintLen64*(1+len(withState)))
	dst = binary.BigEndian.AppendUint16(dst, UserDataVersion)
	dst = binary.AppendUvarint(dst, uint64(len(prev)))
	for _, id := range prev {
		dst = appendTask(dst, id)
	}
	dst = binary.AppendUvarint(dst, uint64(len(withState)))
	for _, id := range withState {
		dst = appendTask(dst, id)
		dst = binary.AppendVarint(dst, d.TaskOffsets[id])
	}
	return dst
}

// validTasks returns the valid task IDs of ids, sorted and without duplicates, in a new
// slice.
func validTasks(ids []processor.TaskID) []processor.TaskID {
	out := make([]processor.TaskID, 0, len(ids))
	for _, id := range ids {
		if id.Subtopology >= 0 && id.Subtopology <= math.MaxInt32 && id.Partition >= 0 {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, compareTasks)
	return slices.Compact(out)
}

func appendTask(dst []byte, id processor.TaskID) []byte {
	dst = binary.AppendUvarint(dst, uint64(id.Subtopology))
	return binary.AppendUvarint(dst, uint64(id.Partition))
}

// DecodeUserData decodes what EncodeUserData wrote, of any version from 1 up (see
// UserDataVersion). Every error wraps ErrBadUserData. Empty slices and maps decode as nil.
func DecodeUserData(b []byte) (UserData, error) {
	r := reader{b: b}
	if len(b) < 2 {
		return UserData{}, fmt.Errorf("%w: %d bytes, too short for a version", ErrBadUserData, len(b))
	}
	version := binary.BigEndian.Uint16(b)
	r.off = 2
	if version < 1 {
		return UserData{}, fmt.Errorf("%w: version %d", ErrBadUserData, version)
	}

	var d UserData
	n := r.count("previous task count", 2)
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := r.task()
		if r.err == nil && len(d.PrevTasks) > 0 && compareTasks(d.PrevTasks[len(d.PrevTasks)-1], id) >= 0 {
			r.fail("previous task %v out of order", id)
		}
		d.PrevTasks = append(d.PrevTasks, id)
	}
	n = r.count("task offset count", 3)
	var last processor.TaskID
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := r.task()
		offset := r.varint("offset")
		if r.err == nil && i > 0 && compareTasks(last, id) >= 0 {
			r.fail("task offset of %v out of order", id)
		}
		if d.TaskOffsets == nil {
			d.TaskOffsets = make(map[processor.TaskID]int64, n)
		}
		d.TaskOffsets[id] = offset
		last = id
	}
	if r.err == nil && version == 1 && r.off != len(b) {
		r.fail("%d bytes after the end of version 1", len(b)-r.off)
	}
	if r.err != nil {
		return UserData{}, r.err
	}
	return d, nil
}

// reader decodes the fields of UserData from b, keeping the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrBadUserData, r.off, fmt.Sprintf(format, args...))
	}
}

// uvarint reads one unsigned varint in its shortest form.
func (r *reader) uvarint(what string) uint64 {
	return readVarint(r, what, binary.Uvarint, binary.AppendUvarint)
}

// varint reads one signed varint in its shortest form.
func (r *reader) varint(what string) int64 {
	return readVarint(r, what, binary.Varint, binary.AppendVarint)
}

// readVarint reads one varint with decode, refusing any but the shortest form (the one
// encode writes), so that every value has one encoding.
func readVarint[T uint64 | int64](r *reader, what string, decode func([]byte) (T, int), encode func([]byte, T) []byte) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b[r.off:])
	if n <= 0 {
		r.fail("%s truncated or too large", what)
		return 0
	}
	if n != len(encode(nil, v)) {
		r.fail("%s not in its shortest form", what)
		return 0
	}
	r.off += n
	return v
}

// count reads a list length, refusing one that the remaining bytes cannot hold at
// minBytes bytes per element, so that garbage never makes a large allocation.
func (r *reader) count(what string, minBytes int) uint64 {
	n := r.uvarint(what)
	if r.err == nil && n > uint64((len(r.b)-r.off)/minBytes) {
		r.fail("%s %d exceeds the %d bytes left", what, n, len(r.b)-r.off)
		return 0
	}
	return n
}

func (r *reader) task() processor.TaskID {
	sub := r.uvarint("subtopology")
	part := r.uvarint("partition")
	if r.err == nil && (sub > math.MaxInt32 || part > math.MaxInt32) {
		r.fail("task %d_%d out of range", sub, part)
	}
	if r.err != nil {
		return processor.TaskID{}
	}
	return processor.TaskID{Subtopology: int(sub), Partition: int32(part)}
}
