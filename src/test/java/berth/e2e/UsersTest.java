package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.TestApp;
import berth.users.Account;
import berth.users.Accounts;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Apps as their own Unix users: real users, created for the test and removed after it. */
class UsersTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String A = "berthta";
  private static final String B = "berthtb";
  private static final String C = "berthtc";
  static Path root;
  static Account a;
  static Account b;
  BerthFixture berth;

  static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + ": " + out);
  }

  @BeforeAll
  static void createUsers() throws Exception {
    assumeThat(Accounts.self().root()).as("SKIPPED: these tests create Unix users and need root").isTrue();
    assumeThat(Files.isExecutable(Path.of("/usr/sbin/useradd"))).as("SKIPPED: useradd is not installed").isTrue();
    removeUsers();
    // a directory every user may traverse (a JUnit temp dir is 0700 root)
    root = Files.createTempDirectory(Path.of("/tmp"), "berth-users-");
    Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
    for (String u : List.of(A, B)) {
      run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", root.resolve(u + "-home").toString(),
          "--shell", "/usr/sbin/nologin", u);
      Path dir = root.resolve(u);
      TestApp.install(dir);
      Files.writeString(dir.resolve("secret"), "only " + u + " may read this\n");
      run("chown", "-R", u + ":" + u, dir.toString());
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    }
    a = Accounts.user(A).orElseThrow();
    b = Accounts.user(B).orElseThrow();
  }

  @AfterAll
  static void removeUsers() throws Exception {
    for (String u : List.of(A, B, C)) {
      if (Accounts.user(u).isPresent()) run("userdel", u);
      if (Accounts.group(u).isPresent()) run("groupdel", u);
    }
    if (root != null) run("rm", "-rf", root.toString());
  }

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private BerthFixture berth(String toml, Map<String, Object> node) throws IOException {
    Path dir = Files.createTempDirectory(root, "berth-");
    return BerthFixture.start(dir, toml.replace("@ROOT@", root.toString()).replace("@PY@", TestApp.python()), node);
  }

  private static final String APPS = """
      [apps.a]
      domains = ["a.test"]
      command = "exec @PY@ testapp.py"
      directory = "@ROOT@/berthta"
      user = "berthta"

      [apps.b]
      domains = ["b.test"]
      command = "exec @PY@ testapp.py"
      directory = "@ROOT@/berthtb"
      user = "berthtb"
      """;

  @Test
  void appRunsAsItsUserWithItsHomeAndACleanEnvironment() throws Exception {
    berth = berth(APPS, Map.of());
    JsonNode who = JSON.readTree(Http.get(berth.port(), "a.test", "/whoami").body());
    assertThat(who.get("uid").asInt()).isEqualTo(a.uid());
    assertThat(who.get("euid").asInt()).isEqualTo(a.uid());
    assertThat(who.get("gid").asInt()).isEqualTo(a.gid());
    assertThat(who.at("/env/HOME").asText()).isEqualTo(a.home());
    assertThat(who.at("/env/USER").asText()).isEqualTo(A);
    List<String> keys = JSON.convertValue(who.get("env"), Map.class).keySet().stream().map(Object::toString).toList();
    assertThat(keys).allMatch(k -> List.of("PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "PORT", "HOST", "PWD", "LC_CTYPE").contains(k), "only the usual variables");
  }

  @Test
  void anAppThatNamesNoUserRunsAsTheNodesDefaultUserAndOneThatDoesAsItsOwn() throws Exception {
    berth = berth("""
        [apps.plain]
        domains = ["plain.test"]
        command = "exec @PY@ testapp.py"
        directory = "@ROOT@/berthta"

        [apps.b]
        domains = ["b.test"]
        command = "exec @PY@ testapp.py"
        directory = "@ROOT@/berthtb"
        user = "berthtb"
        """, Map.of("default_user", A));
    JsonNode plain = JSON.readTree(Http.get(berth.port(), "plain.test", "/whoami").body());
    assertThat(plain.get("uid").asInt()).isEqualTo(a.uid());
    assertThat(plain.at("/env/USER").asText()).isEqualTo(A);
    assertThat(JSON.readTree(Http.get(berth.port(), "b.test", "/whoami").body()).get("uid").asInt()).isEqualTo(b.uid());
  }

  @Test
  void aDefaultUserThatDoesNotExistIsNamedInTheStartFailure() throws Exception {
    berth = berth("""
        [apps.plain]
        domains = ["plain.test"]
        command = "exec @PY@ testapp.py"
        directory = "@ROOT@/berthta"
        """, Map.of("default_user", "berthtnone"));
    assertThat(Accounts.user("berthtnone")).isEmpty();
    HttpResponse<String> r = Http.get(berth.port(), "plain.test", "/");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).contains("user berthtnone (the default_user of the node config, as the app names none) does not exist");
  }

  @Test
  void appOfUserACannotReadBsFilesNorSignalBsProcesses() throws Exception {
    berth = berth(APPS, Map.of());
    int bPid = JSON.readTree(Http.get(berth.port(), "b.test", "/pids").body()).get("pid").asInt();
    JsonNode read = JSON.readTree(Http.get(berth.port(), "a.test", "/read?path=" + root.resolve(B).resolve("secret")).body());
    assertThat(read.get("ok").asBoolean()).isFalse();
    assertThat(read.get("error").asText()).isEqualTo("Permission denied");
    JsonNode signal = JSON.readTree(Http.get(berth.port(), "a.test", "/signal?pid=" + bPid).body());
    assertThat(signal.get("ok").asBoolean()).isFalse();
    assertThat(signal.get("error").asText()).isEqualTo("Operation not permitted");
    // and B can read its own
    assertThat(JSON.readTree(Http.get(berth.port(), "b.test", "/read?path=" + root.resolve(B).resolve("secret")).body()).get("ok").asBoolean()).isTrue();
  }

  @Test
  void aUserThatCannotEnterTheDirectoryIsToldSoAndRootIsRefused() throws Exception {
    berth = berth("""
        [apps.wrongdir]
        domains = ["wrongdir.test"]
        command = "exec @PY@ testapp.py"
        directory = "@ROOT@/berthtb"
        user = "berthta"

        [apps.asroot]
        domains = ["asroot.test"]
        command = "exec @PY@ testapp.py"
        directory = "@ROOT@/berthta"
        user = "root"
        """, Map.of());
    HttpResponse<String> wrong = Http.get(berth.port(), "wrongdir.test", "/");
    assertThat(wrong.statusCode()).isEqualTo(503);
    assertThat(wrong.body()).contains("user berthta cannot enter directory " + root.resolve(B));
    HttpResponse<String> asRoot = Http.get(berth.port(), "asroot.test", "/");
    assertThat(asRoot.statusCode()).isEqualTo(503);
    assertThat(asRoot.body()).contains("user root is root, which the node config does not allow");
  }

  @Test
  void appWritingToDevStderrByPathWorksAsItsOwnUser() throws Exception {
    berth = berth(APPS.replace("command = \"exec @PY@ testapp.py\"\ndirectory = \"@ROOT@/berthta\"",
        "command = \"echo reopened-stderr-works > /dev/stderr && exec @PY@ testapp.py\"\ndirectory = \"@ROOT@/berthta\""), Map.of());
    assertThat(Http.get(berth.port(), "a.test", "/echo").statusCode()).isEqualTo(200);
    assertThat(berth.log("a")).contains("reopened-stderr-works").doesNotContain("Permission denied");
  }

  @Test
  void createUsersMakesAMissingSystemUser() throws Exception {
    Path dir = root.resolve("c");
    TestApp.install(dir);
    berth = berth("""
        [apps.c]
        domains = ["c.test"]
        command = "exec @PY@ testapp.py"
        directory = "@ROOT@/c"
        user = "berthtc"
        """, Map.of("create_users", true));
    JsonNode who = JSON.readTree(Http.get(berth.port(), "c.test", "/whoami").body());
    Account c = Accounts.user(C).orElseThrow();
    assertThat(who.get("uid").asInt()).isEqualTo(c.uid()).isNotZero();
    assertThat(Files.isDirectory(Path.of(c.home()))).isTrue();
  }
}
