package berth.router;

import berth.pool.Unavailable;
import berth.supervisor.StartFailure;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Every answer the router makes itself, instead of the app: the one place that maps a failure to a status code
 * and a page saying why. Pages are small HTML; the same text goes to Berth's log by the caller.
 */
final class ErrorPages {
  private ErrorPages() {}

  static FullHttpResponse badRequest(int status, String why) {
    String title = switch (status) {
      case 414 -> "URI too long";
      case 431 -> "Request header fields too large";
      case 505 -> "HTTP version not supported";
      case 408 -> "Request timeout";
      case 413 -> "Content too large";
      default -> "Bad request";
    };
    return page(status, title, "Berth could not accept this request: " + esc(why) + ".", null);
  }

  static FullHttpResponse notFound(String host) {
    return page(404, "No app here", "Berth has no app for the host <code>" + esc(host == null ? "(none)" : host) + "</code>.", null);
  }

  static FullHttpResponse badGateway(String app, String why) {
    return page(502, "Bad gateway", "The app <code>" + esc(app) + "</code> " + esc(why) + ".", null);
  }

  static FullHttpResponse gatewayTimeout(String app, String why) {
    return page(504, "Gateway timeout", "The app <code>" + esc(app) + "</code> " + esc(why) + ".", null);
  }

  static FullHttpResponse unavailable(Unavailable u) {
    String app = "<code>" + esc(u.app()) + "</code>";
    FullHttpResponse page = switch (u.reason()) {
      case Unavailable.StartFailed(StartFailure f, var retryIn) -> page(503, "App did not start",
          "The app " + app + " could not be started.", failure(f));
      case Unavailable.BackingOff(StartFailure f, var retryIn) -> page(503, "App failing",
          "The app " + app + " keeps failing; Berth will start it again in " + seconds(retryIn.toMillis()) + " s.",
          f == null ? null : failure(f));
      case Unavailable.QueueFull(int limit) -> page(503, "App busy",
          "The app " + app + " is starting and " + limit + " requests already wait for it. Try again shortly.", null);
      case Unavailable.Closing(String why) -> page(503, "App unavailable", "The app " + app + " is unavailable: " + esc(why) + ".", null);
    };
    page.headers().set(HttpHeaderNames.RETRY_AFTER, seconds(u.retryAfter().toMillis()));
    return page;
  }

  private static long seconds(long millis) {
    return Math.max(1, (millis + 999) / 1000);
  }

  private static String failure(StartFailure f) {
    String when = f.step() == StartFailure.Step.RUNNING ? " (after serving for " : " (after ";
    return "<p>It " + esc(f.reason()) + when + f.after().toMillis() + " ms).</p>" + lastLines(f.lastLines()) + "<p>The app's log has more.</p>";
  }

  private static String lastLines(List<String> lines) {
    if (lines.isEmpty()) return "<p>It printed nothing.</p>";
    StringBuilder sb = new StringBuilder("<p>Its last lines of output:</p><pre>");
    for (String l : lines) sb.append(esc(l)).append('\n');
    return sb.append("</pre>").toString();
  }

  private static FullHttpResponse page(int status, String title, String message, String detail) {
    String body = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + status + " " + esc(title) + "</title>"
        + "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50em;margin:3em auto;padding:0 1em;color:#222}"
        + "pre{background:#f4f4f4;padding:1em;overflow:auto;font-size:13px}</style></head><body>"
        + "<h1>" + status + " " + esc(title) + "</h1><p>" + message + "</p>" + (detail == null ? "" : detail)
        + "<hr><small>Berth</small></body></html>\n";
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
        Unpooled.wrappedBuffer(bytes));
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/html; charset=utf-8")
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
        .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
    return response;
  }

  static String esc(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '&' -> sb.append("&amp;");
        case '"' -> sb.append("&quot;");
        case '\'' -> sb.append("&#39;");
        default -> sb.append(c);
      }
    }
    return sb.toString();
  }
}
