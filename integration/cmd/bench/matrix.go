package main

import "fmt"

// dataset is one preloaded input topic.
type dataset struct {
	name       string // short, for row ids and topic names
	records    int
	keys       int
	valueBytes int
	topic      string // set once preloaded
}

func (d *dataset) String() string {
	return fmt.Sprintf("%d records, %s keys, %s values", d.records, count(d.keys), size(d.valueBytes))
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func size(b int) string {
	if b >= 1024 && b%1024 == 0 {
		return fmt.Sprintf("%d KiB", b/1024)
	}
	return fmt.Sprintf("%d B", b)
}

// Kinds of rows.
const (
	throughput = iota
	latency
	restore
)

// row is one line of the table per contender: a scenario of the protocol on an input
// with its settings.
type row struct {
	id         string // unique, for -scenarios
	scenario   string // the --scenario of the contenders
	kind       int
	input      *dataset
	guarantee  string
	commitMs   int
	cacheBytes int64
	// base is the id of the row whose Eddy throughput this one's is compared with (the
	// exactly-once rows with at-least-once), or "".
	base string
	// attempt counts the repetitions of the row (-repeat), each with its own app id.
	attempt int
}

// commitDelayed says whether the row's output waits for commits: the record cache of a
// count or windowed count forwards the updates of a key once per commit.
func (r row) commitDelayed() bool {
	return r.cacheBytes > 0 && r.kind == throughput && r.scenario != "passthrough" && r.scenario != "join"
}

func (r row) describe() string {
	switch r.kind {
	case latency:
		return fmt.Sprintf("%s, %s, commit %d ms", r.scenario, r.guarantee, r.commitMs)
	case restore:
		return "count store of " + count(r.input.keys) + " keys, cache off"
	}
	cache := "cache on"
	if r.cacheBytes == 0 {
		cache = "cache off"
	}
	if r.scenario == "passthrough" || r.scenario == "join" {
		cache = ""
	} else {
		cache = ", " + cache
	}
	guarantee := ""
	if r.guarantee == "exactly_once" {
		guarantee = fmt.Sprintf(", EOS %d ms", r.commitMs)
	}
	return fmt.Sprintf("%s%s%s; %s", r.scenario, cache, guarantee, r.input)
}

// scenarioNames are the base names -scenarios takes besides row ids.
func scenarioNames() []string {
	return []string{"passthrough", "count", "count-nocache", "tumbling-count", "hopping-count", "join", "eos-100ms", "eos-1s", "latency", "restore"}
}

// matrix returns the datasets and rows of c.
func matrix(c config) ([]*dataset, []row) {
	small100 := &dataset{name: "100b-" + count(c.smallKeys), records: c.records, keys: c.smallKeys, valueBytes: 100}
	large100 := &dataset{name: "100b-" + count(c.largeKeys), records: c.records, keys: c.largeKeys, valueBytes: 100}
	small1k := &dataset{name: "1kib-" + count(c.smallKeys), records: c.records / 4, keys: c.smallKeys, valueBytes: 1024}
	large1k := &dataset{name: "1kib-" + count(c.largeKeys), records: c.records / 4, keys: c.largeKeys, valueBytes: 1024}
	restoreSet := &dataset{name: "restore", records: c.restoreKeys, keys: c.restoreKeys, valueBytes: 100}

	alos := func(id, scenario string, d *dataset, cache int64) row {
		return row{id: id, scenario: scenario, kind: throughput, input: d, guarantee: "at_least_once", commitMs: c.commitMs, cacheBytes: cache}
	}
	eos := func(id string, d *dataset, ms int, base string) row {
		return row{id: id, scenario: "count", kind: throughput, input: d, guarantee: "exactly_once", commitMs: ms, cacheBytes: c.cacheBytes, base: base}
	}
	var rows []row
	inputs := []*dataset{small100}
	if c.full {
		inputs = []*dataset{small100, large100, small1k, large1k}
	}
	for _, d := range inputs {
		suffix := ""
		if d != small100 {
			suffix = "/" + d.name
		}
		rows = append(rows,
			alos("passthrough"+suffix, "passthrough", d, c.cacheBytes),
			alos("count"+suffix, "count", d, c.cacheBytes),
			alos("count-nocache"+suffix, "count", d, 0),
			alos("tumbling-count"+suffix, "tumbling-count", d, c.cacheBytes),
			alos("hopping-count"+suffix, "hopping-count", d, c.cacheBytes),
			alos("join"+suffix, "join", d, c.cacheBytes),
			eos("eos-100ms"+suffix, d, 100, "count"+suffix),
			eos("eos-1s"+suffix, d, 1000, "count"+suffix),
		)
		if d == small100 && !c.full {
			rows = append(rows,
				alos("passthrough/"+small1k.name, "passthrough", small1k, c.cacheBytes),
				alos("count/"+large100.name, "count", large100, c.cacheBytes),
			)
		}
	}
	rows = append(rows,
		row{id: "latency", scenario: "latency", kind: latency, input: small100, guarantee: "exactly_once", commitMs: 100, cacheBytes: c.cacheBytes},
		row{id: "restore", scenario: "count", kind: restore, input: restoreSet, guarantee: "at_least_once", commitMs: c.commitMs},
	)
	var selected []row
	for _, r := range rows {
		base := r.id
		if i := indexByte(base, '/'); i >= 0 {
			base = base[:i]
		}
		if c.scenarios == nil || c.scenarios[r.id] || c.scenarios[base] {
			selected = append(selected, r)
		}
	}
	var sets []*dataset
	seen := map[*dataset]bool{}
	for _, r := range selected {
		if r.kind != latency && !seen[r.input] {
			seen[r.input] = true
			sets = append(sets, r.input)
		}
	}
	return sets, selected
}

func indexByte(s string, b byte) int {
	for i := range len(s) {
		if s[i] == b {
			return i
		}
	}
	return -1
}
