// A small stateful DataStream job for tests/conformance.sh: a number sequence keyed into 64
// groups, a running count per key in keyed ValueState (RocksDB, as the rendered config sets
// the state backend), throttled so it runs until the test cancels it. Checkpointing, the state
// backend and the checkpoint storage all come from the cluster's config.yaml.

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

public class KeyedCount {
    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.fromSequence(0, Long.MAX_VALUE)
                .map(new Throttle())
                .keyBy(n -> n % 64)
                .process(new Count())
                .sinkTo(new DiscardingSink<>());
        env.execute("amctl-conformance-keyed-count");
    }

    /** About a thousand records a second per subtask. */
    public static class Throttle implements MapFunction<Long, Long> {
        @Override
        public Long map(Long n) throws Exception {
            Thread.sleep(1);
            return n;
        }
    }

    public static class Count extends KeyedProcessFunction<Long, Long, Long> {
        private transient ValueState<Long> count;

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
        }

        @Override
        public void processElement(Long n, Context ctx, Collector<Long> out) throws Exception {
            Long c = count.value();
            long next = (c == null ? 0 : c) + 1;
            count.update(next);
            out.collect(next);
        }
    }
}
