package berth.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import berth.cli.BerthCommand;
import berth.testing.BerthFixture;
import berth.testing.TestPostgres;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code berth doctor} on this machine: each check is put in a state it must report (a port really held, a data
 * path that is a file, a database that does not answer, a damaged store) and must say so, naming the thing and
 * the fix; the exit code follows.
 */
class DoctorTest {
  @TempDir Path dir;

  private ObjectNode flags(int listen) {
    ObjectNode f = JsonNodeFactory.instance.objectNode();
    f.put("listen", "127.0.0.1:" + listen);
    f.put("tls_listen", "off");
    f.put("admin", "127.0.0.1:0");
    f.put("data", dir.resolve("data").toString());
    return f;
  }

  private static Check only(List<Check> checks, String topic) {
    List<Check> found = checks.stream().filter(c -> c.topic().equals(topic)).toList();
    assertThat(found).as("checks about %s in %s", topic, checks).hasSize(1);
    return found.getFirst();
  }

  private static Check port(List<Check> checks, String key) {
    return checks.stream().filter(c -> c.topic().equals("ports") && c.finding().startsWith(key + " ")).findFirst().orElseThrow();
  }

  @Test
  void aPortHeldByAnotherProcessIsAProblemNamingItsHolder() throws Exception {
    try (ServerSocket held = new ServerSocket()) {
      held.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      Check c = port(Doctor.examine(null, flags(held.getLocalPort())), "listen");
      assertThat(c.status()).isEqualTo(Check.Status.FAIL);
      assertThat(c.finding()).contains("listen 127.0.0.1:" + held.getLocalPort()).contains("in use by java (pid " + ProcessHandle.current().pid() + ")");
      assertThat(c.fix()).contains("choose another port for listen");
    }
  }

  @Test
  void aPortHeldByTheBerthOfThisConfigIsFineAndSaidToBeBerth() {
    try (var running = berth.testing.BerthFixture.start(dir.resolve("running"), berth.testing.BerthFixture.app("web", ""))) {
      ObjectNode f = flags(running.port());
      f.put("admin", "127.0.0.1:" + running.berth.adminPort());
      List<Check> checks = Doctor.examine(null, f);
      long pid = ProcessHandle.current().pid();
      assertThat(port(checks, "listen").status()).as(checks.toString()).isEqualTo(Check.Status.OK);
      assertThat(port(checks, "listen").finding()).contains("in use by Berth itself (pid " + pid + ")");
      assertThat(port(checks, "admin").finding()).contains("in use by Berth itself (pid " + pid + ")");
    }
  }

  @Test
  void aFreePortIsFine() throws Exception {
    int free;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      free = s.getLocalPort();
    }
    assertThat(port(Doctor.examine(null, flags(free)), "listen").status()).isEqualTo(Check.Status.OK);
  }

  @Test
  void instancePortsThatIncludeAListenerOrTheEphemeralRangeAreSaid() {
    ObjectNode f = flags(25000);
    f.put("ports", "24000-26000");
    assertThat(Doctor.examine(null, f).stream().filter(c -> c.finding().contains("include listen's port 25000")).toList()).hasSize(1);
    String[] ephemeral = read("/proc/sys/net/ipv4/ip_local_port_range").strip().split("\\s+");
    f = flags(0);
    f.put("ports", ephemeral[0] + "-" + ephemeral[0]);
    Check c = Doctor.examine(null, f).stream().filter(x -> x.finding().startsWith("ports " + ephemeral[0])).findFirst().orElseThrow();
    assertThat(c.status()).isEqualTo(Check.Status.WARN);
    assertThat(c.finding()).contains("overlap the kernel's ephemeral ports");
  }

  @Test
  void aDataPathThatIsAFileIsAProblem() throws Exception {
    Files.writeString(dir.resolve("data"), "not a directory");
    Check c = only(Doctor.examine(null, flags(0)), "data");
    assertThat(c.status()).isEqualTo(Check.Status.FAIL);
    assertThat(c.finding()).isEqualTo(dir.resolve("data") + " is not a directory");
  }

  @Test
  void aWorldWritableDataDirectoryIsAWarning() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.setPosixFilePermissions(data, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    Check c = only(Doctor.examine(null, flags(0)), "data");
    assertThat(c.status()).isEqualTo(Check.Status.WARN);
    assertThat(c.fix()).isEqualTo("chmod o-w " + data);
  }

  @Test
  void theStoreOfARealBerthIsReadAndADamagedOneIsAProblem() throws Exception {
    Path berthDir = Files.createDirectories(dir.resolve("b"));
    try (BerthFixture b = BerthFixture.start(berthDir, """
        [apps.one]
        domains = ["one.test"]
        command = "@APP@"
        directory = "app"
        """)) {
      ObjectNode f = flags(0);
      f.put("data", berthDir.resolve("data").toString());
      Check c = only(Doctor.examine(null, f), "database");
      assertThat(c.status()).isEqualTo(Check.Status.OK);
      assertThat(c.finding()).isEqualTo("SQLite " + berthDir.resolve("data/berth.db") + ": 1 apps stored, integrity ok");
    }
    Path data = Files.createDirectories(dir.resolve("data"));
    byte[] junk = new byte[8192];
    new java.util.Random(7).nextBytes(junk);
    System.arraycopy("SQLite format 3\0".getBytes(), 0, junk, 0, 16);
    Files.write(data.resolve("berth.db"), junk);
    Check c = only(Doctor.examine(null, flags(0)), "database");
    assertThat(c.status()).isEqualTo(Check.Status.FAIL);
    assertThat(c.finding()).isEqualTo("cannot read SQLite " + data.resolve("berth.db")
        + ": [SQLITE_NOTADB] File opened that is not a database file (file is not a database)");
  }

  @Test
  void aDatabaseThatDoesNotAnswerIsAProblemAndThePasswordIsNotShown() {
    ObjectNode f = flags(0);
    f.put("database", "jdbc:postgresql://127.0.0.1:1/berth?user=berth&password=s3cret");
    Check c = only(Doctor.examine(null, f), "database");
    assertThat(c.status()).isEqualTo(Check.Status.FAIL);
    assertThat(c.finding()).startsWith("cannot reach jdbc:postgresql://127.0.0.1:1/berth?user=berth&password=***: ").contains("refused")
        .doesNotContain("s3cret");
  }

  @Test
  void aPostgresqlThatAnswersIsFine() throws Exception {
    String url = TestPostgres.newDatabase();
    try {
      ObjectNode f = flags(0);
      f.put("database", url);
      Check c = only(Doctor.examine(null, f), "database");
      assertThat(c.status()).isEqualTo(Check.Status.OK);
      assertThat(c.finding()).startsWith("PostgreSQL ").endsWith(": no Berth tables yet (created at start)");
    } finally {
      TestPostgres.drop(url);
    }
  }

  @Test
  void moreConnectionsThanFileDescriptorsIsAWarning() {
    ObjectNode f = flags(0);
    f.putObject("router").put("max_connections", 10_000_000);
    Check c = only(Doctor.examine(null, f), "open files");
    assertThat(c.status()).isEqualTo(Check.Status.WARN);
    assertThat(c.finding()).startsWith("max_connections 10000000 needs about 20001024 file descriptors");
  }

  @Test
  void anInvalidNodeConfigIsTheOnlyFinding() throws Exception {
    Path file = dir.resolve("berth.toml");
    Files.writeString(file, "drain_timeout = \"soon\"\n");
    List<Check> checks = Doctor.examine(file, JsonNodeFactory.instance.objectNode());
    assertThat(checks).hasSize(1);
    assertThat(checks.getFirst().status()).isEqualTo(Check.Status.FAIL);
    assertThat(checks.getFirst().finding()).contains("drain_timeout: \"soon\" is not a duration");
  }

  @Test
  void theExitCodeSaysWhetherTheMachineIsReady() throws Exception {
    try (ServerSocket held = new ServerSocket()) {
      held.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      Run busy = doctor("--listen", "127.0.0.1:" + held.getLocalPort());
      assertThat(busy.code).isEqualTo(1);
      assertThat(busy.out).contains("FAIL  ports       listen 127.0.0.1:" + held.getLocalPort()).contains("not ready");
    }
    Run ready = doctor("--listen", "127.0.0.1:0");
    assertThat(ready.code).as(ready.out).isZero();
    assertThat(ready.out).contains("0 problems").contains("this machine is ready for Berth.");
    Run strict = doctor("--listen", "127.0.0.1:0", "--strict");
    assertThat(strict.code).isEqualTo(ready.out.contains(" 0 warnings") ? 0 : 1);
  }

  private record Run(int code, String out) {}

  private Run doctor(String... args) {
    CommandLine cl = BerthCommand.commandLine();
    StringWriter out = new StringWriter();
    cl.setOut(new PrintWriter(out));
    List<String> all = new java.util.ArrayList<>(List.of("doctor", "--tls-listen", "off", "--admin", "127.0.0.1:0", "--data", dir.resolve("data").toString()));
    all.addAll(List.of(args));
    int code = cl.execute(all.toArray(String[]::new));
    return new Run(code, out.toString());
  }

  private static String read(String file) {
    try {
      return String.join("\n", Files.readAllLines(Path.of(file)));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
