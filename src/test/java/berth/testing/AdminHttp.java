package berth.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The admin API of a running Berth, found as the CLI finds it: the URL in {@code DATA/admin.url}, the token in
 * {@code DATA/admin.token}. Plain HTTP through the JDK client, so tests see exactly what the server sends.
 */
public final class AdminHttp {
  public static final ObjectMapper JSON = new ObjectMapper();
  public final URI base;
  public final String token;

  public AdminHttp(Path dataDir) {
    try {
      this.base = URI.create(Files.readString(dataDir.resolve("admin.url")).strip());
      this.token = Files.readString(dataDir.resolve("admin.token")).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A request with the token; the caller adds the method and anything else. */
  public HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + token);
  }

  public HttpResponse<String> get(String path) {
    return Http.send(request(path).GET().build());
  }

  public HttpResponse<String> send(String method, String path, String body, String contentType, String... headers) {
    HttpRequest.Builder b = request(path);
    if (headers.length > 0) b.headers(headers);
    if (contentType != null) b.header("Content-Type", contentType);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return Http.send(b.build());
  }

  public HttpResponse<String> post(String path, String json) {
    return send("POST", path, json, "application/json");
  }

  public static JsonNode json(HttpResponse<String> r) {
    try {
      return JSON.readTree(r.body());
    } catch (IOException e) {
      throw new AssertionError("not JSON (" + r.statusCode() + "): " + r.body(), e);
    }
  }

  /** The JSON of an app to create: {@code name}, one domain {@code NAME.test}, the given command and directory. */
  public static String app(String name, String command, Path directory, String extra) {
    return "{\"name\": \"" + name + "\", \"domains\": [\"" + name + ".test\"], \"command\": " + JSON.valueToTree(command)
        + ", \"directory\": " + JSON.valueToTree(directory.toString()) + (extra.isEmpty() ? "" : ", " + extra) + "}";
  }
}
