package berth.admin;

import static org.assertj.core.api.Assertions.assertThat;

import berth.apps.AppKeys;
import berth.config.Key;
import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.ext.web.Route;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The OpenAPI document served by the API describes exactly the routes the admin server registers. */
class OpenApiTest {
  private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "patch", "head", "options", "trace");
  @TempDir static Path dir;
  static BerthFixture node;
  static JsonNode doc;

  @BeforeAll
  static void start() {
    node = BerthFixture.start(dir, "");
    HttpResponse<String> r = new AdminHttp(dir.resolve("data")).get("/v1/openapi.json");
    assertThat(r.statusCode()).isEqualTo(200);
    doc = AdminHttp.json(r);
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  @Test
  void everyRegisteredRouteIsDocumentedAndEveryDocumentedOperationIsRegistered() {
    Set<String> registered = new TreeSet<>();
    for (Route r : node.berth.admin().routes()) {
      if (r.getPath() == null || r.methods() == null || r.methods().isEmpty()) continue; // filters: auth, body limit
      String path = r.getPath().replaceAll(":(\\w+)", "{$1}");
      r.methods().forEach(m -> registered.add(m.name().toUpperCase(Locale.ROOT) + " " + path));
    }
    Set<String> documented = new TreeSet<>();
    doc.path("paths").properties().forEach(p -> p.getValue().properties().forEach(op -> {
      if (METHODS.contains(op.getKey())) documented.add(op.getKey().toUpperCase(Locale.ROOT) + " " + p.getKey());
    }));
    assertThat(registered).hasSizeGreaterThan(10);
    assertThat(documented).isEqualTo(registered);
  }

  @Test
  void theAppSchemaHasEveryKeyWithItsDefault() {
    JsonNode app = doc.path("components").path("schemas").path("App");
    assertThat(app.path("additionalProperties").asBoolean(true)).isFalse();
    List<String> names = new ArrayList<>();
    app.path("properties").fieldNames().forEachRemaining(names::add);
    assertThat(names).isEqualTo(AppKeys.ALL.stream().map(Key::name).toList());
    assertThat(app.path("properties").path("idle_timeout").path("default").asText()).isEqualTo("5m");
    assertThat(app.path("properties").path("max_queue").path("type").asText()).isEqualTo("integer");
    assertThat(app.path("properties").path("memory_limit").path("type").toString()).isEqualTo("[\"string\",\"null\"]");
    assertThat(doc.path("openapi").asText()).isEqualTo("3.1.0");
    assertThat(doc.path("info").path("version").asText()).isEqualTo(berth.Berth.VERSION);
  }

  @Test
  void everyOperationDocumentsItsErrorsAndEveryReferenceResolves() {
    doc.path("paths").properties().forEach(p -> p.getValue().properties().forEach(op -> {
      if (!METHODS.contains(op.getKey())) return;
      JsonNode responses = op.getValue().path("responses");
      String where = op.getKey() + " " + p.getKey();
      if (!p.getKey().equals("/health")) assertThat(responses.has("401")).as("%s documents 401", where).isTrue();
      if (p.getKey().contains("{name}")) assertThat(responses.has("404")).as("%s documents 404", where).isTrue();
      boolean ifMatch = op.getValue().path("parameters").toString().contains("IfMatch");
      if (ifMatch) assertThat(responses.has("412") && responses.has("428")).as("%s documents 412 and 428", where).isTrue();
      if (op.getValue().has("requestBody")) {
        assertThat(responses.has("400") && responses.has("415") && responses.has("422")).as("%s documents 400, 415, 422", where).isTrue();
      }
    }));
    List<String> unresolved = new ArrayList<>();
    refs(doc, unresolved);
    assertThat(unresolved).isEmpty();
  }

  private static void refs(JsonNode n, List<String> unresolved) {
    if (n.isObject() && n.has("$ref")) {
      String ref = n.get("$ref").asText();
      if (!ref.startsWith("#") || doc.at(ref.substring(1)).isMissingNode()) unresolved.add(ref);
    }
    n.forEach(child -> refs(child, unresolved));
  }
}
