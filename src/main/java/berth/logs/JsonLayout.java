package berth.logs;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import java.time.Instant;
import java.util.Map;
import org.slf4j.event.KeyValuePair;

/**
 * Berth's own log as one JSON object per line, for log shippers:
 *
 * <pre>{"time":"2026-05-01T12:00:00.123Z","level":"INFO","logger":"Supervisor","thread":"berth-blocking-3",
 * "message":"blog/i3 (pid 4242, port 20001) ready after 41ms","app":"blog","instance":3}</pre>
 *
 * <p>{@code app} and {@code instance} come from a {@link Tagged} argument of the line (an instance, say), or from
 * the line's key-value pairs or MDC entries of those names; other key-value pairs become fields of their own;
 * {@code error} holds a stack trace. Stateless and thread-safe.
 */
public final class JsonLayout extends LayoutBase<ILoggingEvent> {
  @Override
  public String doLayout(ILoggingEvent e) {
    StringBuilder sb = new StringBuilder(256);
    sb.append("{\"time\":");
    quote(sb, Instant.ofEpochMilli(e.getTimeStamp()).toString());
    sb.append(",\"level\":");
    quote(sb, e.getLevel().toString());
    sb.append(",\"logger\":");
    String logger = e.getLoggerName();
    quote(sb, logger.substring(logger.lastIndexOf('.') + 1));
    sb.append(",\"thread\":");
    quote(sb, e.getThreadName());
    sb.append(",\"message\":");
    quote(sb, e.getFormattedMessage());
    String app = null;
    Integer instance = null;
    if (e.getArgumentArray() != null) {
      for (Object arg : e.getArgumentArray()) {
        if (arg instanceof Tagged t) {
          app = t.appName();
          if (t.instanceId() > 0) instance = t.instanceId();
          break;
        }
      }
    }
    Map<String, String> mdc = e.getMDCPropertyMap();
    if (app == null && mdc != null) app = mdc.get("app");
    if (instance == null && mdc != null && mdc.get("instance") != null) instance = parse(mdc.get("instance"));
    StringBuilder extra = new StringBuilder();
    if (e.getKeyValuePairs() != null) {
      for (KeyValuePair kv : e.getKeyValuePairs()) {
        switch (kv.key) {
          case "app" -> app = String.valueOf(kv.value);
          case "instance" -> instance = kv.value instanceof Number n ? Integer.valueOf(n.intValue()) : parse(String.valueOf(kv.value));
          default -> {
            extra.append(',');
            quote(extra, kv.key);
            extra.append(':');
            if (kv.value instanceof Number || kv.value instanceof Boolean) extra.append(kv.value);
            else quote(extra, String.valueOf(kv.value));
          }
        }
      }
    }
    if (app != null) {
      sb.append(",\"app\":");
      quote(sb, app);
    }
    if (instance != null) sb.append(",\"instance\":").append(instance);
    sb.append(extra);
    IThrowableProxy error = e.getThrowableProxy();
    if (error != null) {
      sb.append(",\"error\":");
      quote(sb, ThrowableProxyUtil.asString(error));
    }
    return sb.append('}').append(CoreConstants.LINE_SEPARATOR).toString();
  }

  private static Integer parse(String s) {
    try {
      return Integer.valueOf(s.strip().replaceFirst("^i", ""));
    } catch (NumberFormatException ex) {
      return null;
    }
  }

  /** {@code s} as a JSON string: quotes, backslashes and control characters escaped. */
  static void quote(StringBuilder sb, String s) {
    if (s == null) {
      sb.append("null");
      return;
    }
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    sb.append('"');
  }
}
