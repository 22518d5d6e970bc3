package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/integration/kafkatest"
)

// progressLine is one result as it comes.
func progressLine(r *result) string {
	cells := cellsOf(r, nil)
	return fmt.Sprintf("%-28s %-13s %s", r.row.id, r.contender, strings.Join(cells[2:10], "  "))
}

var header = []string{"row", "contender", "records/s", "MB/s", "output offsets", "CPU s / M rec", "peak RSS MB", "latency p50 / p99 / p99.9 ms", "restart / restore", "restore rate rec/s", "Eddy / KS", "Eddy / ceiling", "goals"}

// cellsOf returns r's cells; all holds every result, for Eddy's ratios and goals.
func cellsOf(r *result, all []*result) []string {
	c := make([]string, len(header))
	for i := range c {
		c[i] = "—"
	}
	c[0], c[1] = r.row.id, r.contender
	switch {
	case r.skip != "":
		c[2] = r.skip
		return c
	case r.err != nil:
		c[2] = "failed: " + oneLine(r.err.Error(), 300)
		return c
	}
	switch r.row.kind {
	case throughput:
		c[2] = fmt.Sprintf("%.0f", r.rate())
		if r.fromJoin {
			c[2] += " †"
		}
		c[3] = fmt.Sprintf("%.1f", float64(r.bytes)/r.seconds/1e6)
		c[4] = fmt.Sprint(r.outputOffsets)
	case latency:
		c[7] = fmt.Sprintf("%s / %s / %s (input acked within %s)", ms(r.p50), ms(r.p99), ms(r.p999), ms(r.slowestAck))
	case restore:
		c[8] = secs(r.restart) + " / "
		if r.restoreNA != "" {
			c[8] += r.restoreNA
		} else {
			c[8] += secs(r.restoreIn)
			c[9] = fmt.Sprintf("%.0f", restoreRate(r))
		}
	}
	if r.records > 0 && r.row.kind != restore {
		c[5] = fmt.Sprintf("%.2f", r.stats.cpu.Seconds()/(float64(r.records)/1e6))
	}
	if r.stats.peakRSS > 0 {
		c[6] = fmt.Sprintf("%.0f", float64(r.stats.peakRSS)/(1<<20))
	}
	if r.contender == "eddy" && all != nil {
		ks, ceiling := find(all, r.row.id, "kafka-streams"), find(all, r.row.id, "ceiling")
		c[10], c[11] = ratio(r, ks), ratio(r, ceiling)
		c[12] = strings.Join(goals(r, ks, ceiling, all), "; ")
	}
	return c
}

// oneLine returns s on one line without table separators, cut to at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.NewReplacer("|", "/", "\n", " / ").Replace(strings.TrimSpace(s))), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func restoreRate(r *result) float64 {
	if r.restoreIn <= 0 {
		return 0
	}
	return float64(r.changelogRecords) / r.restoreIn.Seconds()
}

func ok(r *result) bool { return r != nil && r.skip == "" && r.err == nil }

func find(all []*result, id, contender string) *result {
	for _, r := range all {
		if r.row.id == id && r.contender == contender {
			return r
		}
	}
	return nil
}

// figure is the figure of r that ratios compare: throughput, p99 latency or restore rate.
func figure(r *result) float64 {
	switch r.row.kind {
	case latency:
		return float64(r.p99)
	case restore:
		return restoreRate(r)
	}
	return r.rate()
}

func ratio(r, other *result) string {
	if !ok(r) || !ok(other) || figure(other) == 0 || (r.row.kind == restore && other.restoreNA != "") {
		return "—"
	}
	return fmt.Sprintf("%.2f", figure(r)/figure(other))
}

// goals returns the goals that apply to Eddy's result r, each met or not.
func goals(r, ks, ceiling *result, all []*result) []string {
	var g []string
	check := func(name string, have bool, met bool, detail string) {
		switch {
		case !have:
			g = append(g, name+": no figure to compare")
		case met:
			g = append(g, fmt.Sprintf("%s: met (%s)", name, detail))
		default:
			g = append(g, fmt.Sprintf("%s: NOT met (%s)", name, detail))
		}
	}
	rel := func(other *result) (float64, bool) {
		if !ok(r) || !ok(other) || figure(other) == 0 {
			return 0, false
		}
		return figure(r) / figure(other), true
	}
	switch r.row.kind {
	case throughput:
		x, have := rel(ks)
		check("≥1.5× KS", have, x >= 1.5, fmt.Sprintf("%.2f×", x))
		if r.row.scenario == "passthrough" {
			x, have := rel(ceiling)
			check("≥0.8 ceiling", have, x >= 0.8, fmt.Sprintf("%.2f", x))
		}
		if r.row.scenario == "count" && r.row.guarantee == "at_least_once" {
			x, have := rel(ceiling)
			check("≥0.7 ceiling", have, x >= 0.7, fmt.Sprintf("%.2f", x))
		}
		if r.row.base != "" && r.row.commitMs == 100 {
			x, have := rel(find(all, r.row.base, "eddy"))
			check("≥0.9 of ALOS", have, x >= 0.9, fmt.Sprintf("%.2f", x))
		}
	case latency:
		have := ok(r) && ok(ks)
		check("p99 < KS", have, have && r.p99 < ks.p99, func() string {
			if have {
				return ms(r.p99) + " vs " + ms(ks.p99) + " ms"
			}
			return ""
		}())
	case restore:
		x, have := rel(ks)
		check("restore ≥2× KS", have, x >= 2, fmt.Sprintf("%.2f×", x))
		check("restart < 2 s", ok(r), ok(r) && r.restart < 2*time.Second, secs(r.restart))
	}
	if ok(r) && ok(ks) && ks.stats.peakRSS > 0 {
		x := float64(r.stats.peakRSS) / float64(ks.stats.peakRSS)
		check("RSS ≤ 1/3 KS", true, x <= 1.0/3, fmt.Sprintf("%.2f", x))
	} else {
		check("RSS ≤ 1/3 KS", false, false, "")
	}
	return g
}

// table renders every result as a Markdown table, followed by the rows' descriptions.
func table(all []*result) string {
	var b strings.Builder
	line := func(cells []string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range all {
		line(cellsOf(r, all))
	}
	b.WriteString("\nRows:\n\n")
	seen := map[string]bool{}
	for _, r := range all {
		if !seen[r.row.id] {
			seen[r.row.id] = true
			fmt.Fprintf(&b, "- `%s`: %s\n", r.row.id, r.row.describe())
		}
	}
	return b.String()
}

// writeReport writes BENCHMARKS.md.
func writeReport(c config, cluster *kafkatest.Cluster, contenders []*contender, sets []*dataset, report string) error {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `integration/cmd/bench` (`make bench`); its package documentation describes the method (the benchmark protocol of issue 6). Every contender is a separate process against the same broker, measured from outside.\n\n")
	if partial := partialRun(c); partial != "" {
		fmt.Fprintf(&b, "**A partial run (%s): its figures are not the issue's; `make bench` makes those.**\n\n", partial)
	}
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Command: `cd integration && go run ./cmd/bench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Go: %s %s/%s; Java: %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, javaVersion())
	for _, line := range versionLines(cluster, contenders) {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	if c.repeat > 1 {
		fmt.Fprintf(&b, "- Each row and contender ran %d times; the table shows the run with the median figure\n", c.repeat)
	}
	fmt.Fprintf(&b, "- Settings: %d partitions per topic, no compression, linger 5 ms, one processing thread, at-least-once commit interval %d ms, record cache %d bytes when on (0 when off), auto.offset.reset=earliest\n", c.partitions, c.commitMs, c.cacheBytes)
	for _, d := range sets {
		fmt.Fprintf(&b, "- Input %s: %s\n", d.name, d)
	}
	fmt.Fprintf(&b, "- Latency: %d records/s for %d s\n\n", c.latencyRate, c.latencySeconds)
	b.WriteString(report)
	b.WriteString(`
Figures: records/s = input records / (LogAppendTime of the last output record − of the first); MB/s counts the input's key and value bytes; CPU is utime+stime of the contender's process from its start to the end of its input (start-up included), per million input records; peak RSS is VmHWM just before SIGTERM; latency is read_committed consume time − produce timestamp; restart / restore is the time from the process start to the output of a probe record produced right after start, on kept state / on a deleted state directory (restore rate: changelog records / that time). The ceiling keeps no changelog, so it has no restore figure. A rate marked † (the rows with the record cache on, whose output leaves at commits, so that the first output comes a commit interval after processing starts) runs from when the contender's consumer group is first seen Stable with a member (DescribeGroups polled every 10 ms) to the last output append: it includes the contender's first fetch and task start, not its process start or group join, and the wait for the commit that emits the last counts (up to one commit interval, which the ceiling, without a cache, does not pay). With the record cache on, output offsets are fewer than input records (the updates of a key within a commit are emitted once); the ceiling has no cache. Eddy / KS and Eddy / ceiling compare throughput (higher is better for Eddy), except on the latency row (p99, lower is better) and the restore row (restore rate). Goals are the issue's; "no figure to compare" means the other contender did not run.
`)
	return os.WriteFile(c.out, []byte(b.String()), 0o644)
}

func machine() string {
	cpu, cores := "unknown CPU", 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, found := strings.Cut(l, ":"); found {
				switch strings.TrimSpace(k) {
				case "model name":
					cpu = strings.TrimSpace(v)
				case "processor":
					cores++
				}
			}
		}
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, found := strings.CutPrefix(l, "MemTotal:"); found {
				var kb int64
				fmt.Sscan(strings.TrimSpace(rest), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs, %s RAM (shared with the broker)", cpu, cores, mem)
}

func javaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "not installed"
	}
	return strings.TrimSpace(strings.Split(string(out), "\n")[0])
}

// partialRun says how c differs from the default run, or "".
func partialRun(c config) string {
	var why []string
	if c.records < 1_000_000 {
		why = append(why, fmt.Sprintf("%d records per input", c.records))
	}
	if c.restoreKeys < 1_000_000 {
		why = append(why, fmt.Sprintf("a store of %d keys", c.restoreKeys))
	}
	if c.scenarios != nil {
		why = append(why, "some scenarios")
	}
	for _, name := range contenderOrder {
		if c.contenders != nil && !c.contenders[name] {
			why = append(why, "without "+name)
		}
	}
	return strings.Join(why, ", ")
}

// versionLines returns the report's lines on the broker and, when it is a contender, Kafka
// Streams. The broker's version is the one the running broker logged (or, for an external
// cluster, franz-go's guess from its API versions), never the harness's pinned version.
func versionLines(cluster *kafkatest.Cluster, contenders []*contender) []string {
	kafka := "Kafka: " + cluster.String()
	for _, ct := range contenders {
		if ct.name != "kafka-streams" {
			continue
		}
		ks, err := kafkaStreamsVersion(ct)
		if err != nil {
			return []string{kafka, "Kafka Streams: " + err.Error()}
		}
		return []string{kafka + "; " + sameVersion(cluster.Version(), cluster.Image() == "", ks), "Kafka Streams: " + ks}
	}
	return []string{kafka}
}

// sameVersion says whether the broker runs Kafka Streams' version ks; guessed says the
// broker's version is a guess from its API versions.
func sameVersion(broker string, guessed bool, ks string) string {
	switch {
	case guessed:
		return fmt.Sprintf("whether it is Kafka Streams' version (%s) is unknown: an external broker's version is a guess", ks)
	case broker == ks:
		return fmt.Sprintf("the same version as Kafka Streams (%s)", ks)
	}
	return fmt.Sprintf("NOT Kafka Streams' version (%s): make bench runs the broker at Kafka Streams' version unless KAFKA_IMAGE names another image", ks)
}

// kafkaStreamsVersion asks the Kafka Streams contender for its version (--version). The
// error says why there is none: the contender was not built, or did not answer.
func kafkaStreamsVersion(ct *contender) (string, error) {
	if ct.skip != "" {
		return "", errors.New(ct.skip)
	}
	out, err := exec.Command(ct.argv[0], append(ct.argv[1:], "--version")...).Output()
	if err != nil {
		return "", fmt.Errorf("unknown (--version: %w)", err)
	}
	v := oneLine(string(out), 200)
	if v == "" {
		return "", errors.New("unknown (--version printed nothing)")
	}
	return v, nil
}
