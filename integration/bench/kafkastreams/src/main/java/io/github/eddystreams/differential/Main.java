package io.github.eddystreams.differential;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * The Kafka Streams side of Eddy's differential suite (issue 13, integration/differential_test.go):
 * one JVM runs the reference topology of every case named by --cases, each as its own
 * KafkaStreams client (application id PREFIX-CASE-ks, state directory STATE_DIR/CASE), reading
 * the input topics PREFIX-NAME and writing PREFIX-CASE-ks-out. The topologies are in {@link Cases};
 * the Go test builds the same ones with Eddy's DSL and compares the outputs.
 *
 * Run: java -cp eddy-bench-kafkastreams.jar io.github.eddystreams.differential.Main
 *        --bootstrap HOST:PORT --state-dir DIR --prefix PREFIX --cases a,b,c
 *        --guarantee at_least_once|exactly_once
 *
 * Settings, the same as the Eddy side's: commit.interval.ms=100, statestore.cache.max.bytes=0,
 * one stream thread, auto.offset.reset=earliest, replication factor 1, and the two internal
 * wall-clock throttles (emit-on-window-close checks and outer-join non-joined emission) set to 0,
 * because Eddy has none: with Kafka Streams' default of one second, what is emitted before input
 * ends would depend on wall-clock time, and no comparison could be exact.
 *
 * Stdout: "ready" once every client has reached RUNNING. The process closes every client and
 * exits 0 when its stdin ends (the Go test closes it), or exits 1 when a client fails, after
 * printing "failed CASE" on stdout. Logs go to stderr at WARN.
 */
public final class Main {
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    private Main() {}

    public static void main(String[] args) throws InterruptedException, IOException {
        Map<String, String> flags = parse(args);
        String prefix = flags.get("prefix");
        List<String> cases = Arrays.asList(flags.get("cases").split(","));
        Map<String, KafkaStreams> clients = new LinkedHashMap<>();
        Map<String, Boolean> running = new ConcurrentHashMap<>();
        CountDownLatch allRunning = new CountDownLatch(cases.size());
        for (String name : cases) {
            Topology topology = Cases.build(name, input -> prefix + "-" + input, prefix + "-" + name + "-ks-out");
            KafkaStreams streams = new KafkaStreams(topology, config(flags, prefix + "-" + name + "-ks",
                    Path.of(flags.get("state-dir"), name).toString()));
            streams.setStateListener((newState, oldState) -> {
                if (newState == KafkaStreams.State.RUNNING && running.putIfAbsent(name, true) == null) {
                    allRunning.countDown();
                } else if (newState == KafkaStreams.State.ERROR) {
                    fail(name);
                }
            });
            streams.setUncaughtExceptionHandler(e -> {
                System.err.println("differential: case " + name + ": stream thread failed: " + e);
                e.printStackTrace();
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            clients.put(name, streams);
        }
        for (KafkaStreams streams : clients.values()) {
            streams.start();
        }
        allRunning.await();
        System.out.println("ready");
        System.out.flush();

        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) {
            // Only the end of stdin matters.
        }
        List<Thread> closers = new ArrayList<>();
        boolean[] clean = {true};
        for (Map.Entry<String, KafkaStreams> e : clients.entrySet()) {
            Thread t = new Thread(() -> {
                boolean closed = e.getValue().close(CloseOptions.timeout(CLOSE_TIMEOUT)
                        .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
                if (!closed) {
                    System.err.println("differential: case " + e.getKey() + " did not close within " + CLOSE_TIMEOUT);
                    synchronized (clean) {
                        clean[0] = false;
                    }
                }
            });
            t.start();
            closers.add(t);
        }
        for (Thread t : closers) {
            t.join();
        }
        System.out.flush();
        Runtime.getRuntime().halt(clean[0] ? 0 : 1);
    }

    private static void fail(String name) {
        System.out.println("failed " + name);
        System.out.flush();
        System.err.println("differential: case " + name + ": the Kafka Streams client failed (state ERROR)");
        Runtime.getRuntime().halt(1);
    }

    static Properties config(Map<String, String> flags, String applicationId, String stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, flags.get("bootstrap"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, switch (flags.get("guarantee")) {
            case "at_least_once" -> StreamsConfig.AT_LEAST_ONCE;
            case "exactly_once" -> StreamsConfig.EXACTLY_ONCE_V2;
            default -> throw new IllegalArgumentException("unknown guarantee " + flags.get("guarantee"));
        });
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
        p.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 0L);
        return p;
    }

    private static final List<String> REQUIRED = List.of("bootstrap", "state-dir", "prefix", "cases", "guarantee");

    /** Parses --name value flags; all of REQUIRED, and only they. Bad flags exit 2. */
    static Map<String, String> parse(String[] args) {
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            String name = args[i].replaceFirst("^--?", "");
            if (!REQUIRED.contains(name)) {
                usage("unknown flag " + args[i]);
            }
            flags.put(name, args[i + 1]);
        }
        if (args.length % 2 != 0) {
            usage("flag " + args[args.length - 1] + " needs a value");
        }
        for (String name : REQUIRED) {
            if (!flags.containsKey(name)) {
                usage("missing flag --" + name);
            }
        }
        for (String name : flags.get("cases").split(",")) {
            if (!Cases.NAMES.contains(name)) {
                usage("unknown case " + name + ", want some of " + Cases.NAMES);
            }
        }
        return flags;
    }

    private static void usage(String problem) {
        System.err.println("differential: " + problem);
        System.err.println("usage: java -cp eddy-bench-kafkastreams.jar io.github.eddystreams.differential.Main"
                + " --bootstrap HOST:PORT --state-dir DIR --prefix PREFIX --cases a,b,c"
                + " --guarantee at_least_once|exactly_once");
        System.exit(2);
    }
}
