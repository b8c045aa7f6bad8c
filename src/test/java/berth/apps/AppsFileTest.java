package berth.apps;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AppsFileTest {
  @TempDir Path dir;

  private Path write(String name, String toml) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, toml);
    return f;
  }

  @Test
  void readsEveryKeyWithDefaults() throws Exception {
    Files.createDirectories(dir.resolve("site"));
    Path f = write("apps.toml", """
        [apps.blog]
        domains = ["Blog.Example.com", "www.blog.example.com"]
        command = "exec gunicorn app:app --bind $HOST:$PORT"
        directory = "site"
        env = { WORKERS = 4, DEBUG = false, NAME = "blog" }
        idle_timeout = "15m"
        stop_signal = "SIGQUIT"

        [apps.api]
        domains = ["api.example.com"]
        command = "exec ./api"
        """);
    Map<String, App> apps = AppsFile.read(f);
    App blog = apps.get("blog");
    assertThat(blog.domains()).containsExactly("blog.example.com", "www.blog.example.com");
    assertThat(blog.launch().directory()).isEqualTo(dir.resolve("site"));
    assertThat(blog.launch().env()).containsEntry("WORKERS", "4").containsEntry("DEBUG", "false").containsEntry("NAME", "blog");
    assertThat(blog.idleTimeout()).isEqualTo(Duration.ofMinutes(15));
    assertThat(blog.stopSignal()).isEqualTo(StopSignal.QUIT);
    App api = apps.get("api");
    assertThat(api.idleTimeout()).isEqualTo(App.DEFAULT_IDLE_TIMEOUT);
    assertThat(api.startTimeout()).isEqualTo(Duration.ofSeconds(60));
    assertThat(api.stopTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(api.stopSignal()).isEqualTo(StopSignal.TERM);
    assertThat(api.maxQueue()).isEqualTo(100);
    assertThat(api.launch().directory()).isEqualTo(dir);
  }

  @Test
  void everyProblemIsNamedByItsKeyPath() throws Exception {
    Path f = write("apps.toml", """
        [apps.blog]
        domains = ["blog.example.com:8080", 7]
        idle_timeout = "5 minutes"
        stop_signal = "STOP"
        max_queue = -1
        env = { PORT = "1" }
        directory = "nowhere"
        commnad = "x"

        [apps.Bad_Name]
        domains = ["x.example.com"]
        command = "x"

        [serve]
        listen = ":80"
        """);
    assertThatThrownBy(() -> AppsFile.read(f))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(f + ": apps.blog.domains[0]: \"blog.example.com:8080\" is not a valid domain (expected a host name without a port)")
        .hasMessageContaining("apps.blog.domains[1]: 7 is not a string")
        .hasMessageContaining("apps.blog.command: is required")
        .hasMessageContaining("apps.blog.idle_timeout: \"5 minutes\" is not a duration (expected e.g. 30s, 5m)")
        .hasMessageContaining("apps.blog.stop_signal: \"STOP\" is not a signal")
        .hasMessageContaining("apps.blog.max_queue: -1 is not a whole number from 0 to 1000000")
        .hasMessageContaining("apps.blog.env.PORT: is set by Berth for every instance")
        .hasMessageContaining("apps.blog.directory: \"" + dir.resolve("nowhere") + "\" is not a directory")
        .hasMessageContaining("apps.blog.commnad: is not a known key")
        .hasMessageContaining("apps.Bad_Name: \"Bad_Name\" is not a valid app name")
        .hasMessageContaining("serve: is not a known key");
  }

  @Test
  void aDomainOfTwoAppsIsAnErrorNamingBoth() throws Exception {
    Path a = write("a.toml", """
        [apps.one]
        domains = ["shared.example.com"]
        command = "x"
        """);
    Path b = write("b.toml", """
        [apps.two]
        domains = ["SHARED.example.com"]
        command = "x"
        """);
    assertThatThrownBy(() -> AppsFile.load(List.of(a, b)))
        .hasMessage(b + ": apps.two.domains: \"shared.example.com\" is already a domain of app one");
  }

  @Test
  void invalidTomlSaysWhere() throws Exception {
    Path f = write("apps.toml", "[apps.x\ncommand = 1\n");
    assertThatThrownBy(() -> AppsFile.read(f)).hasMessageStartingWith(f + ": is not valid TOML");
  }

  @ParameterizedTest
  @CsvSource({"Example.COM, example.com", "example.com., example.com", "a-b.c_d.localhost, a-b.c_d.localhost", "localhost, localhost"})
  void normalizeDomain_valid(String text, String expected) {
    assertThat(AppsFile.normalizeDomain(text)).isEqualTo(expected);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "http://example.com | a domain, not a URL",
      "example.com:80 | a host name without a port",
      "exa mple.com | a host name (letters, digits and - between dots)",
      "-example.com | a host name (letters, digits and - between dots)",
      "a..b | a host name (letters, digits and - between dots)"})
  void normalizeDomain_invalid(String text, String expected) {
    assertThatThrownBy(() -> AppsFile.normalizeDomain(text)).hasMessageContaining("(expected " + expected + ")");
  }
}
