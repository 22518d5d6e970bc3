package engine

import (
	"testing"
	"time"
)

func TestRejoinBackoffDoublesFrom100msUpTo1sWithJitterAndResets(t *testing.T) {
	var b rejoinBackoff
	for i, base := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		base *= time.Millisecond
		got := b.next()
		if low, high := base*8/10, base*12/10; got < low || got > high {
			t.Errorf("wait %d is %s, want within [%s, %s]", i+1, got, low, high)
		}
	}
	b.reset()
	if got := b.next(); got > 120*time.Millisecond {
		t.Errorf("the first wait after a reset is %s, want about 100ms", got)
	}
}
