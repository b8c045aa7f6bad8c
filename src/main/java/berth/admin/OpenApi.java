package berth.admin;

import berth.apps.AppKeys;
import berth.config.Key;
import berth.config.Kind;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * {@code GET /v1/openapi.json}: the OpenAPI 3.1 document of the admin API. The paths, status codes and response
 * shapes are written by hand in {@code openapi.json} next to this class ({@code OpenApiTest} checks that they are
 * exactly the routes the server registers); the {@code App} schema is made from the key definitions ({@link
 * AppKeys#ALL}), so it cannot drift from what the API accepts.
 *
 * <p>Immutable after construction; the document is built once.
 */
final class OpenApi {
  private final ObjectNode document;

  OpenApi(String version) {
    try (InputStream in = OpenApi.class.getResourceAsStream("openapi.json")) {
      document = (ObjectNode) new ObjectMapper().readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException("the OpenAPI document is part of the jar", e);
    }
    document.withObject("/info").put("version", version);
    document.withObject("/components").withObject("/schemas").set("App", appSchema());
  }

  JsonNode document() {
    return document;
  }

  /** An app as JSON Schema: one property per key, with its type, limits, default and meaning. */
  static ObjectNode appSchema() {
    ObjectNode s = Reply.JSON.createObjectNode();
    s.put("type", "object");
    s.put("description", "An app: what a tenant deploys. Responses carry every key (null: none); in requests, absent or null keys take their "
        + "defaults. Durations are written like 500ms, 30s, 5m, 1h30m; sizes like 512M, 2G (binary units).");
    s.put("additionalProperties", false);
    s.putArray("required").add(AppKeys.NAME.name()).add(AppKeys.DOMAINS.name()).add(AppKeys.DIRECTORY.name());
    ObjectNode props = s.putObject("properties");
    for (Key<?> key : AppKeys.ALL) props.set(key.name(), property(key));
    return s;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static ObjectNode property(Key key) {
    ObjectNode p = Reply.JSON.createObjectNode();
    String type = switch (key.kind()) {
      case Kind.Whole w -> {
        p.put("minimum", w.min());
        p.put("maximum", w.max());
        yield "integer";
      }
      case Kind.Flag f -> "boolean";
      case Kind.TextList l -> {
        p.putObject("items").put("type", "string");
        yield "array";
      }
      case Kind.TextTable t -> {
        p.putObject("additionalProperties").putArray("type").add("string").add("number").add("boolean");
        yield "object";
      }
      case Kind.Text t -> "string";
    };
    if (key.defaultValue() == null && key != AppKeys.NAME && key != AppKeys.DOMAINS) {
      ArrayNode types = p.putArray("type");
      types.add(type).add("null");
    } else {
      p.put("type", type);
    }
    if (key.defaultValue() != null) p.set("default", key.write(key.defaultValue()));
    String unit = key.unit().isEmpty() ? "" : " (" + key.unit() + ")";
    p.put("description", key.meaning() + unit + ". " + key.kind().describe() + "; default: " + key.defaultText() + ".");
    return p;
  }
}
