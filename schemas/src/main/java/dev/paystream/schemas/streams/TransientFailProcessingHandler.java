package dev.paystream.schemas.streams;

import dev.paystream.schemas.registry.RegistryFailures;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Processing errors: a transient failure ({@link RegistryFailures#isTransient}: the registry or broker did
 * not answer, including a serializer that could not reach the registry at a sink) fails the step, so that
 * the transaction aborts and the record is processed again by a replaced stream thread; it is never
 * dead-lettered. Every other error is about the record: it goes to the dead-letter topic as Paystream
 * writes dead letters (reason {@code PROCESSING_ERROR}, redacted detail and source, original bytes with
 * card numbers masked) and processing continues — but only where skipping the record skips all of it: at a
 * node named in {@link DeadLetters#RECORD_NODES_CONFIG} (when set), and never for an
 * {@link IncompleteStepException}. Kafka Streams asks this handler at the node that threw, and a resumed
 * step goes on and commits whatever the nodes upstream of it already wrote; so a failure at a sink, or
 * after a step began writing, fails the step: the transaction aborts, nothing of it is committed, and the
 * record is processed again on a replaced stream thread.
 */
public class TransientFailProcessingHandler implements ProcessingExceptionHandler {

    public static final String REASON = "PROCESSING_ERROR";
    private static final Logger LOG = LoggerFactory.getLogger(TransientFailProcessingHandler.class);

    private String deadLetterTopic;
    private java.util.function.Consumer<String> counted = reason -> { };
    private java.util.Set<String> recordNodes;

    @Override
    public void configure(Map<String, ?> configs) {
        deadLetterTopic = DeadLetters.topic(configs);
        counted = DeadLetters.counter(configs);
        recordNodes = DeadLetters.recordNodes(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
        if (RegistryFailures.isTransient(exception)) {
            LOG.warn("transient failure processing {}-{}@{} at {}: failing the step so that it is retried, not dead-lettered: {}",
                    context.topic(), context.partition(), context.offset(), context.processorNodeId(), exception.toString());
            return Response.fail();
        }
        String detail = DeadLetters.detail(exception, context.processorNodeId());
        if (exception instanceof IncompleteStepException
                || (recordNodes != null && !recordNodes.contains(context.processorNodeId()))) {
            LOG.error("processing {}-{}@{} failed at {} after the step may have written part of its work: failing the step so that "
                    + "it is aborted, not dead-lettered: {}", context.topic(), context.partition(), context.offset(),
                    context.processorNodeId(), detail);
            return Response.fail();
        }
        if (deadLetterTopic == null) {
            LOG.error("processing failed on {}-{}@{} and no dead-letter topic is configured: failing: {}",
                    context.topic(), context.partition(), context.offset(), detail);
            return Response.fail();
        }
        LOG.warn("dead-lettering {}-{}@{} reason={} detail={}", context.topic(), context.partition(), context.offset(), REASON, detail);
        counted.accept(REASON);
        return Response.resume(List.of(DeadLetters.of(deadLetterTopic, context, context.sourceRawKey(), context.sourceRawValue(),
                REASON, exception)));
    }
}
