package berth.apps;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.config.ConfigException;
import berth.config.Key;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The canonical JSON of an app: every key, canonical values, exact round trips, errors with key paths. */
class AppKeysTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  private JsonNode json(String text) throws Exception {
    return JSON.readTree(text.replace("@DIR@", dir.toString()));
  }

  @Test
  void everyKeySetRoundTripsExactlyThroughTheCanonicalJson() throws Exception {
    App app = AppKeys.fromJson(json("""
        {"name": "blog", "domains": ["Blog.Example.com.", "www.blog.example.com"], "command": "exec gunicorn app:app",
         "directory": "@DIR@", "env": {"B": "2", "A": 1, "C": true},
         "idle_timeout": "90s", "start_timeout": "1500ms", "stop_timeout": "0s", "stop_signal": "sigquit", "max_queue": 7,
         "ready_path": "/health", "user": "www-data", "group": "www-data", "memory_limit": "268435456", "memory_recycle": "200M",
         "pids_limit": 64, "cpu_weight": 300, "max_requests": 1000, "max_lifetime": "1d2h", "request_timeout": "2m",
         "max_body_size": "10M", "min_instances": 1, "max_instances": 3, "concurrency": 4, "nodes": 3}
        """), Origin.REQUEST);

    JsonNode canonical = AppKeys.toJson(app);

    assertThat(JSON.writeValueAsString(canonical)).isEqualTo(("""
        {"name":"blog","domains":["blog.example.com","www.blog.example.com"],"command":"exec gunicorn app:app","directory":"@DIR@",\
        "env":{"A":"1","B":"2","C":"true"},"idle_timeout":"1m30s","start_timeout":"1s500ms","stop_timeout":"0s","stop_signal":"QUIT",\
        "max_queue":7,"ready_path":"/health","user":"www-data","group":"www-data","memory_limit":"256M","memory_recycle":"200M",\
        "pids_limit":64,"cpu_weight":300,"max_requests":1000,"max_lifetime":"1d2h","request_timeout":"2m","max_body_size":"10M","min_instances":1,"max_instances":3,"concurrency":4,"nodes":3}""").replace("@DIR@", dir.toString()));
    assertThat(AppKeys.fromJson(canonical, Origin.STORED)).isEqualTo(app);
    assertThat(AppKeys.fromJson(canonical, Origin.REQUEST)).isEqualTo(app);
    assertThat(AppKeys.toJson(AppKeys.fromJson(canonical, Origin.STORED))).isEqualTo(canonical);
  }

  @Test
  void theCanonicalJsonHasEveryKeyInOrderWithDefaultsAndNullForNone() throws Exception {
    App app = AppKeys.fromJson(json("""
        {"name": "api", "domains": ["api.example.com"], "command": "exec ./api", "directory": "@DIR@"}"""), Origin.REQUEST);
    JsonNode canonical = AppKeys.toJson(app);

    assertThat(canonical.propertyStream().map(Map.Entry::getKey).toList()).isEqualTo(AppKeys.ALL.stream().map(Key::name).toList());
    assertThat(canonical.get("idle_timeout").textValue()).isEqualTo("5m");
    assertThat(canonical.get("start_timeout").textValue()).isEqualTo("1m");
    assertThat(canonical.get("stop_signal").textValue()).isEqualTo("TERM");
    assertThat(canonical.get("max_queue").intValue()).isEqualTo(100);
    assertThat(canonical.get("env").isObject()).isTrue();
    for (String none : List.of("ready_path", "user", "group", "memory_limit", "memory_recycle", "pids_limit", "max_requests", "max_lifetime")) {
      assertThat(canonical.get(none).isNull()).as(none).isTrue();
    }
    assertThat(AppKeys.fromJson(canonical, Origin.STORED)).isEqualTo(app);
  }

  @Test
  void aRequestBodyIsCheckedWithEveryProblemNamedByItsPathInTheBody() throws Exception {
    assertThatThrownBy(() -> AppKeys.fromJson(json("""
        {"name": "Blog", "domains": ["ok.example.com", "bad:80", 3], "command": "", "directory": "site",
         "idle_timeout": "5 minutes", "env": {"PORT": "1", "1X": "y", "OK": {}}, "max_queue": 1.5, "memory_limit": "1M", "colour": "red"}
        """), Origin.REQUEST))
        .isInstanceOf(ConfigException.class)
        .satisfies(e -> assertThat(((ConfigException) e).problems()).containsExactly(
            "name: \"Blog\" is not a valid app name (expected lowercase letters, digits and -, at most 63)",
            "domains[1]: \"bad:80\" is not a valid domain (expected a host name without a port)",
            "domains[2]: 3 is not a string",
            "command: must not be empty",
            "directory: \"site\" is not an absolute path (relative paths are only for apps files, relative to the file)",
            "env.PORT: is set by Berth for every instance and cannot be overridden",
            "env.1X: is not a valid environment variable name",
            "env.OK: a table is not a string, number or boolean",
            "idle_timeout: \"5 minutes\" is not a duration (expected e.g. 30s, 5m)",
            "max_queue: 1.5 is not a whole number from 0 to 1000000",
            "memory_limit: \"1M\" is too small (expected at least 4M)",
            "colour: is not a known key"));
  }

  @Test
  void aRequestNeedsANameAnAbsoluteDirectoryAndAnObject() throws Exception {
    assertThatThrownBy(() -> AppKeys.fromJson(json("{\"domains\": [\"a.example.com\"], \"command\": \"x\"}"), Origin.REQUEST))
        .hasMessageContaining("name: is required")
        .hasMessageContaining("directory: is required: the absolute path of the app's working directory");
    assertThatThrownBy(() -> AppKeys.fromJson(json("[1]"), Origin.REQUEST)).hasMessage("is not a JSON object of app keys");
    assertThatThrownBy(() -> AppKeys.fromJson(json("""
        {"name": "a", "domains": [], "command": "x", "directory": "@DIR@/nowhere"}"""), Origin.REQUEST))
        .hasMessageContaining("domains: is required: at least one host name")
        .hasMessageContaining("directory: \"" + dir.resolve("nowhere") + "\" is not a directory");
  }

  @Test
  void aStoredAppIsNotCheckedAgainstTheFileSystem() throws Exception {
    // its directory was removed since it was stored: Berth must still start, and the instance's start says why
    App app = AppKeys.fromJson(json("""
        {"name": "gone", "domains": ["gone.example.com"], "directory": "/nonexistent/gone"}"""), Origin.STORED);
    assertThat(app.launch().command()).isNull();
    assertThat(app.launch().directory()).isEqualTo(Path.of("/nonexistent/gone"));
    assertThatThrownBy(() -> app.launch().commandToRun()).hasMessage("/nonexistent/gone has no Procfile");
  }

  @Test
  void withoutACommandTheProcfilesWebLineIsRunAndMissingOneIsAnErrorOnCommand() throws Exception {
    String body = "{\"name\": \"p\", \"domains\": [\"p.example.com\"], \"directory\": \"@DIR@\"}";
    assertThatThrownBy(() -> AppKeys.fromJson(json(body), Origin.REQUEST))
        .hasMessage("command: is required: none is given and " + dir + " has no Procfile");

    Files.writeString(dir.resolve("Procfile"), "# processes\nworker: python3 worker.py\n");
    assertThatThrownBy(() -> AppKeys.fromJson(json(body), Origin.REQUEST))
        .hasMessageStartingWith("command: is required: none is given and " + dir.resolve("Procfile") + " has no web: line");

    Files.writeString(dir.resolve("Procfile"), "worker: python3 worker.py\nweb:   gunicorn app:app --bind 0.0.0.0:$PORT  \r\n");
    App app = AppKeys.fromJson(json(body), Origin.REQUEST);
    assertThat(app.launch().command()).isNull();
    assertThat(app.launch().commandToRun()).isEqualTo("gunicorn app:app --bind 0.0.0.0:$PORT");
    assertThat(AppKeys.toJson(app).get("command").isNull()).isTrue();
    assertThat(AppKeys.fromJson(AppKeys.toJson(app), Origin.STORED)).isEqualTo(app);
  }

  @Test
  void anAppsFileTableMayRepeatItsNameButNotContradictIt() throws Exception {
    Path f = dir.resolve("apps.toml");
    Files.writeString(f, """
        [apps.one]
        name = "one"
        domains = ["one.example.com"]
        command = "x"

        [apps.two]
        name = "three"
        domains = ["two.example.com"]
        command = "x"
        """);
    assertThatThrownBy(() -> AppsFile.read(f)).hasMessage(f + ": apps.two.name: \"three\" is not the table's name, two");
  }

  @Test
  void anAppsFileAndAJsonBodyWithTheSameKeysMakeTheSameApp() throws Exception {
    Path f = dir.resolve("apps.toml");
    Files.createDirectories(dir.resolve("site"));
    Files.writeString(f, """
        [apps.blog]
        domains = ["blog.example.com"]
        command = "exec ./serve"
        directory = "site"
        env = { WORKERS = 4 }
        memory_limit = "1G"
        max_lifetime = "12h"
        """);
    App fromFile = AppsFile.read(f).get("blog");
    App fromJson = AppKeys.fromJson(json("""
        {"name": "blog", "domains": ["blog.example.com"], "command": "exec ./serve", "directory": "@DIR@/site",
         "env": {"WORKERS": "4"}, "memory_limit": "1024M", "max_lifetime": "720m"}"""), Origin.REQUEST);
    assertThat(fromFile).isEqualTo(fromJson);
    assertThat(fromFile.launch().env()).isEqualTo(Map.of("WORKERS", "4"));
    assertThat(fromFile.maxLifetime()).isEqualTo(Duration.ofHours(12));
  }
}
