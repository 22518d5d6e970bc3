package rebalance_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/rebalance"
	"github.com/eddy-streams/eddy/processor"
)

func TestUserDataRoundTrips(t *testing.T) {
	cases := []struct {
		name string
		data rebalance.UserData
	}{
		{"nothing encodes and decodes as nothing", rebalance.UserData{}},
		{"previous tasks come back sorted", rebalance.UserData{
			PrevTasks: []processor.TaskID{task(0, 0), task(0, 7), task(3, 1)},
		}},
		{"offsets of any sign and size come back", rebalance.UserData{
			TaskOffsets: map[processor.TaskID]int64{task(0, 0): 0, task(1, 2): -2, task(2, math.MaxInt32): math.MaxInt64, task(math.MaxInt32, 0): math.MinInt64},
		}},
		{"previous tasks and offsets travel together", rebalance.UserData{
			PrevTasks:   []processor.TaskID{task(1, 1)},
			TaskOffsets: map[processor.TaskID]int64{task(1, 1): 300, task(2, 0): 12},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rebalance.DecodeUserData(rebalance.EncodeUserData(tc.data))
			if err != nil {
				t.Fatalf("DecodeUserData: %v", err)
			}
			if !reflect.DeepEqual(got, tc.data) {
				t.Errorf("got %+v, want %+v", got, tc.data)
			}
		})
	}
}

func TestEncodeUserDataNormalizes(t *testing.T) {
	got, err := rebalance.DecodeUserData(rebalance.EncodeUserData(rebalance.UserData{
		PrevTasks:   []processor.TaskID{task(2, 0), task(-1, 0), task(0, 3), task(0, -4), task(2, 0)},
		TaskOffsets: map[processor.TaskID]int64{task(0, -1): 5, task(1, 0): 6},
	}))
	want := rebalance.UserData{
		PrevTasks:   []processor.TaskID{task(0, 3), task(2, 0)},
		TaskOffsets: map[processor.TaskID]int64{task(1, 0): 6},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v; want %+v: sorted, without duplicates or negative ids", got, err, want)
	}
}

func TestEncodeUserDataLayout(t *testing.T) {
	got := rebalance.EncodeUserData(rebalance.UserData{
		PrevTasks:   []processor.TaskID{task(1, 2)},
		TaskOffsets: map[processor.TaskID]int64{task(1, 2): -3},
	})
	want := []byte{
		0, 1, // version 1
		1, 1, 2, // one previous task: 1_2
		1, 1, 2, 5, // one offset: 1_2 at zig-zag(-3) = 5
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
}

func TestDecodeUserDataRejects(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty input has no version", nil, "too short"},
		{"one byte has no version", []byte{0}, "too short"},
		{"version zero does not exist", []byte{0, 0, 0, 0}, "version 0"},
		{"a missing offset list is truncated", []byte{0, 1, 0}, "truncated"},
		{"a count larger than the bytes left is refused before allocating", []byte{0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0}, "exceeds"},
		{"a task cut in the middle is truncated", []byte{0, 1, 1, 0x80, 0x80}, "truncated"},
		{"an offset cut off is truncated", []byte{0, 1, 0, 1, 0, 0, 0x80}, "truncated"},
		{"previous tasks out of order are refused", []byte{0, 1, 2, 0, 2, 0, 1, 0}, "out of order"},
		{"a task listed twice is refused", []byte{0, 1, 0, 2, 0, 1, 4, 0, 1, 6}, "out of order"},
		{"a varint longer than needed is refused", []byte{0, 1, 1, 0x80, 0x00, 0, 0}, "shortest form"},
		{"a partition beyond int32 is refused", []byte{0, 1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x08, 0}, "out of range"},
		{"bytes after version 1 are refused", []byte{0, 1, 0, 0, 9}, "after the end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := rebalance.DecodeUserData(tc.b)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", d)
			}
			if !errors.Is(err, rebalance.ErrBadUserData) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadUserData saying %q", err, tc.want)
			}
			if strings.Count(err.Error(), "rebalance: ") != 1 {
				t.Errorf("err = %q, want the prefix once", err)
			}
		})
	}
}

func TestDecodeUserDataReadsTheVersion1PrefixOfLaterVersions(t *testing.T) {
	v1 := rebalance.EncodeUserData(rebalance.UserData{PrevTasks: []processor.TaskID{task(0, 1)}})
	v2 := append([]byte{0, 2}, v1[2:]...)
	v2 = append(v2, 0xde, 0xad) // a field version 2 added
	got, err := rebalance.DecodeUserData(v2)
	if err != nil || !reflect.DeepEqual(got.PrevTasks, []processor.TaskID{task(0, 1)}) {
		t.Errorf("got %+v, %v; want the previous task 0_1", got, err)
	}
}

func FuzzDecodeUserData(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0})
	f.Add([]byte{0, 2, 0, 0, 1, 2, 3})
	f.Add([]byte{0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0})
	f.Add(rebalance.EncodeUserData(rebalance.UserData{
		PrevTasks:   []processor.TaskID{task(0, 0), task(1, 5)},
		TaskOffsets: map[processor.TaskID]int64{task(0, 0): 42, task(2, 3): -1},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := rebalance.DecodeUserData(b)
		if err != nil {
			if !errors.Is(err, rebalance.ErrBadUserData) {
				t.Errorf("error %v does not wrap ErrBadUserData", err)
			}
			return
		}
		out := rebalance.EncodeUserData(d)
		if b[0] == 0 && b[1] == 1 && !bytes.Equal(out, b) {
			t.Errorf("% x decoded to %+v, which encodes to % x", b, d, out)
		}
		again, err := rebalance.DecodeUserData(out)
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Errorf("%+v re-decoded to %+v, %v", d, again, err)
		}
	})
}
