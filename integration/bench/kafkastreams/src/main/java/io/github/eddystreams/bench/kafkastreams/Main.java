package io.github.eddystreams.bench.kafkastreams;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.internals.AppInfoParser;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;

/**
 * The Kafka Streams contender of Eddy's benchmarks (issue 6): each scenario of the benchmark
 * protocol written with the Kafka Streams DSL, run by the orchestrator (integration/cmd/bench)
 * as a separate process against the same broker as the other contenders, and measured from
 * outside.
 *
 * Build: integration/bench/kafkastreams/build.sh (Maven; prints the command line to run).
 * Check: cd integration && go run ./bench/kafkastreams/check (every scenario on real Kafka).
 * Run:   java -jar target/eddy-bench-kafkastreams.jar --scenario NAME --bootstrap HOST:PORT
 *          --app-id ID --state-dir DIR --input TOPIC --output TOPIC [--table TOPIC]
 *          --guarantee at_least_once|exactly_once --commit-interval-ms N --cache-bytes N
 *          --threads N
 *        java -jar target/eddy-bench-kafkastreams.jar --version  (prints the Streams version)
 *
 * Scenarios, all on byte-array keys and values:
 *   passthrough, latency  each value copied with its first byte XOR 0x20 (the case of an ASCII
 *                         letter flipped), key and timestamp unchanged;
 *   count                 groupByKey().count(): a persistent RocksDB store with its changelog,
 *                         the running count written as a Long (8 bytes, big-endian);
 *   tumbling-count        the same in TimeWindows.ofSizeWithNoGrace(1 s);
 *   hopping-count         the same in TimeWindows.ofSizeWithNoGrace(10 s).advanceBy(1 s);
 *                         windowed output keys are Kafka's TimeWindowedSerializer form, the
 *                         key bytes then the 8-byte big-endian window start;
 *   join                  input stream inner-joined with the table read from --table, output
 *                         value = stream value bytes then table value bytes (the table is a
 *                         RocksDB store with its own changelog: topology.optimization is
 *                         left at its default, none).
 * Every output record carries its input record's timestamp (windowed counts: the newest
 * timestamp counted in the window), as the DSL does.
 *
 * Settings, kept equal to the other contenders' by the protocol: processing.guarantee
 * (exactly_once means exactly_once_v2), commit.interval.ms, statestore.cache.max.bytes
 * (--cache-bytes, 0 turns the record cache off), num.stream.threads (--threads),
 * compression.type=none and linger.ms=5 for Streams' producers, auto.offset.reset=earliest,
 * replication.factor=1 for internal topics, ByteArray default serdes. Everything else is
 * Kafka Streams' default, and the JVM's (no -Xmx: the heap may grow to a quarter of RAM).
 * Kafka Streams is 4.4.0, the broker's version (kafka.version in pom.xml sets both).
 *
 * Stdout carries one line, "ready", once the client first reaches RUNNING; logs go to stderr
 * at WARN (slf4j-simple, see simplelogger.properties). SIGTERM closes the client, leaving
 * the consumer group (CloseOptions LEAVE_GROUP, so that a restart does not wait for the old
 * member's session to time out), and the process exits 0 when the close completed cleanly,
 * 1 otherwise. If the client fails (state ERROR) the process exits 1; bad flags exit 2. A
 * SIGTERM in the JVM's first few hundred milliseconds, before main registers its hook,
 * ends it with the JVM's 143.
 */
public final class Main {
    private static final List<String> SCENARIOS =
            List.of("passthrough", "latency", "count", "tumbling-count", "hopping-count", "join");
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);

    private Main() {}

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> flags;
        try {
            flags = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("eddy-bench-kafkastreams: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        if (flags.containsKey("version")) {
            System.out.println(AppInfoParser.getVersion());
            return;
        }

        Topology topology = topology(flags);
        Properties config = config(flags);
        KafkaStreams streams = new KafkaStreams(topology, config);

        CountDownLatch failed = new CountDownLatch(1);
        AtomicBoolean ready = new AtomicBoolean();
        streams.setStateListener((newState, oldState) -> {
            if (newState == KafkaStreams.State.RUNNING && ready.compareAndSet(false, true)) {
                System.out.println("ready");
                System.out.flush();
            } else if (newState == KafkaStreams.State.ERROR) {
                failed.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("eddy-bench-kafkastreams: stream thread failed: " + e);
            e.printStackTrace();
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });

        // The JVM exits with 143 after SIGTERM whatever its hooks do, unless a hook halts it:
        // this one closes the client, then halts with 0 when the close was clean. The client
        // leaves its group as it closes, as the Go contenders' clients do: by default Kafka
        // Streams stays in the group, and a restart would wait session.timeout.ms (45 s) for
        // the broker to drop the old member before it gets any partition.
        AtomicBoolean error = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            boolean closed = streams.close(CloseOptions.timeout(CLOSE_TIMEOUT)
                    .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            if (!closed) {
                System.err.println("eddy-bench-kafkastreams: close did not finish within " + CLOSE_TIMEOUT);
            }
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(closed && !error.get() ? 0 : 1);
        }, "eddy-bench-shutdown"));

        System.err.printf("eddy-bench-kafkastreams: Kafka Streams %s, scenario %s%n%s%n",
                AppInfoParser.getVersion(), flags.get("scenario"), topology.describe());
        streams.start();

        failed.await();
        System.err.println("eddy-bench-kafkastreams: the Kafka Streams client failed (state ERROR)");
        error.set(true);
        System.exit(1);
    }

    /** The scenario's topology, from the DSL. */
    static Topology topology(Map<String, String> flags) {
        String scenario = flags.get("scenario");
        String output = flags.get("output");
        StreamsBuilder builder = new StreamsBuilder();
        KStream<byte[], byte[]> input = builder.stream(flags.get("input"));
        switch (scenario) {
            case "passthrough", "latency" -> input.mapValues(Main::flipFirstByte).to(output);
            case "count" -> input.groupByKey().count()
                    .toStream().to(output, Produced.with(Serdes.ByteArray(), Serdes.Long()));
            case "tumbling-count" -> windowedCount(input,
                    TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(1)), output);
            case "hopping-count" -> windowedCount(input,
                    TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(10)).advanceBy(Duration.ofSeconds(1)), output);
            case "join" -> {
                KTable<byte[], byte[]> table = builder.table(flags.get("table"));
                input.join(table, Main::concat).to(output);
            }
            default -> throw new IllegalStateException("unknown scenario " + scenario);
        }
        return builder.build();
    }

    private static void windowedCount(KStream<byte[], byte[]> input, TimeWindows windows, String output) {
        Serde<Windowed<byte[]>> keySerde = WindowedSerdes.timeWindowedSerdeFrom(byte[].class, windows.size());
        input.groupByKey().windowedBy(windows).count()
                .toStream().to(output, Produced.with(keySerde, Serdes.Long()));
    }

    static byte[] flipFirstByte(byte[] value) {
        if (value == null || value.length == 0) {
            return value;
        }
        byte[] out = value.clone();
        out[0] ^= 0x20;
        return out;
    }

    static byte[] concat(byte[] streamValue, byte[] tableValue) {
        byte[] out = Arrays.copyOf(streamValue, streamValue.length + tableValue.length);
        System.arraycopy(tableValue, 0, out, streamValue.length, tableValue.length);
        return out;
    }

    /** Exactly the settings the benchmark protocol lists; everything else is the default. */
    static Properties config(Map<String, String> flags) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, flags.get("app-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, flags.get("bootstrap"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, flags.get("state-dir"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, switch (flags.get("guarantee")) {
            case "at_least_once" -> StreamsConfig.AT_LEAST_ONCE;
            case "exactly_once" -> StreamsConfig.EXACTLY_ONCE_V2;
            default -> throw new IllegalStateException("unknown guarantee " + flags.get("guarantee"));
        });
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, flags.get("commit-interval-ms"));
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, flags.get("cache-bytes"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, flags.get("threads"));
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "none");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), "5");
        return p;
    }

    private static final String[] REQUIRED = {
        "scenario", "bootstrap", "app-id", "state-dir", "input", "output",
        "guarantee", "commit-interval-ms", "cache-bytes", "threads",
    };

    /** Parses --name value and --name=value flags, all required but --table (join only). */
    static Map<String, String> parse(String[] args) {
        Map<String, String> flags = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--version") || arg.equals("-version")) {
                flags.put("version", "");
                return flags;
            }
            if (!arg.startsWith("-")) {
                throw new IllegalArgumentException("unexpected argument " + arg);
            }
            String name = arg.replaceFirst("^--?", "");
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("flag --" + name + " needs a value");
            }
            if (!name.equals("table") && !Arrays.asList(REQUIRED).contains(name)) {
                throw new IllegalArgumentException("unknown flag --" + name);
            }
            flags.put(name, value);
        }
        for (String name : REQUIRED) {
            if (!flags.containsKey(name)) {
                throw new IllegalArgumentException("missing flag --" + name);
            }
        }
        if (!SCENARIOS.contains(flags.get("scenario"))) {
            throw new IllegalArgumentException("unknown scenario " + flags.get("scenario") + ", want one of " + SCENARIOS);
        }
        if (flags.get("scenario").equals("join") != flags.containsKey("table")) {
            throw new IllegalArgumentException("--table is required by the join scenario and only by it");
        }
        String guarantee = flags.get("guarantee");
        if (!guarantee.equals("at_least_once") && !guarantee.equals("exactly_once")) {
            throw new IllegalArgumentException("--guarantee must be at_least_once or exactly_once, not " + guarantee);
        }
        for (String name : new String[] {"commit-interval-ms", "cache-bytes", "threads"}) {
            try {
                if (Long.parseLong(flags.get(name)) < 0) {
                    throw new NumberFormatException();
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + name + " must be a non-negative integer, not " + flags.get(name));
            }
        }
        return flags;
    }

    private static String usage() {
        return "usage: java -jar eddy-bench-kafkastreams.jar --scenario " + String.join("|", SCENARIOS)
                + " --bootstrap HOST:PORT --app-id ID --state-dir DIR --input TOPIC --output TOPIC [--table TOPIC]"
                + " --guarantee at_least_once|exactly_once --commit-interval-ms N --cache-bytes N --threads N\n"
                + "       java -jar eddy-bench-kafkastreams.jar --version";
    }
}
