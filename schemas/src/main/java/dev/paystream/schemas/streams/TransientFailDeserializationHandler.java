package dev.paystream.schemas.streams;

import dev.paystream.schemas.registry.RegistryFailures;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deserialization errors: a record whose writer schema could not be fetched because the registry did not
 * answer ({@link RegistryFailures#isTransient}) is not a bad record — fail, so that it is read again once
 * the registry answers. A record that cannot be decoded goes to the dead-letter topic as
 * {@link LogAndContinueExceptionHandler} sends it.
 */
public class TransientFailDeserializationHandler extends LogAndContinueExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(TransientFailDeserializationHandler.class);

    @Override
    public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record, Exception exception) {
        if (RegistryFailures.isTransient(exception)) {
            LOG.warn("transient failure reading {}-{}@{}: failing so that the record is read again, not dead-lettered: {}",
                    context.topic(), context.partition(), context.offset(), exception.toString());
            return Response.fail();
        }
        return super.handleError(context, record, exception);
    }
}
