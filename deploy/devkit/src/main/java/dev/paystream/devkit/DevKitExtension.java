package dev.paystream.devkit;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that starts one {@link DevKit} for the whole test run (broker and registry are
 * shared by every test class of the JVM, which keeps suites fast) and injects it as a parameter. It is
 * closed when the run ends. Tests isolate themselves by topic prefix or application id.
 */
public final class DevKitExtension implements ParameterResolver {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(DevKitExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == DevKit.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) throws ParameterResolutionException {
        return context.getRoot().getStore(NS)
                .getOrComputeIfAbsent("devkit", k -> new Shared(DevKit.start(null)), Shared.class).devKit;
    }

    private record Shared(DevKit devKit) implements ExtensionContext.Store.CloseableResource, AutoCloseable {
        @Override
        public void close() {
            devKit.close();
        }
    }
}
