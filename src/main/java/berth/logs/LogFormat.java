package berth.logs;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import org.slf4j.LoggerFactory;

/**
 * Switches Berth's own log (the {@code STDERR} appender of {@code logback.xml}) between lines for people and
 * JSON lines ({@link JsonLayout}), as the node key {@code log_format} says. Called once at start, before the
 * first line about apps.
 */
public final class LogFormat {
  /** The pattern of {@code logback.xml}, for switching back to text. */
  static final String TEXT_PATTERN = "%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n";

  private LogFormat() {}

  /** {@code format}: {@code text} or {@code json}. Does nothing where logback is not the logging backend. */
  public static synchronized void use(String format) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) return;
    if (!(ctx.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR") instanceof OutputStreamAppender<ILoggingEvent> out)) return;
    boolean json = format.equals("json");
    boolean isJson = out.getEncoder() instanceof LayoutWrappingEncoder<ILoggingEvent> w && w.getLayout() instanceof JsonLayout;
    if (json == isJson) return;
    Encoder<ILoggingEvent> encoder;
    if (json) {
      JsonLayout layout = new JsonLayout();
      layout.setContext(ctx);
      layout.start();
      LayoutWrappingEncoder<ILoggingEvent> e = new LayoutWrappingEncoder<>();
      e.setContext(ctx);
      e.setLayout(layout);
      e.start();
      encoder = e;
    } else {
      PatternLayoutEncoder e = new PatternLayoutEncoder();
      e.setContext(ctx);
      e.setPattern(TEXT_PATTERN);
      e.start();
      encoder = e;
    }
    out.setEncoder(encoder);
  }
}
