package berth.router;

import berth.config.RouterConfig;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request in {@code DATA/logs/access.log}: the client, the request line, status and body bytes as
 * in the common and combined formats, then what Berth adds: host, app, instance, the time spent waiting for the
 * app's answer, the total time, and the request id. Or the same as one JSON object per line.
 *
 * <p>Event loops only enqueue a record (no formatting, no I/O, never blocking: if the writer falls 64K lines
 * behind, lines are dropped and counted). One thread formats and writes them, and rotates the file at 64 MiB
 * (5 kept).
 */
final class AccessLog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AccessLog.class);
  private static final long ROTATE_BYTES = 64L << 20;
  private static final int KEEP = 5;
  private static final DateTimeFormatter CLF = DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);

  /** What one request did; {@code app}, {@code instance} null when Berth answered alone. */
  record Entry(long epochMillis, String client, String method, String uri, String protocol, int status, long bytes,
      String host, String referer, String userAgent, String app, String instance, long waitNanos, long totalNanos,
      String requestId) {}

  /** A request Berth answered alone (malformed, unknown host, timed out head); {@code request} may be null. */
  static Entry local(io.netty.handler.codec.http.HttpRequest request, String client, int status) {
    if (request == null) return new Entry(System.currentTimeMillis(), client, "-", "-", "-", status, 0, null, null, null, null, null, -1, -1, null);
    var h = request.headers();
    boolean valid = request.decoderResult().isSuccess();
    return new Entry(System.currentTimeMillis(), client, valid ? request.method().name() : "-", valid ? request.uri() : "-",
        request.protocolVersion().text(), status, 0, h.get("Host"), h.get("Referer"), h.get("User-Agent"), null, null, -1, -1,
        h.get("X-Request-Id"));
  }

  private final RouterConfig.AccessLog format;
  private final Path file;
  private final BlockingQueue<Entry> queue = new ArrayBlockingQueue<>(65_536);
  private final AtomicLong dropped = new AtomicLong();
  private final Thread writer;
  private volatile boolean closed;

  AccessLog(RouterConfig.AccessLog format, Path file) {
    this.format = format;
    this.file = file;
    this.writer = format == RouterConfig.AccessLog.OFF ? null : Thread.ofPlatform().daemon().name("berth-access-log").start(this::run);
  }

  boolean enabled() {
    return writer != null;
  }

  void add(Entry e) {
    if (writer != null && !queue.offer(e)) dropped.incrementAndGet();
  }

  private void run() {
    List<Entry> batch = new ArrayList<>(1024);
    StringBuilder sb = new StringBuilder(512);
    OutputStream out = null;
    long size = 0;
    try {
      Files.createDirectories(file.getParent());
      out = open();
      size = Files.size(file);
      while (!closed || !queue.isEmpty()) {
        Entry first = queue.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) continue;
        batch.add(first);
        queue.drainTo(batch, 1023);
        sb.setLength(0);
        for (Entry e : batch) format(e, sb);
        long lost = dropped.getAndSet(0);
        if (lost > 0) sb.append("# berth: ").append(lost).append(" access log lines dropped (the disk was too slow)\n");
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        out.write(bytes);
        out.flush();
        size += bytes.length;
        batch.clear();
        if (size > ROTATE_BYTES) {
          out.close();
          rotate();
          out = open();
          size = 0;
        }
      }
    } catch (IOException e) {
      LOG.error("access log {} cannot be written; no more access lines: {}", file, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (out != null) {
        try {
          out.close();
        } catch (IOException ignored) {
          // closing after the last write
        }
      }
    }
  }

  private OutputStream open() throws IOException {
    return new java.io.BufferedOutputStream(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND), 64 << 10);
  }

  private void rotate() throws IOException {
    for (int i = KEEP - 1; i >= 1; i--) {
      Path from = file.resolveSibling(file.getFileName() + "." + i);
      if (Files.exists(from)) Files.move(from, file.resolveSibling(file.getFileName() + "." + (i + 1)), StandardCopyOption.REPLACE_EXISTING);
    }
    Files.move(file, file.resolveSibling(file.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
  }

  void format(Entry e, StringBuilder sb) {
    if (format == RouterConfig.AccessLog.JSON) {
      sb.append("{\"time\":\"").append(Instant.ofEpochMilli(e.epochMillis())).append('"');
      field(sb, "client", e.client());
      field(sb, "method", e.method());
      field(sb, "uri", e.uri());
      field(sb, "protocol", e.protocol());
      sb.append(",\"status\":").append(e.status()).append(",\"bytes\":").append(e.bytes());
      field(sb, "host", e.host());
      field(sb, "referer", e.referer());
      field(sb, "user_agent", e.userAgent());
      field(sb, "app", e.app());
      field(sb, "instance", e.instance());
      sb.append(",\"wait_ms\":").append(millis(e.waitNanos())).append(",\"total_ms\":").append(millis(e.totalNanos()));
      field(sb, "request_id", e.requestId());
      sb.append("}\n");
      return;
    }
    sb.append(e.client()).append(" - - [").append(CLF.format(Instant.ofEpochMilli(e.epochMillis()))).append("] \"")
        .append(clean(e.method())).append(' ').append(clean(e.uri())).append(' ').append(e.protocol()).append("\" ")
        .append(e.status()).append(' ').append(e.bytes());
    if (format == RouterConfig.AccessLog.COMBINED) {
      sb.append(" \"").append(dash(e.referer())).append("\" \"").append(dash(e.userAgent())).append('"');
    }
    sb.append(" host=").append(dash(e.host())).append(" app=").append(dash(e.app())).append(" instance=").append(dash(e.instance()))
        .append(" wait_ms=").append(millis(e.waitNanos())).append(" total_ms=").append(millis(e.totalNanos()))
        .append(" rid=").append(dash(e.requestId())).append('\n');
  }

  private static void field(StringBuilder sb, String name, String value) {
    sb.append(",\"").append(name).append("\":");
    if (value == null) {
      sb.append("null");
    } else {
      sb.append('"');
      JsonStringEncoder.getInstance().quoteAsString(value, sb);
      sb.append('"');
    }
  }

  private static String millis(long nanos) {
    return nanos < 0 ? "-" : String.format(Locale.ROOT, "%.3f", nanos / 1e6);
  }

  private static String dash(String s) {
    return s == null || s.isEmpty() ? "-" : clean(s);
  }

  /** Quotes and control characters from clients must not break the line's format. */
  private static String clean(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
        StringBuilder sb = new StringBuilder(s.length() + 8);
        for (int j = 0; j < s.length(); j++) {
          char d = s.charAt(j);
          if (d == '"' || d == '\\') sb.append('\\').append(d);
          else if (d < 0x20 || d == 0x7f) sb.append(String.format("\\x%02x", (int) d));
          else sb.append(d);
        }
        return sb.toString();
      }
    }
    return s;
  }

  @Override
  public void close() {
    closed = true;
    if (writer != null) {
      try {
        writer.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
