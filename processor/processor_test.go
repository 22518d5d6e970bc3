package processor_test

import (
	"testing"

	"github.com/eddy-streams/eddy/processor"
)

func TestTaskIDRoundTrip(t *testing.T) {
	for _, id := range []processor.TaskID{{0, 0}, {3, 17}, {12, 2147483647}} {
		got, err := processor.ParseTaskID(id.String())
		if err != nil || got != id {
			t.Errorf("ParseTaskID(%q) = %v, %v", id.String(), got, err)
		}
	}
}

func TestParseTaskIDRejectsOtherForms(t *testing.T) {
	for _, s := range []string{"", "1", "1_", "_1", "a_1", "1_b", "-1_0", "0_-1", "1_2_3", "0_2147483648"} {
		if id, err := processor.ParseTaskID(s); err == nil {
			t.Errorf("ParseTaskID(%q) = %v, want an error", s, id)
		}
	}
}

func FuzzParseTaskID(f *testing.F) {
	f.Add("0_1")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := processor.ParseTaskID(s)
		if err == nil && id.String() != s {
			// Leading zeros and plus signs parse but do not round trip; that is fine as
			// long as the parsed id is the same number.
			again, err := processor.ParseTaskID(id.String())
			if err != nil || again != id {
				t.Errorf("%q parsed to %v, which does not round trip", s, id)
			}
		}
	})
}
