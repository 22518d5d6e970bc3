package main

import "testing"

func defaults() config {
	return config{records: 1_000_000, smallKeys: 10_000, largeKeys: 1_000_000, restoreKeys: 1_000_000, commitMs: 1000, cacheBytes: 10 << 20}
}

func TestTheDefaultMatrixRunsEveryScenarioWithEveryValueAndKeySpace(t *testing.T) {
	sets, rows := matrix(defaults())
	scenarios := map[string]bool{}
	ids := map[string]bool{}
	for _, r := range rows {
		scenarios[r.scenario] = true
		if ids[r.id] {
			t.Errorf("row id %s twice", r.id)
		}
		ids[r.id] = true
	}
	for _, s := range []string{"passthrough", "count", "tumbling-count", "hopping-count", "join", "latency"} {
		if !scenarios[s] {
			t.Errorf("no %s row", s)
		}
	}
	for _, id := range []string{"count-nocache", "eos-100ms", "eos-1s", "restore", "passthrough/1kib-10k", "count/100b-1M"} {
		if !ids[id] {
			t.Errorf("no row %s", id)
		}
	}
	if len(sets) != 4 {
		t.Errorf("%d inputs, want 4 (100 B, 1 KiB, 1M keys, restore)", len(sets))
	}
}

func TestFullRunsEveryThroughputScenarioOnEveryInput(t *testing.T) {
	c := defaults()
	c.full = true
	sets, rows := matrix(c)
	if len(rows) != 4*8+2 || len(sets) != 5 {
		t.Errorf("%d rows on %d inputs, want 34 on 5", len(rows), len(sets))
	}
}

func TestScenariosSelectsByIdOrByName(t *testing.T) {
	c := defaults()
	c.scenarios = set("passthrough,eos-1s")
	sets, rows := matrix(c)
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.id)
	}
	if len(rows) != 3 || len(sets) != 2 {
		t.Errorf("rows %v on %d inputs, want passthrough, eos-1s and passthrough/1kib-10k on 2", ids, len(sets))
	}
}

func TestPartialRunSaysHow(t *testing.T) {
	if got := partialRun(defaults()); got != "" {
		t.Errorf("the default run is partial: %s", got)
	}
	c := defaults()
	c.records = 100_000
	c.contenders = set("eddy,ceiling")
	if got, want := partialRun(c), "100000 records per input, without kafka-streams"; got != want {
		t.Errorf("partialRun = %q, want %q", got, want)
	}
}
