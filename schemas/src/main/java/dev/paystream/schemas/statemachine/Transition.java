package dev.paystream.schemas.statemachine;

import dev.paystream.schemas.avro.PaymentState;

/** The table's answer for one (state, trigger): a next state, or a refusal with its reason. */
public sealed interface Transition {

    PaymentState from();

    Trigger trigger();

    record Allowed(PaymentState from, Trigger trigger, PaymentState to) implements Transition {}

    record Refused(PaymentState from, Trigger trigger, String reason) implements Transition {}
}
