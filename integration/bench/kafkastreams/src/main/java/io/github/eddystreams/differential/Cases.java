package io.github.eddystreams.differential;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;

/**
 * The reference topologies of the differential suite. Each has a twin of the same name in
 * integration/differential_cases_test.go, which documents what the case covers and how its
 * output is compared; keep the two in step.
 *
 * Inputs (string keys and values): s1 and s2 streams, t1 and t2 tables, fk the right table of
 * the foreign-key joins, g the global table, late-l and late-r the streams of the late-join case,
 * big-s and big-t the stream and the table backlog of st-left-backlog.
 * t1's values read "fN.M": the foreign key fN, then a number. Outputs have string keys and
 * string or long values; windowed keys become "key@start/end" (milliseconds) before the sink.
 *
 * User functions treat a null as Eddy hands it to its functions, the zero value ("" for a
 * string): Eddy's functions cannot see a null (DESIGN.md, "Nulls"), so only this makes the
 * functions the same. Where an Eddy joiner is told whether the other side was found, a missing
 * side reads "-" ({@link #opt}); Eddy's foreign-key and global joiners are not told, and see "".
 */
final class Cases {
    static final List<String> NAMES = List.of(
            "filter", "flatmap", "selectkey-repartition", "split-merge", "merge",
            "count", "aggregate", "reduce-groupby", "cogroup",
            "table-aggregate", "table-reduce", "table-count",
            "tumbling", "tumbling-grace-final", "hopping", "hopping-final", "sliding", "sliding-final",
            "session", "session-grace-final",
            "ss-inner", "ss-left", "ss-outer", "ss-late",
            "st-inner", "st-left", "st-left-backlog", "tt-inner", "tt-left", "tt-outer", "fk-inner", "fk-left",
            "global-inner", "global-left");

    private Cases() {}

    private static final Duration S1 = Duration.ofSeconds(1);

    static Topology build(String name, Function<String, String> topic, String out) {
        StreamsBuilder b = new StreamsBuilder();
        Inputs in = new Inputs(b, topic);
        Produced<String, Long> longs = Produced.with(Serdes.String(), Serdes.Long());
        switch (name) {
            case "filter" -> in.s1().filter((k, v) -> !z(v).endsWith("3"))
                    .filterNot((k, v) -> z(k).equals("k5"))
                    .mapValues(v -> z(v) + "!")
                    .to(out);
            case "flatmap" -> in.s1().flatMap((k, v) -> List.of(KeyValue.pair(z(k) + "a", z(v)), KeyValue.pair(z(v), z(k))))
                    .map((k, v) -> KeyValue.pair(k + "m", v + "m"))
                    .flatMapValues(v -> List.of(v, v + "b"))
                    .peek((k, v) -> { })
                    .to(out);
            case "selectkey-repartition" -> in.s1().selectKey((k, v) -> "r" + num(z(v)) % 3)
                    .repartition(Repartitioned.<String, String>as("rp").withNumberOfPartitions(4))
                    .mapValues(v -> z(v) + "#")
                    .to(out);
            case "split-merge" -> {
                Map<String, KStream<String, String>> br = in.s1().split(Named.as("sp-"))
                        .branch((k, v) -> z(k).equals("k0") || z(k).equals("k1"), Branched.as("a"))
                        .branch((k, v) -> z(v).endsWith("7"), Branched.as("b"))
                        .defaultBranch(Branched.as("d"));
                br.get("sp-a").mapValues(v -> "A" + z(v))
                        .merge(br.get("sp-b").mapValues(v -> "B" + z(v)))
                        .merge(br.get("sp-d").mapValues(v -> "D" + z(v)))
                        .to(out);
            }
            case "merge" -> in.s1().merge(b.stream(topic.apply("s2"))).to(out);
            case "count" -> in.s1().groupByKey().count().toStream().to(out, longs);
            case "aggregate" -> in.s1().groupByKey()
                    .aggregate(() -> 0L, (k, v, agg) -> agg + num(z(v)), Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().to(out, longs);
            case "reduce-groupby" -> in.s1().groupBy((k, v) -> "g" + num(z(v)) % 3)
                    .reduce(Cases::max)
                    .toStream().to(out);
            case "cogroup" -> {
                KGroupedStream<String, String> g2 = b.<String, String>stream(topic.apply("s2")).groupByKey();
                in.s1().groupByKey().<Long>cogroup((k, v, agg) -> agg + num(z(v)))
                        .cogroup(g2, (k, v, agg) -> agg + 1000 * num(z(v)))
                        .aggregate(() -> 0L, Materialized.with(Serdes.String(), Serdes.Long()))
                        .toStream().to(out, longs);
            }
            case "table-aggregate" -> t1(b, topic)
                    .groupBy((k, v) -> KeyValue.pair(fk(v), num(v)), Grouped.with(Serdes.String(), Serdes.Long()))
                    .aggregate(() -> 0L, (k, v, agg) -> agg + v, (k, v, agg) -> agg - v,
                            Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().to(out, longs);
            case "table-reduce" -> t1(b, topic)
                    .mapValues(v -> num(v), Materialized.with(Serdes.String(), Serdes.Long()))
                    .groupBy((k, v) -> KeyValue.pair("p" + v % 2, v), Grouped.with(Serdes.String(), Serdes.Long()))
                    .reduce((agg, v) -> agg + v, (agg, v) -> agg - v, Materialized.with(Serdes.String(), Serdes.Long()))
                    .toStream().to(out, longs);
            case "table-count" -> t1(b, topic)
                    .filter((k, v) -> num(v) % 5 != 0)
                    .groupBy((k, v) -> KeyValue.pair(fk(v), v))
                    .count()
                    .toStream().to(out, longs);
            case "tumbling" -> windowed(in.s1v().groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(10)))
                    .count(), out);
            case "tumbling-grace-final" -> windowed(in.s1v().groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count(), out);
            case "hopping" -> in.s1v().groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(3))
                            .advanceBy(Duration.ofSeconds(5)))
                    .reduce(Cases::max)
                    .toStream().selectKey((k, v) -> windowKey(k)).to(out);
            case "hopping-final" -> windowed(in.s1v().groupByKey()
                    .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(10)).advanceBy(Duration.ofSeconds(5)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .aggregate(() -> 0L, (k, v, agg) -> agg + num(z(v)), Materialized.with(Serdes.String(), Serdes.Long())),
                    out);
            case "sliding" -> windowed(in.s1v().groupByKey()
                    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(2)))
                    .count(), out);
            case "sliding-final" -> windowed(in.s1v().groupByKey()
                    .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(5)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .count(), out);
            case "session" -> windowed(in.s1v().groupByKey()
                    .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofSeconds(5)))
                    .count(), out);
            case "session-grace-final" -> in.s1v().groupByKey()
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(5), Duration.ofSeconds(3)))
                    .emitStrategy(EmitStrategy.onWindowClose())
                    .reduce(Cases::max)
                    .toStream().selectKey((k, v) -> windowKey(k)).to(out);
            case "ss-inner" -> in.s1().join(b.<String, String>stream(topic.apply("s2")), (v, o) -> z(v) + "+" + z(o),
                    JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(2), Duration.ofSeconds(2)).before(Duration.ofSeconds(5)),
                    StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String())).to(out);
            case "ss-left" -> in.s1().leftJoin(b.<String, String>stream(topic.apply("s2")), (v, o) -> z(v) + "+" + opt(o),
                    JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofSeconds(3)).after(S1),
                    StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String())).to(out);
            case "ss-outer" -> in.s1().outerJoin(b.<String, String>stream(topic.apply("s2")), (v, o) -> opt(v) + "+" + opt(o),
                    JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(2), Duration.ofSeconds(2)).before(Duration.ofSeconds(4)),
                    StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String())).to(out);
            case "ss-late" -> b.<String, String>stream(topic.apply("late-l"))
                    .join(b.<String, String>stream(topic.apply("late-r")), (v, o) -> z(v) + "+" + z(o),
                            JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(2)),
                            StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String()))
                    .to(out);
            case "st-inner" -> in.s1().join(t1(b, topic), (v, t) -> z(v) + "*" + t).to(out);
            case "st-left" -> in.s1().leftJoin(t1(b, topic), (v, t) -> z(v) + "*" + opt(t)).to(out);
            case "st-left-backlog" -> b.<String, String>stream(topic.apply("big-s"))
                    .leftJoin(b.<String, String>table(topic.apply("big-t")), (v, t) -> z(v) + "*" + opt(t)).to(out);
            case "tt-inner" -> t1(b, topic).join(t2(b, topic), (v, o) -> v + "&" + o).toStream().to(out);
            case "tt-left" -> t1(b, topic).leftJoin(t2(b, topic), (v, o) -> v + "&" + opt(o)).toStream().to(out);
            case "tt-outer" -> t1(b, topic).outerJoin(t2(b, topic), (v, o) -> opt(v) + "&" + opt(o)).toStream().to(out);
            case "fk-inner" -> t1(b, topic).join(b.<String, String>table(topic.apply("fk")), Cases::fk, (v, o) -> v + "^" + o)
                    .toStream().to(out);
            case "fk-left" -> t1(b, topic).leftJoin(b.<String, String>table(topic.apply("fk")), Cases::fk, (v, o) -> v + "^" + z(o))
                    .toStream().to(out);
            case "global-inner" -> in.s1().join(global(b, topic), (k, v) -> "f" + num(z(v)) % 6, (v, g) -> z(v) + "@" + g).to(out);
            case "global-left" -> in.s1().leftJoin(global(b, topic), (k, v) -> "f" + num(z(v)) % 6, (v, g) -> z(v) + "@" + z(g))
                    .to(out);
            default -> throw new IllegalArgumentException("unknown case " + name);
        }
        return b.build();
    }

    /** The s1 stream, made only for the cases that read it. */
    private static final class Inputs {
        private final StreamsBuilder b;
        private final Function<String, String> topic;
        private KStream<String, String> s1;

        Inputs(StreamsBuilder b, Function<String, String> topic) {
            this.b = b;
            this.topic = topic;
        }

        KStream<String, String> s1() {
            if (s1 == null) {
                s1 = b.stream(topic.apply("s1"));
            }
            return s1;
        }

        /** s1 without its null values, for the windowed cases that test windows rather than nulls. */
        KStream<String, String> s1v() {
            return s1().filter((k, v) -> !z(v).isEmpty());
        }
    }

    private static KTable<String, String> t1(StreamsBuilder b, Function<String, String> topic) {
        return b.table(topic.apply("t1"));
    }

    private static KTable<String, String> t2(StreamsBuilder b, Function<String, String> topic) {
        return b.table(topic.apply("t2"));
    }

    private static GlobalKTable<String, String> global(StreamsBuilder b, Function<String, String> topic) {
        return b.globalTable(topic.apply("g"));
    }

    /** Writes a windowed table of longs with its keys as windowKey strings. */
    private static void windowed(KTable<Windowed<String>, Long> table, String out) {
        table.toStream().selectKey((k, v) -> windowKey(k)).to(out, Produced.with(Serdes.String(), Serdes.Long()));
    }

    /** "key@start/end", in milliseconds: the same string on both sides, whatever the windowed serdes. */
    static String windowKey(Windowed<String> k) {
        return k.key() + "@" + k.window().start() + "/" + k.window().end();
    }

    /** A null as Eddy's functions see it: the zero value. */
    static String z(String s) {
        return s == null ? "" : s;
    }

    /** The larger string, a null read as "". */
    static String max(String a, String v) {
        return z(a).compareTo(z(v)) >= 0 ? z(a) : z(v);
    }

    /** A value a join may lack, "-" when it does. */
    static String opt(String s) {
        return s == null ? "-" : s;
    }

    /** The number that ends s ("v17" is 17), 0 when none does. */
    static long num(String s) {
        int i = s.length();
        while (i > 0 && Character.isDigit(s.charAt(i - 1))) {
            i--;
        }
        return i == s.length() ? 0 : Long.parseLong(s.substring(i));
    }

    /** The foreign key of a t1 value "fN.M": "fN". */
    static String fk(String v) {
        int dot = v.indexOf('.');
        return dot < 0 ? v : v.substring(0, dot);
    }
}
