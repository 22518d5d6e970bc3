// Command bench runs the benchmarks of issue 6 side by side: Eddy, Kafka Streams and a
// raw-client ceiling, each a separate process against one real broker, every figure
// measured the same way from outside the contender. It starts the broker with the test
// harness (so KAFKA_IMAGE and KAFKA_BOOTSTRAP apply), preloads the inputs once with one
// producer, runs every selected scenario for every contender in turn, prints a table and
// writes it, with the machine, the versions and the command, to BENCHMARKS.md.
//
//	make bench                       (or: cd integration && go run ./cmd/bench)
//	go run ./cmd/bench -records 100000 -contenders eddy,ceiling     (a quick run)
//
// Kafka Streams and the broker should be of one Kafka version. make bench sets KAFKA_IMAGE
// to a broker of the Kafka Streams contender's version (kafka.version in
// integration/bench/kafkastreams/pom.xml), unless KAFKA_IMAGE is set already; run directly,
// the harness starts the tests' version (integration/kafkatest/image/VERSION). Either way
// BENCHMARKS.md gives the version the broker logged at start (an external broker's is
// guessed from its API versions) and says whether it is Kafka Streams'.
//
// Contenders take the same flags (see bench-eddy): ceiling is integration/cmd/bench-ceiling,
// eddy is integration/cmd/bench-eddy, both built with go build into a temporary directory;
// kafka-streams runs the command line that integration/bench/kafkastreams/build.sh prints,
// and is skipped ("not built: why") when that script is absent or fails.
//
// The default matrix runs every scenario once on 100-byte values and 10,000 keys
// (-records input records each), plus the pass-through on 1 KiB values (a quarter of the
// records, the same bytes order of magnitude) and the count on 1,000,000 keys; -full runs
// every throughput scenario on all four inputs (100 B and 1 KiB values × 10,000 and
// 1,000,000 keys).
//
// What is measured:
//   - throughput: input records / (LogAppendTime of the last output record − that of the
//     first): the output topics are created with message.timestamp.type=LogAppendTime.
//     A run ends when the contender's group has committed the end offsets of the input.
//     MB/s counts input key and value bytes. Where the record cache is on (count and
//     windowed counts), output leaves only at commits, so the first output comes a
//     commit interval after processing starts: those rows time every contender from when
//     its consumer group is first seen Stable with a member (DescribeGroups every 10 ms)
//     to the last output append.
//   - CPU seconds per million input records: utime+stime of /proc/<pid>/stat, read when
//     the run ends (start-up included), and peak RSS: VmHWM of /proc/<pid>/status.
//   - latency: pass-through under exactly-once at 100 ms, input produced at a fixed rate;
//     latency = consume time (read_committed) − the record's timestamp, set at produce.
//   - restoration: a count (record cache off, so that output follows input) over the
//     restore input (one record per key), stopped cleanly, then started again on its
//     state ("restart": time from start to the output of a probe record produced right
//     after start), stopped, its state directory deleted, and started again ("restore":
//     the same time, and changelog records / that time).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

type config struct {
	records, smallKeys, largeKeys, restoreKeys int
	partitions                                 int32
	commitMs                                   int
	cacheBytes                                 int64
	latencyRate, latencySeconds                int
	timeout                                    time.Duration
	scenarios, contenders                      map[string]bool
	full, warmup                               bool
	out                                        string
	kafkaStreamsDir                            string
	profileDir                                 string
	repeat                                     int
}

func main() {
	var c config
	var scenarios, contenders string
	flag.IntVar(&c.records, "records", 1_000_000, "input records of each throughput input (1 KiB inputs: a quarter of it)")
	flag.IntVar(&c.smallKeys, "keys", 10_000, "distinct keys of the small key space")
	flag.IntVar(&c.largeKeys, "large-keys", 1_000_000, "distinct keys of the large key space")
	flag.IntVar(&c.restoreKeys, "restore-keys", 1_000_000, "keys (one record each) of the store that restore and restart measure")
	partitions := flag.Int("partitions", 8, "partitions of every topic")
	flag.IntVar(&c.commitMs, "commit-ms", 1000, "commit interval of the at-least-once scenarios, ms")
	flag.Int64Var(&c.cacheBytes, "cache-bytes", 10<<20, "record cache bytes of a contender when the cache is on (Kafka Streams' default)")
	flag.IntVar(&c.latencyRate, "latency-rate", 5000, "input records per second of the latency scenario")
	flag.IntVar(&c.latencySeconds, "latency-seconds", 20, "how long the latency scenario produces")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Minute, "longest wait for a contender to process its input")
	flag.StringVar(&scenarios, "scenarios", "", "comma-separated rows or scenario names to run (default all): "+strings.Join(scenarioNames(), ","))
	flag.StringVar(&contenders, "contenders", "ceiling,eddy,kafka-streams", "comma-separated contenders")
	flag.BoolVar(&c.full, "full", false, "run every throughput scenario on every input (100 B / 1 KiB × small / large key space)")
	flag.BoolVar(&c.warmup, "warmup", true, "run an unreported pass-through first, so that the broker's JVM is warm")
	flag.StringVar(&c.kafkaStreamsDir, "kafkastreams-dir", "bench/kafkastreams", "directory of the Kafka Streams contender's build.sh, relative to the integration module")
	flag.StringVar(&c.profileDir, "profile", "", "write a CPU profile of each run of a Go contender to this directory, as <app id>.cpu.pprof")
	flag.IntVar(&c.repeat, "repeat", 1, "runs of each row and contender; the table shows the run with the median figure")
	flag.StringVar(&c.out, "out", "../BENCHMARKS.md", "where to write the report; empty: nowhere")
	flag.Parse()
	c.partitions = int32(*partitions)
	c.scenarios = set(scenarios)
	c.contenders = set(contenders)
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func set(list string) map[string]bool {
	if list == "" {
		return nil
	}
	m := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}
