package dev.paystream.schemas.streams;

import dev.paystream.schemas.registry.RegistryFailures;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Processing errors: a transient failure ({@link RegistryFailures#isTransient}: the registry or broker did
 * not answer, including a serializer that could not reach the registry at a sink) fails the step, so that
 * the transaction aborts and the record is processed again by a replaced stream thread; it is never
 * dead-lettered. Every other error is about the record and goes to the dead-letter topic as
 * {@link LogAndContinueProcessingExceptionHandler} sends it.
 */
public class TransientFailProcessingHandler extends LogAndContinueProcessingExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(TransientFailProcessingHandler.class);

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
        if (RegistryFailures.isTransient(exception)) {
            LOG.warn("transient failure processing {}-{}@{} at {}: failing the step so that it is retried, not dead-lettered: {}",
                    context.topic(), context.partition(), context.offset(), context.processorNodeId(), exception.toString());
            return Response.fail();
        }
        return super.handleError(context, record, exception);
    }
}
