package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client commands as a user runs them: the real {@code berth} binary (its own JVM) against a real Berth
 * process, finding it through the data directory. Checks what people read, what {@code --json} gives scripts,
 * and the exit codes.
 */
class AppCliTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** As bin/berth runs client commands: they start sooner with the C1 compiler alone. */
  private static final List<String> CLIENT_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
  @TempDir static Path dir;
  static BerthProcess berth;
  static Path data;
  static String command;
  static Path appDir;

  @BeforeAll
  static void start() throws Exception {
    Path apps = dir.resolve("apps.toml");
    Files.writeString(apps, "");
    berth = BerthProcess.start(dir, apps, List.of());
    data = dir.resolve("data");
    appDir = dir.resolve("app");
    command = TestApp.install(appDir);
  }

  @AfterAll
  static void stop() {
    berth.close();
  }

  record Result(int code, String out, String err) {
    JsonNode json() throws Exception {
      return JSON.readTree(out);
    }
  }

  /** Runs {@code berth ARGS...} with {@code --data} appended where it is a client command. */
  static Result cli(Map<String, String> env, String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(BerthProcess.commandLine(CLIENT_JVM, args));
    pb.environment().remove("BERTH_ADMIN");
    pb.environment().remove("BERTH_TOKEN");
    pb.environment().putAll(env);
    pb.directory(dir.toFile());
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("berth %s finished", String.join(" ", args)).isTrue();
    return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  static Result berth(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data", data.toString()));
    return cli(Map.of(), all.toArray(String[]::new));
  }

  @Test
  void anAppsLifeThroughTheCli() throws Exception {
    Result created = berth("app", "create", "blog", "--domain", "blog.test", "--domain", "www.blog.test", "--command", command,
        "--directory", appDir.toString(), "--idle-timeout", "90s", "--env", "GREETING=hi there", "--env", "MODE=test");
    assertThat(created.code()).as(created.err()).isZero();
    assertThat(created.out()).contains("created blog (version 1): blog.test, www.blog.test");
    assertThat(Http.get(berth.port, "www.blog.test", "/echo").statusCode()).isEqualTo(200);

    Result list = berth("app", "list");
    assertThat(list.code()).isZero();
    assertThat(list.out()).containsPattern("NAME +STATE +VERSION +DOMAINS").containsPattern("blog +running +1 +blog.test, www.blog.test");

    Result show = berth("app", "show", "blog", "--json");
    assertThat(show.code()).isZero();
    assertThat(show.json().path("idle_timeout").asText()).isEqualTo("1m30s");
    assertThat(show.json().path("env").path("GREETING").asText()).isEqualTo("hi there");
    assertThat(berth("app", "show", "blog").out()).contains("blog (version 1)").containsPattern("idle_timeout +1m30s");

    Result updated = berth("app", "update", "blog", "--idle-timeout", "15m", "--add-domain", "blog.example.test", "--remove-domain", "www.blog.test",
        "--unset", "env.MODE");
    assertThat(updated.code()).as(updated.err()).isZero();
    assertThat(updated.out()).contains("updated blog (version 2)").contains("idle_timeout: 1m30s -> 15m").contains("domains: [blog.test, www.blog.test] -> [blog.test, blog.example.test]");
    assertThat(Http.get(berth.port, "blog.example.test", "/echo").statusCode()).isEqualTo(200);
    assertThat(Http.get(berth.port, "www.blog.test", "/").statusCode()).isEqualTo(404);

    Result restarted = berth("app", "restart", "blog");
    assertThat(restarted.code()).as(restarted.err()).isZero();
    assertThat(restarted.out()).containsPattern("blog/i\\d+ +ready +serving");
    Result status = berth("status");
    assertThat(status.code()).isZero();
    assertThat(status.out()).contains("Berth ").contains("store ").containsPattern("blog +running +\\d+ +\\d+");
    Result one = berth("status", "blog");
    assertThat(one.out()).contains("blog: running (version 2").containsPattern("blog/i\\d+ +ready");
    Result stopped = berth("app", "stop", "blog");
    assertThat(stopped.out()).contains("no instance running");

    Result logs = berth("logs", "blog", "-n", "200");
    assertThat(logs.code()).isZero();
    assertThat(logs.out()).contains("berth| ").contains("out| testapp listening");

    assertThat(berth("app", "delete", "blog").out()).contains("deleted blog");
    assertThat(Http.get(berth.port, "blog.test", "/").statusCode()).isEqualTo(404);
    Result gone = berth("app", "show", "blog");
    assertThat(gone.code()).isEqualTo(3);
    assertThat(gone.err()).contains("berth: no app named blog");
  }

  @Test
  void exitCodesTellWhatWentWrong() throws Exception {
    Result invalid = berth("app", "create", "bad", "--domain", "bad.test", "--command", "x", "--idle-timeout", "5 minutes");
    assertThat(invalid.code()).isEqualTo(2);
    assertThat(invalid.err()).contains("idle_timeout: \"5 minutes\" is not a duration (expected e.g. 30s, 5m)");

    assertThat(berth("app", "create", "first", "--domain", "taken.test", "--command", command, "--directory", appDir.toString()).code()).isZero();
    Result conflict = berth("app", "create", "second", "--domain", "taken.test", "--command", command, "--directory", appDir.toString());
    assertThat(conflict.code()).isEqualTo(4);
    assertThat(conflict.err()).contains("first");

    assertThat(berth("app", "frobnicate").code()).isEqualTo(2);
    assertThat(berth("app", "update", "first").code()).isEqualTo(2);

    Result unreachable = cli(Map.of(), "app", "list", "--admin", "http://127.0.0.1:1", "--data", data.toString());
    assertThat(unreachable.code()).isEqualTo(5);
    assertThat(unreachable.err()).contains("cannot reach Berth at http://127.0.0.1:1");
    Result noBerth = cli(Map.of(), "status", "--data", dir.resolve("elsewhere").toString());
    assertThat(noBerth.code()).isEqualTo(5);
    assertThat(noBerth.err()).contains("admin.url does not exist");

    Result badToken = cli(Map.of("BERTH_TOKEN", "not-the-token"), "app", "list", "--data", data.toString());
    assertThat(badToken.code()).isEqualTo(6);

    // BERTH_ADMIN and BERTH_TOKEN reach a Berth without its data directory
    String url = Files.readString(data.resolve("admin.url")).strip();
    String token = Files.readString(data.resolve("admin.token")).strip();
    Result remote = cli(Map.of("BERTH_ADMIN", url, "BERTH_TOKEN", token), "app", "list", "--json", "--data", dir.resolve("elsewhere").toString());
    assertThat(remote.code()).as(remote.err()).isZero();
    assertThat(remote.json().path("apps").toString()).contains("\"first\"");
    // the node config file Berth was started with leads to its data directory
    Path node = dir.resolve("node.toml");
    Files.writeString(node, "data = \"" + data + "\"\n");
    Result viaConfig = cli(Map.of(), "app", "list", "--config", node.toString());
    assertThat(viaConfig.code()).as(viaConfig.err()).isZero();
    assertThat(viaConfig.out()).contains("first");
    assertThat(berth("app", "delete", "first").code()).isZero();
  }

  @Test
  void applyIsDeclarativeIdempotentAndPrunesOnlyWhenAsked() throws Exception {
    Path file = dir.resolve("declared.toml");
    Files.writeString(file, """
        [apps.alpha]
        domains = ["alpha.test"]
        command = "%s"
        directory = "app"
        idle_timeout = "2m"

        [apps.beta]
        domains = ["beta.test", "shared.test"]
        command = "%s"
        directory = "app"
        env = { COLOR = "blue" }
        """.formatted(command.replace("\"", "\\\""), command.replace("\"", "\\\"")));
    Result dry = berth("apply", "-f", file.toString(), "--dry-run");
    assertThat(dry.code()).as(dry.err()).isZero();
    assertThat(dry.out()).contains("+ alpha (create)").contains("idle_timeout = \"2m\"").contains("dry run, nothing was changed; would have: 2 created");
    assertThat(berth("app", "list", "--json").json().path("apps").toString()).doesNotContain("alpha");

    Result applied = berth("apply", "-f", file.toString());
    assertThat(applied.code()).as(applied.err()).isZero();
    assertThat(applied.out()).contains("+ alpha (create)").contains("+ beta (create)").contains("applied: 2 created, 0 updated, 0 deleted");
    assertThat(Http.get(berth.port, "shared.test", "/echo").statusCode()).isEqualTo(200);

    Result again = berth("apply", "-f", file.toString());
    assertThat(again.code()).isZero();
    assertThat(again.out()).startsWith("nothing to change: 2 apps as in");

    // swap domains between the two apps: one batch, one transaction (no order of single writes could do it)
    Path swapped = dir.resolve("swapped.toml");
    Files.writeString(swapped, Files.readString(file).replace("domains = [\"alpha.test\"]", "domains = [\"@A@\"]")
        .replace("domains = [\"beta.test\", \"shared.test\"]", "domains = [\"alpha.test\", \"shared.test\"]").replace("@A@", "beta.test"));
    Result swap = berth("apply", "-f", swapped.toString());
    assertThat(swap.code()).as(swap.err()).isZero();
    assertThat(JSON.readTree(Http.get(berth.port, "alpha.test", "/whoami").body()).path("env").path("COLOR").asText())
        .as("alpha.test is beta's now").isEqualTo("blue");
    Result back = berth("apply", "-f", file.toString());
    assertThat(back.code()).as(back.err()).isZero();

    // move a domain from beta to alpha, change a key, drop beta from the file
    Files.writeString(file, """
        [apps.alpha]
        domains = ["alpha.test", "shared.test"]
        command = "%s"
        directory = "app"
        idle_timeout = "3m"
        """.formatted(command.replace("\"", "\\\"")));
    Result kept = berth("apply", "-f", file.toString());
    assertThat(kept.code()).isEqualTo(4);
    assertThat(kept.err()).contains("\"shared.test\" is a domain of app beta").contains("nothing was changed");

    Result pruned = berth("apply", "-f", file.toString(), "--prune", "--json");
    assertThat(pruned.code()).as(pruned.err()).isZero();
    assertThat(pruned.json().path("changes").toString()).contains("\"action\":\"delete\",\"app\":\"beta\"").contains("idle_timeout: \\\"2m\\\" -> \\\"3m\\\"");
    assertThat(Http.get(berth.port, "beta.test", "/").statusCode()).isEqualTo(404);
    assertThat(Http.get(berth.port, "shared.test", "/echo").body()).contains("/echo");
    assertThat(berth("apply", "-f", file.toString(), "--prune").out()).startsWith("nothing to change");
    assertThat(berth("app", "delete", "alpha").code()).isZero();
  }

  @Test
  void exportWritesAFileThatApplyFindsEqual() throws Exception {
    assertThat(berth("app", "create", "exported", "--domain", "exp.test", "--domain", "exp2.test", "--command", command + " --say \"hi\"\t$PORT",
        "--directory", appDir.toString(), "--env", "QUOTE=a \"quoted\" \\ value", "--max-requests", "1000", "--stop-signal", "SIGINT",
        "--memory-recycle", "512M", "--ready-path", "/echo").code()).isZero();
    Path file = dir.resolve("exported.toml");
    Result export = berth("export", "-o", file.toString());
    assertThat(export.code()).as(export.err()).isZero();
    String toml = Files.readString(file);
    assertThat(toml).contains("[apps.exported]").contains("max_requests = 1000").contains("stop_signal = \"INT\"").doesNotContain("idle_timeout");

    assertThat(berth("apply", "-f", file.toString()).out()).startsWith("nothing to change");
    assertThat(cli(Map.of(), "check", file.toString()).code()).isZero();

    // and back: delete it, apply the export, and it is the same app
    JsonNode before = berth("app", "show", "exported", "--json").json();
    assertThat(berth("app", "delete", "exported").code()).isZero();
    assertThat(berth("apply", "-f", file.toString()).out()).contains("+ exported (create)");
    assertThat(berth("app", "show", "exported", "--json").json()).isEqualTo(before);
    assertThat(berth("app", "delete", "exported").code()).isZero();
  }

  @Test
  void logsFollowPrintsNewLinesAsTheyComeAndStopsWithTheClient() throws Exception {
    assertThat(berth("app", "create", "follow", "--domain", "follow.test", "--command", command, "--directory", appDir.toString()).code()).isZero();
    ProcessBuilder pb = new ProcessBuilder(BerthProcess.commandLine(CLIENT_JVM, "logs", "follow", "-f", "-n", "0", "--data", data.toString()));
    Process p = pb.redirectErrorStream(true).start();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String found = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      // the stream is open once the app's own start lines arrive: a request starts it
      Thread.ofVirtual().start(() -> {
        try {
          Thread.sleep(1500);
        } catch (InterruptedException ignored) {
          return;
        }
        Http.get(berth.port, "follow.test", "/echo?plugh");
      });
      for (String line; System.nanoTime() < deadline && (line = r.readLine()) != null; ) {
        if (line.contains("plugh")) {
          found = line;
          break;
        }
      }
      assertThat(found).contains(" out| request ");
    } finally {
      p.destroy();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(berth("app", "delete", "follow").code()).isZero();
  }

  @Test
  void statusForPeopleShowsInstancesFailuresColdStartsAndUseAndUsageAddsUp() throws Exception {
    assertThat(berth("app", "create", "seen", "--domain", "seen.test", "--command", command, "--directory", appDir.toString()).code()).isZero();
    assertThat(Http.get(berth.port, "seen.test", "/echo").statusCode()).isEqualTo(200); // a cold start
    assertThat(Http.get(berth.port, "seen.test", "/status?code=404").statusCode()).isEqualTo(404);
    assertThat(Http.get(berth.port, "seen.test", "/die").statusCode()).isIn(502, 503); // a crash

    Result one = berth("status", "seen");
    assertThat(one.code()).as(one.err()).isZero();
    assertThat(one.out())
        .contains("seen: ")
        .contains("last failure: exited with status 7")
        .containsPattern("requests: 3 since Berth started \\(2xx 1, 4xx 1, 5xx 1\\)")
        .containsPattern("instances' lives: 1 start, 0 start failures, 1 crash \\(0 OOM kills\\), 0 recycles")
        .containsPattern("cold starts: 1; last [0-9.]+ ms \\(queued [0-9.]+ ms, spawning [0-9.]+ ms, booting [0-9.]+ ms, first answer [0-9.]+ ms\\)")
        .contains("use since Berth started: CPU ")
        .contains("recent failures:").containsPattern("i1 +crashed +exited with status 7");
    JsonNode json = berth("status", "seen", "--json").json();
    assertThat(json.path("cold_starts").path("count").asInt()).isEqualTo(1);
    assertThat(json.path("failures").get(0).path("kind").asText()).isEqualTo("crashed");

    // running again once the back-off after the crash is over
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> Http.get(berth.port, "seen.test", "/echo").statusCode() == 200);
    Result running = berth("status", "seen");
    System.out.println(running.out());
    assertThat(running.out()).containsPattern("INSTANCE +STATE +ROLE +PID +PORT +UPTIME +MEMORY +CPU +REQUESTS +IN FLIGHT")
        .containsPattern("seen/i2 +ready +serving +\\d+ +\\d+ +\\d+s +[0-9.]+ MiB +[0-9.]+ s +1 +0");
    Result all = berth("status");
    assertThat(all.out()).containsPattern("APP +STATE +PID +PORT +IN FLIGHT +REQUESTS \\(10m0s\\) +DOMAINS")
        .containsPattern("seen +running +\\d+ +\\d+ +0 +[▁▂▃▄▅▆▇█]* *\\d+ +seen.test");

    Result usage = berth("usage", "seen", "--step", "total");
    assertThat(usage.code()).as(usage.err()).isZero();
    assertThat(usage.out()).containsPattern("APP +CPU SECONDS +MEMORY GIB-HOURS").containsPattern("seen +[0-9.]+ +[0-9.]+").contains("all apps: CPU ");
    assertThat(berth("usage", "--from", "next tuesday").code()).isEqualTo(2);
    assertThat(berth("app", "delete", "seen").code()).isZero();
  }

  @Test
  void helpHasExamplesAndExitCodesAndCompletionCoversTheCommands() throws Exception {
    Result help = cli(Map.of(), "--help");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("Examples:").contains("Exit codes:").contains("5   Cannot reach Berth");
    Result create = cli(Map.of(), "app", "create", "--help");
    assertThat(create.out()).contains("--idle-timeout=DURATION").contains("--domain, --domains=DOMAIN").contains("--env=NAME=VALUE")
        .contains("Examples:");
    Result completion = cli(Map.of(), "completion");
    assertThat(completion.code()).isZero();
    assertThat(completion.out()).contains("complete -F").contains("--idle-timeout").contains("apply").contains("export");
  }
}
