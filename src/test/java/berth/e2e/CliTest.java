package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.BerthProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: a bad apps file stops {@code serve} with the key path and the reason. */
class CliTest {
  @TempDir Path dir;

  private Result berth(String... args) throws Exception {
    Process p = new ProcessBuilder(BerthProcess.commandLine(List.of(), args)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), out);
  }

  record Result(int code, String output) {}

  @Test
  void serveWithAnInvalidAppsFileExitsWithEveryProblemAndItsKeyPath() throws Exception {
    Path apps = dir.resolve("apps.toml");
    Files.writeString(apps, """
        [apps.blog]
        domains = ["blog.localhost"]
        command = "exec ./server"
        idle_timeout = "5 minutes"
        idel_timeout = "5m"
        """);
    Result r = berth("serve", "--apps", apps.toString(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data", dir.resolve("data").toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.output())
        .contains("apps.blog.idle_timeout: \"5 minutes\" is not a duration (expected e.g. 30s, 5m)")
        .contains("apps.blog.idel_timeout: is not a known key")
        .contains(apps.toString());
  }

  @Test
  void serveWithABadListenAddressSaysWhich() throws Exception {
    Result r = berth("serve", "--listen", "localhost", "--data", dir.resolve("data").toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.output()).contains("listen: \"localhost\" is not an address");
  }

  @Test
  void serveWithADatabaseOfAnotherKindSaysWhichKey() throws Exception {
    Result r = berth("serve", "--database", "jdbc:mysql://db/berth", "--data", dir.resolve("data").toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.output()).contains("database: \"jdbc:mysql://db/berth\" is not a database Berth can use");
  }

  @Test
  void serveWithAnUnreachableDatabaseSaysSoAndExits1() throws Exception {
    Result r = berth("serve", "--database", "jdbc:postgresql://127.0.0.1:1/berth", "--data", dir.resolve("data").toString(),
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0");
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.output()).contains("berth: cannot start: cannot open the database (postgresql //127.0.0.1:1/berth): Connection to 127.0.0.1:1 refused");
  }

  @Test
  void serveHelpHasAFlagForEveryNodeKeyWithItsDefault() throws Exception {
    Result r = berth("serve", "--help");
    assertThat(r.code()).isZero();
    String help = r.output().replaceAll("\\s+", ""); // picocli wraps long descriptions, also after a ':'

    for (var key : berth.config.NodeConfig.KEYS) {
      assertThat(help).as(key.name()).contains(key.flag()).contains("(default:" + key.defaultText().replace("`", "").replace(" ", ""));
    }
  }

  @Test
  void checkPrintsTheAppsOfAValidFile() throws Exception {
    Path apps = dir.resolve("apps.toml");
    Files.writeString(apps, """
        [apps.hello]
        domains = ["Hello.Localhost"]
        command = "exec python3 app.py"
        """);
    Result r = berth("check", apps.toString());
    assertThat(r.code()).isZero();
    assertThat(r.output()).contains("hello: hello.localhost -> exec python3 app.py (idle_timeout 5m, start_timeout 1m)").contains("1 apps OK");
  }
}
