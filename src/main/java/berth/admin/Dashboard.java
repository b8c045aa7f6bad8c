package berth.admin;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The web dashboard's files: plain HTML, CSS and JavaScript in the jar ({@code berth/admin/dashboard/}), read once
 * and served from memory under {@code /dashboard/}. The files hold no data: the page asks for the admin token and
 * reads everything through the API with it (the token stays in the tab's session storage, sent only as a bearer
 * header, never as a cookie, so no other site can make the browser act with it).
 *
 * <p>Every answer carries a Content-Security-Policy that allows only these files and calls to this origin: a
 * log line an app wrote cannot run as script in the page (the page also only ever sets text, never HTML).
 */
final class Dashboard {
  static final String PATH = "/dashboard/";
  static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
      + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

  private record File(Buffer body, String type, String etag) {}

  private final Map<String, File> files;

  Dashboard() {
    files = Map.of(
        "", load("index.html", "text/html; charset=utf-8"),
        "app.js", load("app.js", "text/javascript; charset=utf-8"),
        "app.css", load("app.css", "text/css; charset=utf-8"));
  }

  private static File load(String name, String type) {
    try (InputStream in = Dashboard.class.getResourceAsStream("dashboard/" + name)) {
      if (in == null) throw new IllegalStateException("dashboard/" + name + " is missing from the jar");
      byte[] bytes = in.readAllBytes();
      String etag = "\"" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8) + "\"";
      return new File(Buffer.buffer(bytes), type, etag);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JDK has SHA-256", e);
    }
  }

  /** {@code GET /dashboard/...}: a file, 304 when the browser has it, 404 for any other name. */
  void serve(RoutingContext ctx) {
    var response = ctx.response();
    HttpMethod m = ctx.request().method();
    if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
      response.putHeader(HttpHeaders.ALLOW, "GET, HEAD");
      Reply.error(new ApiError(405, m + " is not allowed on " + ctx.request().path() + " (allowed: GET, HEAD)")).send(response);
      return;
    }
    String path = ctx.request().path();
    if (!path.startsWith(PATH)) { // "/dashboard" and "/": the page itself, so that relative links work
      response.setStatusCode(302).putHeader(HttpHeaders.LOCATION, PATH).end();
      return;
    }
    File f = files.get(path.substring(PATH.length()));
    if (f == null) {
      Reply.error(new ApiError(404, "no such file: " + path + " (the dashboard is at " + PATH + ")")).send(response);
      return;
    }
    response.putHeader("Content-Security-Policy", CSP)
        .putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("Referrer-Policy", "no-referrer")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache") // revalidated each time: a new Berth's files are seen at once
        .putHeader(HttpHeaders.ETAG, f.etag());
    if (f.etag().equals(ctx.request().getHeader(HttpHeaders.IF_NONE_MATCH))) {
      response.setStatusCode(304).end();
      return;
    }
    response.putHeader(HttpHeaders.CONTENT_TYPE, f.type());
    if (m == HttpMethod.HEAD) response.putHeader(HttpHeaders.CONTENT_LENGTH, Integer.toString(f.body().length())).end();
    else response.end(f.body());
  }
}
