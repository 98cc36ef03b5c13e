package dev.paystream.schemas.streams;

import static org.assertj.core.api.Assertions.assertThat;

import dev.paystream.schemas.DeadLetterHeaders;
import dev.paystream.schemas.registry.RegistryUnavailableException;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.processor.api.Record;
import org.junit.jupiter.api.Test;

/** What the Streams error handlers do with a transient failure and with a bad record. */
class TransientFailHandlersTest {

    private static final String PAN = "4242424242424242";
    private static final Map<String, String> CONFIG = Map.of(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, "paystream.dead-letters.v1");

    private static ErrorHandlerContext context(byte[] key, byte[] value) {
        return context(key, value, "payment-processor");
    }

    private static ErrorHandlerContext context(byte[] key, byte[] value, String node) {
        Headers headers = new RecordHeaders();
        headers.add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".getBytes(StandardCharsets.UTF_8));
        return new ErrorHandlerContext() {
            public String topic() { return "paystream.psp-results.v1"; }
            public int partition() { return 3; }
            public long offset() { return 42L; }
            public Headers headers() { return headers; }
            public String processorNodeId() { return node; }
            public TaskId taskId() { return new TaskId(1, 3); }
            public long timestamp() { return 0L; }
            public byte[] sourceRawKey() { return key; }
            public byte[] sourceRawValue() { return value; }
        };
    }

    private static String header(ProducerRecord<byte[], byte[]> r, String name) {
        return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    @Test
    void shouldFailTheStepOnATransientFailureAndDeadLetterNothing() {
        TransientFailProcessingHandler processing = new TransientFailProcessingHandler();
        processing.configure(CONFIG);
        Exception outage = new org.apache.kafka.streams.errors.StreamsException("Unable to serialize record",
                new RuntimeException(new RegistryUnavailableException("registry did not answer", new HttpTimeoutException("timed out"))));

        ProcessingExceptionHandler.Response r = processing.handleError(context(new byte[] {1}, new byte[] {2}), new Record<>("k", "v", 0L), outage);

        assertThat(r.result()).isEqualTo(ProcessingExceptionHandler.Result.FAIL);
        assertThat(r.deadLetterQueueRecords()).isEmpty();

        TransientFailDeserializationHandler deserialization = new TransientFailDeserializationHandler();
        deserialization.configure(CONFIG);
        DeserializationExceptionHandler.Response d = deserialization.handleError(context(null, new byte[] {0, 0, 0, 0, 7}),
                new ConsumerRecord<>("paystream.psp-results.v1", 3, 42L, null, new byte[] {0, 0, 0, 0, 7}), outage);
        assertThat(d.result()).isEqualTo(DeserializationExceptionHandler.Result.FAIL);
    }

    @Test
    void shouldDeadLetterABadRecordWithPaystreamsHeadersAndNoCardNumber() {
        TransientFailProcessingHandler processing = new TransientFailProcessingHandler();
        processing.configure(CONFIG);
        byte[] value = ("{\"note\":\"card " + PAN + "\"}").getBytes(StandardCharsets.UTF_8);

        ProcessingExceptionHandler.Response r = processing.handleError(context("pay-1".getBytes(StandardCharsets.UTF_8), value),
                new Record<>("k", "v", 0L), new IllegalStateException("defect while deciding " + PAN));

        assertThat(r.result()).isEqualTo(ProcessingExceptionHandler.Result.RESUME);
        ProducerRecord<byte[], byte[]> dead = r.deadLetterQueueRecords().getFirst();
        assertThat(dead.topic()).isEqualTo("paystream.dead-letters.v1");
        assertThat(new String(dead.key(), StandardCharsets.UTF_8)).isEqualTo("pay-1");
        assertThat(new String(dead.value(), StandardCharsets.UTF_8)).doesNotContain(PAN).hasSize(value.length);
        assertThat(header(dead, DeadLetterHeaders.REASON)).isEqualTo("PROCESSING_ERROR");
        assertThat(header(dead, DeadLetterHeaders.DETAIL)).contains("IllegalStateException", "payment-processor").doesNotContain(PAN);
        assertThat(header(dead, DeadLetterHeaders.SOURCE_TOPIC)).isEqualTo("paystream.psp-results.v1");
        assertThat(header(dead, DeadLetterHeaders.SOURCE_PARTITION)).isEqualTo("3");
        assertThat(header(dead, DeadLetterHeaders.SOURCE_OFFSET)).isEqualTo("42");
        assertThat(dead.headers().lastHeader("traceparent")).as("the original headers are kept").isNotNull();

        TransientFailDeserializationHandler deserialization = new TransientFailDeserializationHandler();
        deserialization.configure(CONFIG);
        DeserializationExceptionHandler.Response d = deserialization.handleError(context(null, value),
                new ConsumerRecord<>("paystream.psp-results.v1", 3, 42L, null, value), new SerializationException("not Avro"));
        assertThat(d.result()).isEqualTo(DeserializationExceptionHandler.Result.RESUME);
        ProducerRecord<byte[], byte[]> undecodable = d.deadLetterQueueRecords().getFirst();
        assertThat(header(undecodable, DeadLetterHeaders.REASON)).isEqualTo("DESERIALIZATION_FAILED");
        assertThat(new String(undecodable.value(), StandardCharsets.UTF_8)).doesNotContain(PAN);
    }

    @Test
    void shouldFailTheStepRatherThanSkipItWhereItMayBeHalfWritten() {
        TransientFailProcessingHandler processing = new TransientFailProcessingHandler();
        Map<String, String> config = new java.util.HashMap<>(CONFIG);
        config.put(DeadLetters.RECORD_NODES_CONFIG, "request-intake, payment-processor");
        processing.configure(config);
        Exception rejected = new SerializationException("schema rejected");

        // at a sink: the nodes upstream of it have written their part of the step
        ProcessingExceptionHandler.Response atSink = processing.handleError(context(null, new byte[] {1}, "payment-events-sink"),
                new Record<>("k", "v", 0L), rejected);
        assertThat(atSink.result()).isEqualTo(ProcessingExceptionHandler.Result.FAIL);
        assertThat(atSink.deadLetterQueueRecords()).isEmpty();
        // at a record node, once the step has begun writing
        ProcessingExceptionHandler.Response incomplete = processing.handleError(context(null, new byte[] {1}),
                new Record<>("k", "v", 0L), new IncompleteStepException("store write failed", new IllegalStateException("disk")));
        assertThat(incomplete.result()).isEqualTo(ProcessingExceptionHandler.Result.FAIL);
        // at a record node, before anything was written: the record is dead-lettered
        ProcessingExceptionHandler.Response before = processing.handleError(context(null, new byte[] {1}),
                new Record<>("k", "v", 0L), rejected);
        assertThat(before.result()).isEqualTo(ProcessingExceptionHandler.Result.RESUME);
        assertThat(before.deadLetterQueueRecords()).hasSize(1);
    }
}
