package berth.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One complete answer of the admin API, built off the event loop (handlers may block on the store) and sent on
 * it. Bodies are JSON; errors are {@link ApiError}s.
 *
 * @param body null for no body (204)
 */
record Reply(int status, JsonNode body, Map<String, String> headers) {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  Reply {
    headers = Map.copyOf(headers);
  }

  static Reply ok(JsonNode body) {
    return new Reply(200, body, Map.of());
  }

  static Reply of(int status, JsonNode body) {
    return new Reply(status, body, Map.of());
  }

  static Reply error(ApiError e) {
    return new Reply(e.status(), e.toJson(), e.currentVersion() >= 0 ? Map.of("ETag", Api.etag(e.currentVersion())) : Map.of());
  }

  Reply with(String header, String value) {
    Map<String, String> h = new LinkedHashMap<>(headers);
    h.put(header, value);
    return new Reply(status, body, h);
  }

  void send(HttpServerResponse response) {
    if (response.ended() || response.closed()) return;
    response.setStatusCode(status).putHeader(HttpHeaders.CACHE_CONTROL, "no-store");
    headers.forEach(response::putHeader);
    if (body == null) {
      response.end();
      return;
    }
    try {
      response.putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(JSON.writeValueAsString(body) + "\n");
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serializes", e);
    }
  }
}
