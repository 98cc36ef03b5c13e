package dev.paystream.schemas.registry;

import org.apache.kafka.common.errors.RetriableException;

/**
 * The schema registry did not answer a call in time (or answered only with 5xx/429) after every attempt
 * {@link RegistryClientSettings} allows. It says nothing about the record being serialised or read, so it
 * is a {@link RetriableException}: Paystream's error handlers fail the step (the transaction aborts and the
 * record is processed again) instead of dead-lettering the record.
 */
public final class RegistryUnavailableException extends RetriableException {

    public RegistryUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
