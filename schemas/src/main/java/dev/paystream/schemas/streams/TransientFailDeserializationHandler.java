package dev.paystream.schemas.streams;

import dev.paystream.schemas.registry.RegistryFailures;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deserialization errors: a record whose writer schema could not be fetched because the registry did not
 * answer ({@link RegistryFailures#isTransient}) is not a bad record — fail, so that it is read again once
 * the registry answers. A record that cannot be decoded goes to the dead-letter topic as Paystream writes
 * dead letters (reason {@code DESERIALIZATION_FAILED}), and processing continues.
 */
public class TransientFailDeserializationHandler implements DeserializationExceptionHandler {

    public static final String REASON = "DESERIALIZATION_FAILED";
    private static final Logger LOG = LoggerFactory.getLogger(TransientFailDeserializationHandler.class);

    private String deadLetterTopic;
    private java.util.function.Consumer<String> counted = reason -> { };

    @Override
    public void configure(Map<String, ?> configs) {
        deadLetterTopic = DeadLetters.topic(configs);
        counted = DeadLetters.counter(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record, Exception exception) {
        if (RegistryFailures.isTransient(exception)) {
            LOG.warn("transient failure reading {}-{}@{}: failing so that the record is read again, not dead-lettered: {}",
                    context.topic(), context.partition(), context.offset(), exception.toString());
            return Response.fail();
        }
        String detail = DeadLetters.detail(exception, null);
        if (deadLetterTopic == null) {
            LOG.error("cannot decode {}-{}@{} and no dead-letter topic is configured: failing: {}",
                    context.topic(), context.partition(), context.offset(), detail);
            return Response.fail();
        }
        LOG.warn("dead-lettering {}-{}@{} reason={} detail={}", context.topic(), context.partition(), context.offset(), REASON, detail);
        counted.accept(REASON);
        return Response.resume(List.of(DeadLetters.of(deadLetterTopic, context, record.key(), record.value(), REASON, exception)));
    }
}
