package berth.admin;

import static berth.testing.AdminHttp.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.apps.AppKeys;
import berth.config.Key;
import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API's contract, endpoint by endpoint, against a real Berth (real store, router, pool and app
 * processes): status codes, headers, the error shape, authentication and the If-Match rules.
 */
class ApiTest {
  @TempDir static Path dir;
  static BerthFixture node;
  static AdminHttp api;
  static String command;
  static Path appDir;

  @BeforeAll
  static void start() {
    node = BerthFixture.start(dir, "");
    api = new AdminHttp(dir.resolve("data"));
    appDir = dir.resolve("app");
    command = TestApp.install(appDir);
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  private static HttpResponse<String> create(String name, String extra) {
    return api.post("/v1/apps", AdminHttp.app(name, command, appDir, extra));
  }

  private static void assertError(HttpResponse<String> r, int status, String messagePart) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode e = json(r).path("error");
    assertThat(e.path("status").asInt()).isEqualTo(status);
    assertThat(e.path("message").asText()).contains(messagePart);
  }

  // ------------------------------------------------------------------ auth and files

  @Test
  void everyCallButHealthNeedsTheBearerToken() {
    HttpResponse<String> none = Http.send(HttpRequest.newBuilder(api.base.resolve("/v1/apps")).GET().build());
    assertError(none, 401, "authentication required");
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    HttpResponse<String> wrong = Http.send(HttpRequest.newBuilder(api.base.resolve("/v1/status"))
        .header("Authorization", "Bearer " + api.token.substring(1) + "x").GET().build());
    assertError(wrong, 401, "not this Berth's");
    HttpResponse<String> notBearer = Http.send(HttpRequest.newBuilder(api.base.resolve("/v1/openapi.json"))
        .header("Authorization", "Basic " + api.token).GET().build());
    assertThat(notBearer.statusCode()).isEqualTo(401);
    // even a path that does not exist says 401 first: nothing about the API leaks without the token
    assertThat(Http.send(HttpRequest.newBuilder(api.base.resolve("/v1/nothing")).GET().build()).statusCode()).isEqualTo(401);

    HttpResponse<String> health = Http.send(HttpRequest.newBuilder(api.base.resolve("/health")).GET().build());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(json(health).path("status").asText()).isEqualTo("ok");
  }

  @Test
  void theTokenFileIsOwnerOnlyAndTheUrlFileNamesTheBoundListener() throws Exception {
    Path token = dir.resolve("data/admin.token");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(token))).isEqualTo("rw-------");
    assertThat(api.token).hasSizeGreaterThanOrEqualTo(40);
    assertThat(Files.readString(dir.resolve("data/admin.url")).strip()).isEqualTo("http://127.0.0.1:" + node.berth.adminPort());
  }

  // ------------------------------------------------------------------ batch

  @Test
  void aBatchMovesADomainAndDeletesInOneWriteOrRefusesWhole() throws Exception {
    assertThat(create("bfrom", "").statusCode()).isEqualTo(201);
    assertThat(create("bgone", "").statusCode()).isEqualTo(201);
    String to = AdminHttp.app("bto", command, appDir, "").replace("\"bto.test\"", "\"bto.test\", \"bfrom.test\"");
    String from = AdminHttp.app("bfrom", command, appDir, "").replace("\"bfrom.test\"", "\"bfrom2.test\"");
    HttpResponse<String> r = api.post("/v1/batch", "{\"writes\": [{\"op\": \"replace\", \"version\": 1, \"app\": " + from + "},"
        + "{\"op\": \"create\", \"app\": " + to + "}, {\"op\": \"delete\", \"name\": \"bgone\", \"version\": 1}]}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(json(r).path("apps").toString()).isEqualTo("[{\"name\":\"bfrom\",\"version\":2},{\"name\":\"bto\",\"version\":1}]");
    assertThat(node.berth.store().catalog().app("bto").domains()).contains("bfrom.test");
    assertThat(node.berth.store().get("bgone")).isEmpty();

    // a stale version anywhere: 412, and nothing of the call is written
    long revision = node.berth.store().catalog().version();
    HttpResponse<String> stale = api.post("/v1/batch", "{\"writes\": [{\"op\": \"create\", \"app\": "
        + AdminHttp.app("bnew", command, appDir, "") + "}, {\"op\": \"delete\", \"name\": \"bfrom\", \"version\": 1}]}");
    assertError(stale, 412, "bfrom is at version 2");
    assertThat(node.berth.store().get("bnew")).isEmpty();
    assertThat(node.berth.store().catalog().version()).isEqualTo(revision);

    // invalid keys are named within the call
    HttpResponse<String> invalid = api.post("/v1/batch", "{\"writes\": [{\"op\": \"create\", \"app\": "
        + AdminHttp.app("bbad", command, appDir, "\"idle_timeout\": \"soon\"") + "}, {\"op\": \"rename\"}]}");
    assertThat(invalid.statusCode()).as(invalid.body()).isEqualTo(422);
    assertThat(json(invalid).path("error").path("problems").get(0).path("path").asText()).isEqualTo("writes[0].app.idle_timeout");
  }

  // ------------------------------------------------------------------ create, read

  @Test
  void createAnswers201WithLocationETagAndEveryKeyAndTheDomainRoutesAtOnce() {
    HttpResponse<String> r = create("fresh", "\"idle_timeout\": \"90s\"");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    assertThat(r.headers().firstValue("Location")).hasValue("/v1/apps/fresh");
    assertThat(r.headers().firstValue("ETag")).hasValue("\"1\"");
    JsonNode app = json(r);
    assertThat(app.path("idle_timeout").asText()).isEqualTo("1m30s");
    for (Key<?> key : AppKeys.ALL) assertThat(app.has(key.name())).as("key %s in the body", key.name()).isTrue();

    // answered only once routed: the very next request reaches the app (which starts on it)
    HttpResponse<String> routed = Http.get(node.port(), "fresh.test", "/echo");
    assertThat(routed.statusCode()).as(routed.body()).isEqualTo(200);
    assertThat(routed.body()).contains("\"path\": \"/echo\"");

    HttpResponse<String> got = api.get("/v1/apps/fresh");
    assertThat(got.statusCode()).isEqualTo(200);
    assertThat(got.headers().firstValue("ETag")).hasValue("\"1\"");
    assertThat(json(got)).isEqualTo(app);

    JsonNode list = json(api.get("/v1/apps"));
    JsonNode item = null;
    for (JsonNode a : list.path("apps")) if (a.path("name").asText().equals("fresh")) item = a;
    assertThat(item).isNotNull();
    assertThat(item.path("version").asLong()).isEqualTo(1);
    assertThat(item.path("state").asText()).isIn("running", "starting");
    assertThat(item.path("app")).isEqualTo(app);
  }

  @Test
  void invalidValuesAre422WithEveryProblemByKeyPath() {
    HttpResponse<String> r = api.post("/v1/apps", "{\"name\": \"bad\", \"domains\": [\"bad.test\", \"http://x\"], \"command\": \"x\", "
        + "\"directory\": \"" + appDir + "\", \"idle_timeout\": \"5 minutes\", \"env\": {\"PORT\": \"1\"}, \"idel_timeout\": \"5m\"}");
    assertError(r, 422, "problems");
    List<String> paths = new ArrayList<>();
    json(r).path("error").path("problems").forEach(p -> paths.add(p.path("path").asText() + ": " + p.path("reason").asText()));
    assertThat(paths).anySatisfy(p -> assertThat(p).isEqualTo("idle_timeout: \"5 minutes\" is not a duration (expected e.g. 30s, 5m)"))
        .anySatisfy(p -> assertThat(p).startsWith("domains[1]: \"http://x\" is not a valid domain"))
        .anySatisfy(p -> assertThat(p).startsWith("env.PORT: "))
        .anySatisfy(p -> assertThat(p).isEqualTo("idel_timeout: is not a known key"));
    assertThat(api.get("/v1/apps/bad").statusCode()).isEqualTo(404);
  }

  @Test
  void malformedJsonIs400AndOtherMediaTypesAre415AndHugeBodiesAre413() {
    assertError(api.post("/v1/apps", "{\"name\": \"x\","), 400, "not valid JSON");
    assertError(api.post("/v1/apps", ""), 400, "empty");
    assertError(api.post("/v1/apps", "[1, 2]"), 422, "not a JSON object");
    assertError(api.send("POST", "/v1/apps", "name=x", "application/x-www-form-urlencoded"), 415, "application/json");
    assertError(api.post("/v1/apps", "{\"name\": \"" + "x".repeat(2 << 20) + "\"}"), 413, "larger than");
  }

  @Test
  void aDomainOfAnotherAppIs409NamingThatApp() {
    assertThat(create("owner", "").statusCode()).isEqualTo(201);
    HttpResponse<String> r = api.post("/v1/apps", "{\"name\": \"thief\", \"domains\": [\"Owner.test\"], \"command\": \"x\", \"directory\": \"" + appDir + "\"}");
    assertError(r, 409, "owner");
    assertThat(json(r).path("error").path("problems").get(0).path("path").asText()).isEqualTo("domains");
    assertError(create("owner", ""), 409, "owner");
  }

  @Test
  void unknownAppsAre404AndUnknownPathsAndMethodsSaySo() {
    for (String path : List.of("/v1/apps/nope", "/v1/apps/nope/instances", "/v1/apps/nope/logs")) assertError(api.get(path), 404, "nope");
    assertError(api.send("POST", "/v1/apps/nope/start", null, null), 404, "nope");
    assertError(api.send("PUT", "/v1/apps/nope", AdminHttp.app("nope", command, appDir, ""), "application/json", "If-Match", "*"), 404, "nope");
    assertError(api.send("DELETE", "/v1/apps/nope", null, null, "If-Match", "*"), 404, "nope");
    assertError(api.get("/v1/nothing"), 404, "no such path");
    HttpResponse<String> m = api.send("DELETE", "/v1/status", null, null);
    assertError(m, 405, "GET");
  }

  // ------------------------------------------------------------------ replace, patch, delete: If-Match

  @Test
  void writesNeedIfMatchAndAStaleOneIs412NamingTheCurrentVersion() {
    assertThat(create("guarded", "").statusCode()).isEqualTo(201);
    String body = AdminHttp.app("guarded", command, appDir, "\"max_queue\": 7");
    assertError(api.send("PUT", "/v1/apps/guarded", body, "application/json"), 428, "If-Match is required");
    assertError(api.send("PATCH", "/v1/apps/guarded", "{}", "application/merge-patch+json"), 428, "If-Match is required");
    assertError(api.send("DELETE", "/v1/apps/guarded", null, null), 428, "If-Match is required");
    assertError(api.send("PUT", "/v1/apps/guarded", body, "application/json", "If-Match", "three"), 400, "not an ETag");

    HttpResponse<String> put = api.send("PUT", "/v1/apps/guarded", body, "application/json", "If-Match", "\"1\"");
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    assertThat(put.headers().firstValue("ETag")).hasValue("\"2\"");
    assertThat(json(put).path("max_queue").asInt()).isEqualTo(7);

    HttpResponse<String> stale = api.send("PUT", "/v1/apps/guarded", body, "application/json", "If-Match", "\"1\"");
    assertError(stale, 412, "version 2");
    assertThat(json(stale).path("error").path("current_version").asLong()).isEqualTo(2);
    assertThat(stale.headers().firstValue("ETag")).hasValue("\"2\"");
    assertError(api.send("PATCH", "/v1/apps/guarded", "{\"max_queue\": 8}", "application/merge-patch+json", "If-Match", "\"1\""), 412, "version 2");
    assertError(api.send("DELETE", "/v1/apps/guarded", null, null, "If-Match", "\"1\""), 412, "version 2");

    assertError(api.send("PUT", "/v1/apps/guarded", AdminHttp.app("other", command, appDir, ""), "application/json", "If-Match", "\"2\""),
        422, "cannot be changed");
    // If-Match: * writes whatever version is stored; the name may be left out of the body
    String other = body.replace("\"name\": \"guarded\", ", "").replace("\"max_queue\": 7", "\"max_queue\": 9");
    HttpResponse<String> any = api.send("PUT", "/v1/apps/guarded", other, "application/json", "If-Match", "*");
    assertThat(any.statusCode()).as(any.body()).isEqualTo(200);
    assertThat(any.headers().firstValue("ETag")).hasValue("\"3\"");
  }

  @Test
  void patchIsAJsonMergePatch() {
    assertThat(create("patched", "\"env\": {\"A\": \"1\", \"B\": \"2\"}, \"max_requests\": 50").statusCode()).isEqualTo(201);
    assertError(api.send("PATCH", "/v1/apps/patched", "{\"max_queue\": 8}", "application/json", "If-Match", "\"1\""), 415, "merge-patch");
    HttpResponse<String> r = api.send("PATCH", "/v1/apps/patched", "{\"env\": {\"B\": null, \"C\": \"3\"}, \"max_requests\": null, \"domains\": [\"p2.test\"]}",
        "application/merge-patch+json", "If-Match", "\"1\"");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode app = json(r);
    assertThat(app.path("env")).isEqualTo(AdminHttp.JSON.createObjectNode().put("A", "1").put("C", "3"));
    assertThat(app.path("max_requests").isNull()).isTrue();
    assertThat(app.path("domains").toString()).isEqualTo("[\"p2.test\"]");
    assertThat(app.path("command").asText()).isEqualTo(command);
    assertThat(r.headers().firstValue("ETag")).hasValue("\"2\"");
    // the old domain no longer routes, the new one does
    assertThat(Http.get(node.port(), "patched.test", "/").statusCode()).isEqualTo(404);
    assertThat(Http.get(node.port(), "p2.test", "/echo").statusCode()).isEqualTo(200);

    HttpResponse<String> bad = api.send("PATCH", "/v1/apps/patched", "{\"idle_timeout\": 5}", "application/merge-patch+json", "If-Match", "\"2\"");
    assertError(bad, 422, "idle_timeout");
    assertThat(json(bad).path("error").path("problems").get(0).path("path").asText()).isEqualTo("idle_timeout");
  }

  @Test
  void deleteStopsRoutingAtOnce() {
    assertThat(create("doomed", "").statusCode()).isEqualTo(201);
    assertThat(Http.get(node.port(), "doomed.test", "/echo").statusCode()).isEqualTo(200);
    HttpResponse<String> r = api.send("DELETE", "/v1/apps/doomed", null, null, "If-Match", "\"1\"");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
    assertThat(r.body()).isEmpty();
    assertThat(Http.get(node.port(), "doomed.test", "/").statusCode()).isEqualTo(404);
    assertThat(api.get("/v1/apps/doomed").statusCode()).isEqualTo(404);
  }

  @Test
  void ofTwoConcurrentWritersWithTheSameVersionExactlyOneWins() throws Exception {
    assertThat(create("contested", "").statusCode()).isEqualTo(201);
    for (int r = 1; r <= 10; r++) {
      int round = r;
      String etag = "\"" + round + "\"";
      CyclicBarrier together = new CyclicBarrier(2);
      ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
      List<CompletableFuture<HttpResponse<String>>> writers = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        String patch = "{\"max_queue\": " + (round * 10 + w) + "}";
        boolean replace = w == 0;
        writers.add(CompletableFuture.supplyAsync(() -> {
          try {
            together.await(10, TimeUnit.SECONDS);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return replace
              ? api.send("PUT", "/v1/apps/contested", AdminHttp.app("contested", command, appDir, "\"max_queue\": " + (round * 10)), "application/json", "If-Match", etag)
              : api.send("PATCH", "/v1/apps/contested", patch, "application/merge-patch+json", "If-Match", etag);
        }, threads));
      }
      List<Integer> codes = new ArrayList<>();
      for (var f : writers) codes.add(f.get(30, TimeUnit.SECONDS).statusCode());
      threads.close();
      assertThat(codes).as("round %d", round).containsExactlyInAnyOrder(200, 412);
      int winner = codes.indexOf(200);
      JsonNode now = json(api.get("/v1/apps/contested"));
      assertThat(now.path("max_queue").asInt()).isEqualTo(round * 10 + winner);
    }
  }

  // ------------------------------------------------------------------ instances, control, logs

  @Test
  void startStopRestartAndInstances() {
    assertThat(create("ctl", "\"idle_timeout\": \"5m\"").statusCode()).isEqualTo(201);
    JsonNode none = json(api.get("/v1/apps/ctl/instances"));
    assertThat(none.path("app").asText()).isEqualTo("ctl");
    assertThat(none.path("instances")).isEmpty();

    HttpResponse<String> started = api.send("POST", "/v1/apps/ctl/start", null, null);
    assertThat(started.statusCode()).as(started.body()).isEqualTo(200);
    JsonNode first = json(started).path("instances").get(0);
    assertThat(first.path("state").asText()).isEqualTo("ready");
    assertThat(first.path("role").asText()).isEqualTo("serving");
    assertThat(first.path("pid").asInt()).isPositive();

    HttpResponse<String> restarted = api.send("POST", "/v1/apps/ctl/restart", null, null);
    assertThat(restarted.statusCode()).as(restarted.body()).isEqualTo(200);
    JsonNode current = null;
    for (JsonNode i : json(restarted).path("instances")) if (i.path("role").asText().equals("serving")) current = i;
    assertThat(current).isNotNull();
    assertThat(current.path("id").asInt()).isGreaterThan(first.path("id").asInt());
    assertThat(current.path("pid").asInt()).isNotEqualTo(first.path("pid").asInt());

    HttpResponse<String> stopped = api.send("POST", "/v1/apps/ctl/stop", null, null);
    assertThat(stopped.statusCode()).as(stopped.body()).isEqualTo(200);
    assertThat(json(stopped).path("instances")).isEmpty();
    assertThat(json(api.get("/v1/apps/ctl/instances")).path("instances")).isEmpty();
  }

  @Test
  void anAppThatCannotStartIs503WithTheReason() {
    assertThat(api.post("/v1/apps", AdminHttp.app("broken", command, appDir, "\"env\": {\"EXIT_EARLY\": \"3\"}")).statusCode()).isEqualTo(201);
    HttpResponse<String> r = api.send("POST", "/v1/apps/broken/start", null, null);
    assertError(r, 503, "status 3");
  }

  @Test
  void logsGiveRecentLinesAndFollowStreamsNewOnesUntilTheClientLeaves() throws Exception {
    assertThat(create("chatty", "").statusCode()).isEqualTo(201);
    assertThat(api.send("POST", "/v1/apps/chatty/start", null, null).statusCode()).isEqualTo(200);
    JsonNode recent = json(api.get("/v1/apps/chatty/logs?lines=5"));
    assertThat(recent.path("lines").size()).isBetween(1, 5);
    assertThat(recent.path("lines").toString()).contains("berth|");
    assertError(api.get("/v1/apps/chatty/logs?lines=1000"), 422, "lines");

    HttpResponse<InputStream> stream = Http.client().send(api.request("/v1/apps/chatty/logs?follow=true&lines=1").GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(stream.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    var log = node.berth.pool().log("chatty");
    try (BufferedReader r = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      assertThat(log.followers()).isEqualTo(1);
      // a request makes the test app print an access line: it must arrive as an event
      assertThat(Http.get(node.port(), "chatty.test", "/echo?marker=xyzzy").statusCode()).isEqualTo(200);
      String seen = null;
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("data: ") && line.contains("xyzzy")) {
          seen = line;
          break;
        }
      }
      assertThat(seen).contains(" out| ");
    }
    // the client went away: Berth stops following for it
    await().atMost(Duration.ofSeconds(10)).until(() -> log.followers() == 0);
  }

  // ------------------------------------------------------------------ node

  @Test
  void statusNamesVersionUptimeStoreAndApps() {
    assertThat(create("shown", "").statusCode()).isEqualTo(201);
    HttpResponse<String> r = api.get("/v1/status");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode s = json(r);
    assertThat(s.path("version").asText()).isEqualTo(berth.Berth.VERSION);
    assertThat(s.path("uptime_seconds").asLong()).isNotNegative();
    assertThat(s.path("store").asText()).contains(dir.resolve("data").toString());
    JsonNode shown = null;
    for (JsonNode a : s.path("apps")) if (a.path("name").asText().equals("shown")) shown = a;
    assertThat(shown).isNotNull();
    assertThat(shown.path("state").asText()).isEqualTo("stopped");
    assertThat(shown.path("domains").toString()).isEqualTo("[\"shown.test\"]");
    assertThat(shown.path("version").asLong()).isEqualTo(1);
  }
}
