package berth.router;

import berth.pool.Unavailable;
import berth.supervisor.StartFailure;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * Every answer the router makes itself, instead of the app: the one place that maps a failure to a status code
 * and a page saying why, naming the app and the reason. Small HTML for people; JSON for clients that ask for it
 * ({@code Accept: application/json}).
 */
final class ErrorPages {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * One answer, before it is rendered.
   *
   * @param app the app concerned, or null
   * @param message one sentence, plain text
   * @param failure why the app did not start, if that is the reason
   * @param retryAfter for Retry-After, or null
   */
  record Page(int status, String title, String app, String message, StartFailure failure, Duration retryAfter) {
    FullHttpResponse render(boolean json) {
      byte[] body = (json ? json() : html()).getBytes(StandardCharsets.UTF_8);
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
          Unpooled.wrappedBuffer(body));
      response.headers()
          .set(HttpHeaderNames.CONTENT_TYPE, json ? "application/json" : "text/html; charset=utf-8")
          .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
          .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
      if (retryAfter != null) response.headers().set(HttpHeaderNames.RETRY_AFTER, seconds(retryAfter.toMillis()));
      return response;
    }

    private String json() {
      ObjectNode error = JSON.createObjectNode();
      error.put("status", status).put("title", title).put("message", message);
      if (app != null) error.put("app", app);
      if (failure != null) {
        ObjectNode f = error.putObject("start_failure");
        f.put("reason", failure.reason()).put("after_ms", failure.after().toMillis());
        f.putArray("last_lines").addAll(failure.lastLines().stream().map(JSON.getNodeFactory()::textNode).toList());
      }
      if (retryAfter != null) error.put("retry_after_s", seconds(retryAfter.toMillis()));
      ObjectNode root = JSON.createObjectNode();
      root.set("error", error);
      return root.toString() + "\n";
    }

    private String html() {
      return "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + status + " " + esc(title) + "</title>"
          + "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50em;margin:3em auto;padding:0 1em;color:#222}"
          + "pre{background:#f4f4f4;padding:1em;overflow:auto;font-size:13px}</style></head><body>"
          + "<h1>" + status + " " + esc(title) + "</h1><p>" + esc(message) + "</p>" + (failure == null ? "" : failureHtml(failure))
          + "<hr><small>Berth</small></body></html>\n";
    }
  }

  private ErrorPages() {}

  /** Whether the client prefers JSON: it accepts application/json and does not put HTML first. */
  static boolean wantsJson(HttpRequest request) {
    String accept = request == null ? null : request.headers().get(HttpHeaderNames.ACCEPT);
    if (accept == null) return false;
    int json = accept.indexOf("application/json");
    int html = accept.indexOf("text/html");
    return json >= 0 && (html < 0 || json < html);
  }

  static Page badRequest(int status, String why) {
    String title = switch (status) {
      case 403 -> "Forbidden";
      case 408 -> "Request timeout";
      case 413 -> "Content too large";
      case 414 -> "URI too long";
      case 431 -> "Request header fields too large";
      case 505 -> "HTTP version not supported";
      default -> "Bad request";
    };
    return new Page(status, title, null, "Berth could not accept this request: " + why + ".", null, null);
  }

  static Page notFound(String host) {
    return new Page(404, "No app here", null, "Berth has no app for the host " + (host == null ? "(none)" : host) + ".", null, null);
  }

  static Page badGateway(String app, String why) {
    return new Page(502, "Bad gateway", app, "The app " + app + " " + why + ".", null, null);
  }

  static Page gatewayTimeout(String app, String why) {
    return new Page(504, "Gateway timeout", app, "The app " + app + " " + why + ".", null, null);
  }

  static Page unavailable(Unavailable u) {
    String app = u.app();
    Duration retry = u.retryAfter();
    return switch (u.reason()) {
      case Unavailable.StartFailed(StartFailure f, var retryIn) ->
          new Page(503, "App did not start", app, "The app " + app + " could not be started.", f, retry);
      case Unavailable.BackingOff(StartFailure f, var retryIn) -> new Page(503, "App failing", app,
          "The app " + app + " keeps failing; Berth will start it again in " + seconds(retryIn.toMillis()) + " s.", f, retry);
      case Unavailable.QueueFull(int limit) -> new Page(503, "App busy", app,
          "The app " + app + " is starting and " + limit + " requests already wait for it. Try again shortly.", null, retry);
      case Unavailable.Closing(String why) -> new Page(503, "App unavailable", app, "The app " + app + " is unavailable: " + why + ".", null, retry);
      case Unavailable.NoRoom(String why) -> new Page(503, "Server full", app,
          "The app " + app + " could not be started: " + why + ". Try again shortly.", null, retry);
    };
  }

  private static long seconds(long millis) {
    return Math.max(1, (millis + 999) / 1000);
  }

  private static String failureHtml(StartFailure f) {
    String when = f.step() == StartFailure.Step.RUNNING ? " (after serving for " : " (after ";
    return "<p>It " + esc(f.reason()) + when + f.after().toMillis() + " ms).</p>" + lastLines(f.lastLines()) + "<p>The app's log has more.</p>";
  }

  private static String lastLines(List<String> lines) {
    if (lines.isEmpty()) return "<p>It printed nothing.</p>";
    StringBuilder sb = new StringBuilder("<p>Its last lines of output:</p><pre>");
    for (String l : lines) sb.append(esc(l)).append('\n');
    return sb.append("</pre>").toString();
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
