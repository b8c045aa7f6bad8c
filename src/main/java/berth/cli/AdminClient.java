package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The admin API as the CLI uses it: one JDK {@link HttpClient}, the bearer token on every call, JSON in and out,
 * and every error answer turned into a {@link CliFailure} with the API's message, the key paths it named, and
 * the matching {@link ExitCode}.
 */
final class AdminClient {
  static final ObjectMapper JSON = new ObjectMapper();
  private final URI base;
  private final String token;
  private final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .build();

  /** One answer: status, the ETag if any, and the body (JSON null when there is none). */
  record Response(int status, String etag, JsonNode body) {
    /** The app version an ETag such as {@code "3"} names. */
    long version() {
      return etag == null ? -1 : Long.parseLong(etag.replace("\"", ""));
    }
  }

  AdminClient(URI base, String token) {
    this.base = base;
    this.token = token;
  }

  /** Finds Berth as {@link ClientOptions} says: flag, environment, then the data directory. */
  static AdminClient from(ClientOptions o) {
    Path data = o.dataDir();
    String url = o.admin != null ? o.admin : System.getenv("BERTH_ADMIN");
    if (url == null || url.isBlank()) {
      Path file = data.resolve("admin.url");
      try {
        url = Files.readString(file).strip();
      } catch (NoSuchFileException e) {
        throw new CliFailure(ExitCode.UNREACHABLE, "cannot find Berth: " + file + " does not exist (is Berth running with --data "
            + data + "? Give --data DIR, or --admin URL)");
      } catch (IOException e) {
        throw new CliFailure(ExitCode.UNREACHABLE, "cannot find Berth: cannot read " + file + ": " + e.getMessage());
      }
    }
    if (!url.contains("://")) url = "http://" + url;
    String token = System.getenv("BERTH_TOKEN");
    if (token == null || token.isBlank()) {
      Path file = data.resolve("admin.token");
      try {
        token = Files.readString(file).strip();
      } catch (NoSuchFileException e) {
        throw new CliFailure(ExitCode.UNAUTHORIZED, "no token: " + file + " does not exist (set BERTH_TOKEN, or give --data DIR of the Berth)");
      } catch (AccessDeniedException e) {
        throw new CliFailure(ExitCode.UNAUTHORIZED, "no token: " + file + " is readable only by its owner (run as that user, or set BERTH_TOKEN)");
      } catch (IOException e) {
        throw new CliFailure(ExitCode.UNAUTHORIZED, "no token: cannot read " + file + ": " + e.getMessage());
      }
    }
    try {
      return new AdminClient(URI.create(url.replaceAll("/+$", "")), token);
    } catch (IllegalArgumentException e) {
      throw new CliFailure(ExitCode.USAGE, "\"" + url + "\" is not a URL (expected e.g. http://127.0.0.1:8081)");
    }
  }

  URI base() {
    return base;
  }

  static String path(String name) {
    return "/v1/apps/" + URLEncoder.encode(name, StandardCharsets.UTF_8);
  }

  Response get(String path) {
    return send("GET", path, null, null, Map.of());
  }

  Response send(String method, String path, JsonNode body, String contentType, Map<String, String> headers) {
    HttpRequest.Builder b = request(path).timeout(Duration.ofMinutes(11));
    headers.forEach(b::header);
    if (body != null) {
      b.header("Content-Type", contentType);
      b.method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    HttpResponse<String> r = exchange(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode json = NullNode.instance;
    if (!r.body().isBlank()) {
      try {
        json = JSON.readTree(r.body());
      } catch (IOException e) {
        throw new CliFailure(ExitCode.ERROR, "Berth at " + base + " answered " + r.statusCode() + " with a body that is not JSON: "
            + r.body().lines().findFirst().orElse(""));
      }
    }
    Response response = new Response(r.statusCode(), r.headers().firstValue("ETag").orElse(null), json);
    if (r.statusCode() >= 400) throw failure(response);
    return response;
  }

  /** A streaming GET (server-sent events): the open body, after the status was checked. */
  InputStream stream(String path) {
    return stream(path, null);
  }

  /** As {@link #stream(String)}, resuming after the event {@code lastEventId} of an earlier stream (null: none). */
  InputStream stream(String path, String lastEventId) {
    HttpRequest.Builder b = request(path).header("Accept", "text/event-stream");
    if (lastEventId != null) b.header("Last-Event-ID", lastEventId);
    HttpRequest req = b.GET().build();
    HttpResponse<InputStream> r = exchange(req, HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() >= 400) {
      JsonNode json;
      try (InputStream in = r.body()) {
        json = JSON.readTree(in);
      } catch (IOException e) {
        json = NullNode.instance;
      }
      throw failure(new Response(r.statusCode(), null, json));
    }
    return r.body();
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).header("Authorization", "Bearer " + token).header("Accept", "application/json");
  }

  private <T> HttpResponse<T> exchange(HttpRequest req, HttpResponse.BodyHandler<T> handler) {
    try {
      return http.send(req, handler);
    } catch (ConnectException | HttpConnectTimeoutException e) {
      throw new CliFailure(ExitCode.UNREACHABLE, "cannot reach Berth at " + base + ": " + (e.getMessage() == null ? "connection refused" : e.getMessage())
          + " (is it running?)");
    } catch (IOException e) {
      throw new CliFailure(ExitCode.UNREACHABLE, "lost the connection to Berth at " + base + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliFailure(ExitCode.ERROR, "interrupted");
    }
  }

  /** The API's error body as a message: the message, then one line per key path it named. */
  private static CliFailure failure(Response r) {
    JsonNode e = r.body().path("error");
    StringBuilder m = new StringBuilder(e.path("message").asText("HTTP " + r.status()));
    JsonNode problems = e.path("problems");
    if (problems.size() > 1) {
      m.setLength(0);
      m.append(problems.size()).append(" problems:");
      for (JsonNode p : problems) {
        String path = p.path("path").asText();
        m.append("\n  ").append(path.isEmpty() ? "" : path + ": ").append(p.path("reason").asText());
      }
    }
    return new CliFailure(ExitCode.forStatus(r.status()), m.toString());
  }
}
