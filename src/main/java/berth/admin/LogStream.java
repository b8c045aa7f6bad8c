package berth.admin;

import berth.logs.AppLog;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * {@code GET /v1/apps/NAME/logs?follow=true}: an app's log as server-sent events ({@code text/event-stream}),
 * one {@code data:} event per line: the last lines first, then each new line as it is written, until the client
 * goes away or Berth stops. A comment every {@link #HEARTBEAT_MS} keeps proxies from timing the stream out and
 * finds a client that vanished without closing.
 *
 * <p>Each event has an {@code id}, {@code RUN-SEQ} ({@link AppLog#run()}, {@link AppLog.Line#seq()}): a client that
 * reconnects with {@code Last-Event-ID} (as EventSource does, and {@code berth logs -f}) gets exactly the lines it
 * missed, or, when Berth was restarted meanwhile (another run), every line of the new run that is kept.
 *
 * <p>A client that reads slower than the app writes does not make Berth buffer without bound: beyond {@link
 * #MAX_PENDING} lines waiting to be written, lines are dropped and the client is told how many, in a comment.
 *
 * <p>Threading: lines arrive on the app's output pump threads (under the log's lock) and are handed to the
 * event loop of the request, which alone writes to the response. State guarded by that event loop, except
 * {@code pending} and {@code dropped} (atomics).
 */
final class LogStream {
  static final long HEARTBEAT_MS = 15_000;
  static final int MAX_PENDING = 1_000;

  private final Vertx vertx;
  private final HttpServerResponse response;
  private final Context context;
  private final AppLog log;
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicInteger dropped = new AtomicInteger();
  private final Consumer<AppLog.Line> follower = this::arrived;
  private long heartbeat = -1;

  private LogStream(Vertx vertx, HttpServerResponse response, Context context, AppLog log) {
    this.vertx = vertx;
    this.response = response;
    this.context = context;
    this.log = log;
  }

  /**
   * Starts the stream on the current event loop: {@code lines} recent lines (or, with {@code lastEventId} from an
   * earlier stream, the lines after it), then every new one.
   */
  static void start(Vertx vertx, HttpServerResponse response, AppLog log, int lines, String lastEventId) {
    LogStream s = new LogStream(vertx, response, vertx.getOrCreateContext(), log);
    response.setChunked(true)
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .putHeader("X-Accel-Buffering", "no");
    response.closeHandler(v -> s.stop());
    response.exceptionHandler(e -> s.stop());
    long after = -1;
    int n = lines;
    if (lastEventId != null) {
      int dash = lastEventId.lastIndexOf('-');
      if (dash > 0 && lastEventId.substring(0, dash).equals(log.run())) {
        try {
          after = Long.parseLong(lastEventId.substring(dash + 1).strip());
        } catch (NumberFormatException e) {
          after = -1;
        }
      } else {
        n = AppLog.KEPT_LINES; // Berth started over since: all of this run that is kept
      }
    }
    List<AppLog.Line> recent = log.follow(n, after, s.follower);
    StringBuilder first = new StringBuilder(": following ").append(log.file().getFileName()).append("\n\n");
    recent.forEach(line -> event(first, log.run(), line));
    response.write(first.toString());
    s.heartbeat = vertx.setPeriodic(HEARTBEAT_MS, id -> {
      if (response.closed()) s.stop();
      else response.write(": keep-alive\n\n");
    });
  }

  /** On a pump thread, under the log's lock: hand the line to the event loop, or count it as dropped. */
  private void arrived(AppLog.Line line) {
    if (pending.incrementAndGet() > MAX_PENDING) {
      pending.decrementAndGet();
      dropped.incrementAndGet();
      return;
    }
    context.runOnContext(v -> {
      pending.decrementAndGet();
      write(line);
    });
  }

  private void write(AppLog.Line line) {
    if (response.closed() || response.ended()) return;
    if (response.writeQueueFull()) {
      dropped.incrementAndGet();
      return;
    }
    StringBuilder sb = new StringBuilder();
    int lost = dropped.getAndSet(0);
    if (lost > 0) sb.append(": ").append(lost).append(" lines dropped: the client reads slower than the app writes\n\n");
    event(sb, log.run(), line);
    response.write(sb.toString());
  }

  /** One SSE event with its id; CR would end the data line early, so it becomes a space. */
  private static void event(StringBuilder sb, String run, AppLog.Line line) {
    sb.append("id: ").append(run).append('-').append(line.seq()).append('\n');
    sb.append("data: ").append(line.text().replace('\r', ' ')).append("\n\n");
  }

  private void stop() {
    log.unfollow(follower);
    if (heartbeat >= 0) {
      vertx.cancelTimer(heartbeat);
      heartbeat = -1;
    }
  }
}
