package berth.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import berth.testing.Http;
import berth.testing.NotifySocket;
import berth.testing.TestPorts;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The package as an operator gets it: the .deb that {@code -Pdist package} built is installed by dpkg into a
 * throwaway root (its maintainer scripts run, outside a chroot, with {@code DPKG_ROOT} set), and the installed
 * tree is checked and run: its files, its unit ({@code systemd-analyze verify}), {@code berth doctor}, and {@code
 * berth serve} on its own runtime against the demo apps, under a real {@code NOTIFY_SOCKET}, reloaded with
 * SIGHUP and stopped with SIGTERM; then upgraded (data and config kept), removed and purged.
 *
 * <p>What this cannot show here: systemd itself starting the unit (no systemd runs in this sandbox), and the
 * maintainer scripts' systemctl calls, which they skip when installing into another root.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DistributionIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path PROJECT = Path.of("").toAbsolutePath();
  private Path deb;
  private Path tarball;
  private Path work;
  private Path root;
  /** Instances get the first 900 ports of the third test range, Berth listens above them. */
  private final String ports = TestPorts.first(2) + "-" + (TestPorts.first(2) + 899);
  private final int listen = TestPorts.first(2) + 990;
  private final int admin = TestPorts.first(2) + 991;
  private final String cgroup = "berth-dist-" + ProcessHandle.current().pid();

  record Run(int code, String out) {}

  static Run run(Map<String, String> env, List<String> cmd) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("BERTH_CONFIG");
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(cmd + " did not finish: " + out);
    }
    return new Run(p.exitValue(), out);
  }

  static Run run(String... cmd) throws IOException, InterruptedException {
    return run(Map.of(), List.of(cmd));
  }

  static Run ok(String... cmd) throws IOException, InterruptedException {
    Run r = run(cmd);
    assertThat(r.code).as("%s:\n%s", String.join(" ", cmd), r.out).isZero();
    return r;
  }

  private static Path only(String glob) throws IOException {
    try (Stream<Path> files = Files.list(PROJECT.resolve("target"))) {
      var matcher = PROJECT.getFileSystem().getPathMatcher("glob:" + glob);
      List<Path> found = files.filter(f -> matcher.matches(f.getFileName())).toList();
      assertThat(found).as("target/%s (built by ./mvnw -Pdist package)", glob).hasSize(1);
      return found.getFirst();
    }
  }

  /** A throwaway root as dpkg expects one: its database, and the /etc files useradd reads (root and adm only). */
  @BeforeAll
  void installIntoAThrowawayRoot() throws Exception {
    assumeThat(berth.users.Accounts.self().root()).as("SKIPPED: installing the package (dpkg --root, its maintainer scripts' useradd) needs root").isTrue();
    deb = only("berth_*_amd64.deb");
    tarball = only("berth-*-linux-x86_64.tar.gz");
    work = Files.createTempDirectory("berth-dist-");
    root = work.resolve("root");
    Files.createDirectories(root.resolve("var/lib/dpkg/info"));
    Files.createDirectories(root.resolve("var/lib/dpkg/updates"));
    Files.createDirectories(root.resolve("var/log"));
    Files.createDirectories(root.resolve("etc"));
    Files.writeString(root.resolve("var/lib/dpkg/status"), "");
    Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    Files.writeString(root.resolve("etc/group"), "root:x:0:\nadm:x:4:\n");
    Files.writeString(root.resolve("etc/shadow"), "root:*:19000:0:99999:7:::\n");
    Files.writeString(root.resolve("etc/gshadow"), "root:*::\nadm:*::\n");
    Run install = dpkg("-i", deb.toString());
    assertThat(install.code).as(install.out).isZero();
  }

  @AfterAll
  void removeTheRoot() throws Exception {
    if (work != null) run("rm", "-rf", work.toString());
  }

  /** dpkg on the throwaway root; its Depends (libc6, passwd...) are the host's, which that root's database does not list. */
  private Run dpkg(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends"));
    cmd.addAll(List.of(args));
    return run(Map.of(), cmd);
  }

  @Test
  @Order(1)
  void thePackageInstallsTheCommandTheUnitTheConfigAndTheBerthUser() throws Exception {
    String contents = ok("dpkg-deb", "--contents", deb.toString()).out;
    for (String path : List.of("./usr/bin/berth -> ../lib/berth/bin/berth", "./usr/lib/berth/berth.jar", "./usr/lib/berth/runtime/bin/java",
        "./usr/lib/berth/bin/berth", "./usr/lib/systemd/system/berth.service", "./etc/berth/berth.toml", "./etc/berth/apps.toml",
        "./usr/share/man/man1/berth.1.gz", "./usr/share/doc/berth/INSTALL.md", "./usr/share/doc/berth/OPERATIONS.md")) {
      assertThat(contents).contains(path);
    }
    assertThat(contents).as("no X11 or sound libraries in the runtime").doesNotContain("libawt_xawt.so").doesNotContain("libjsound.so");
    assertThat(ok("dpkg-deb", "--info", deb.toString(), "conffiles").out.lines().toList()).containsExactly("/etc/berth/berth.toml", "/etc/berth/apps.toml");
    assertThat(ok("dpkg-deb", "--field", deb.toString(), "Depends").out.strip()).contains("libc6 (>= 2.34)").contains("util-linux");
    assertThat(Files.readString(root.resolve("var/lib/dpkg/status"))).contains("Package: berth\nStatus: install ok installed");

    assertThat(Files.isExecutable(root.resolve("usr/bin/berth"))).isTrue();
    assertThat(root.resolve("usr/bin/berth").toRealPath()).isEqualTo(root.resolve("usr/lib/berth/bin/berth").toRealPath());
    assertThat(Files.readAllLines(root.resolve("etc/passwd")).stream().filter(l -> l.startsWith("berth:")).toList())
        .singleElement().asString().endsWith(":Berth apps:/var/lib/berth/home/berth:/usr/sbin/nologin");
    assertThat(mode(root.resolve("var/lib/berth"))).isEqualTo("root:root rwx--x--x");
    assertThat(mode(root.resolve("var/log/berth"))).isEqualTo("root:4 rwxr-x---");
    assertThat(ok("stat", "-c", "%A", root.resolve("var/log/berth").toString()).out.strip()).isEqualTo("drwxr-s---");
    assertThat(Files.readSymbolicLink(root.resolve("var/lib/berth/logs"))).isEqualTo(Path.of("../../log/berth"));
    String uid = Files.readAllLines(root.resolve("etc/passwd")).stream().filter(l -> l.startsWith("berth:")).findFirst().orElseThrow().split(":")[2];
    assertThat(mode(root.resolve("var/lib/berth/home/berth"))).startsWith(uid + ":");
    assertThat(Files.readString(root.resolve("etc/berth/berth.toml"))).contains("default_user = \"berth\"").contains("data = \"/var/lib/berth\"");
  }

  /** Owner:group (a name where the host knows the id, else the number) and permissions. */
  private static String mode(Path p) throws IOException {
    PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
    String group = a.group().getName().equals("adm") ? "4" : a.group().getName();
    return a.owner().getName() + ":" + group + " " + PosixFilePermissions.toString(a.permissions());
  }

  @Test
  @Order(2)
  void theTarballHasTheSameTree() throws Exception {
    String list = ok("tar", "tzf", tarball.toString()).out;
    String top = list.lines().findFirst().orElseThrow().split("/")[0];
    assertThat(top).startsWith("berth-");
    for (String f : List.of("bin/berth", "berth.jar", "runtime/bin/java", "etc/berth.toml", "etc/apps.toml", "systemd/berth.service", "man/berth.1",
        "doc/INSTALL.md")) {
      assertThat(list).contains(top + "/" + f + "\n");
    }
  }

  @Test
  @Order(3)
  void theUnitIsValidAndSaysWhatBerthNeeds() throws Exception {
    Path unit = root.resolve("usr/lib/systemd/system/berth.service");
    String text = Files.readString(unit);
    for (String line : List.of("Type=notify", "ExecStart=/usr/bin/berth serve --config /etc/berth/berth.toml", "ExecReload=/bin/kill -HUP $MAINPID",
        "KillMode=mixed", "Restart=on-failure", "Delegate=yes", "OOMPolicy=continue", "LimitNOFILE=65536", "WantedBy=multi-user.target")) {
      assertThat(text.lines()).contains(line);
    }
    assertThat(text).doesNotContain("ProtectControlGroups").doesNotContain("ProtectKernelTunables");
    boolean analyze = Files.isExecutable(Path.of("/usr/bin/systemd-analyze"));
    assumeThat(analyze).as("SKIPPED: systemd-analyze is not installed (apt-get install systemd), so the unit was not verified").isTrue();
    // systemd-analyze checks that ExecStart exists: the copy points it at the installed tree, the rest unchanged
    Path copy = work.resolve("unit/berth.service");
    Files.createDirectories(copy.getParent());
    Files.writeString(copy, text.replace("ExecStart=/usr/bin/berth", "ExecStart=" + root.resolve("usr/bin/berth")));
    Run verify = run("systemd-analyze", "verify", "--man=no", copy.toString());
    // it exits 0 even for an unknown key or a bad value, which it only prints: nothing printed is the pass
    assertThat(verify.out).as("systemd-analyze verify").isEmpty();
    assertThat(verify.code).isZero();
  }

  private Path nodeConfig(String extra, String... appsFiles) throws IOException {
    Path file = work.resolve("berth.toml");
    String apps = String.join(", ", Stream.of(appsFiles).map(f -> "\"" + f + "\"").toList());
    Files.writeString(file, """
        listen = "127.0.0.1:%d"
        tls_listen = "off"
        admin = "127.0.0.1:%d"
        data = "%s"
        ports = "%s"
        cgroup = "%s"
        apps = [%s]
        %s
        """.formatted(listen, admin, root.resolve("var/lib/berth"), ports, cgroup, apps, extra));
    return file;
  }

  private Run berth(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(root.resolve("usr/bin/berth").toString()));
    cmd.addAll(List.of(args));
    Map<String, String> all = new HashMap<>(env);
    all.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"); // no JDK on the PATH, none named by JAVA_HOME: it has its own runtime
    all.put("JAVA_HOME", "/nonexistent");
    return run(all, cmd);
  }

  @Test
  @Order(4)
  void doctorFromTheInstalledTreeSaysWhetherTheMachineIsReady() throws Exception {
    Path config = nodeConfig("", PROJECT.resolve("examples/apps.toml").toString());
    Run ready = berth(Map.of(), "doctor", "--config", config.toString());
    assertThat(ready.code).as(ready.out).isZero();
    for (String topic : List.of("config", "user", "cgroups", "ports", "data", "database", "open files", "clock")) {
      assertThat(ready.out).containsPattern("(?m)^(ok|warn|skip|FAIL) +" + topic + " ");
    }
    assertThat(ready.out).contains("apps files [" + PROJECT.resolve("examples/apps.toml") + "]: 3 apps, valid");

    try (ServerSocket held = new ServerSocket()) {
      held.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), listen));
      Run busy = berth(Map.of(), "doctor", "--config", config.toString());
      assertThat(busy.code).isEqualTo(1);
      assertThat(busy.out).contains("FAIL  ports       listen 127.0.0.1:" + listen + ": cannot bind")
          .contains("in use by java (pid " + ProcessHandle.current().pid() + ")").contains("not ready");
    }

    // the package's own config, through BERTH_CONFIG as the launcher sets it: valid, and it names the berth user,
    // which exists in the throwaway root but not on this machine (unless Berth was installed here for real)
    Run packaged = berth(Map.of("BERTH_CONFIG", root.resolve("etc/berth/berth.toml").toString()), "doctor", "--data",
        work.resolve("data").toString(), "--listen", "127.0.0.1:0", "--tls-listen", "off", "--admin", "127.0.0.1:0");
    assertThat(packaged.out).contains("node config " + root.resolve("etc/berth/berth.toml"))
        .contains(root.resolve("etc/berth/berth.toml") + " is valid; apps files [" + root.resolve("etc/berth/apps.toml") + "]: 0 apps, valid");
    if (Files.readAllLines(Path.of("/etc/passwd")).stream().noneMatch(l -> l.startsWith("berth:"))) {
      assertThat(packaged.out).contains("FAIL  user        default_user berth does not exist");
      assertThat(packaged.code).isEqualTo(1);
    }
  }

  @Test
  @Order(5)
  void serveFromTheInstalledTreeTellsSystemdWhenReadyReloadsAndStops() throws Exception {
    Path config = nodeConfig("", PROJECT.resolve("examples/apps.toml").toString());
    try (NotifySocket systemd = NotifySocket.bindIn(work)) {
      ProcessBuilder pb = new ProcessBuilder(root.resolve("usr/bin/berth").toString(), "serve", "--config", config.toString())
          .redirectErrorStream(true).redirectOutput(work.resolve("serve.out").toFile());
      pb.environment().remove("BERTH_CONFIG");
      pb.environment().put("NOTIFY_SOCKET", systemd.name());
      pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
      pb.environment().put("JAVA_HOME", "/nonexistent");
      Process serve = pb.start();
      try {
        String ready = systemd.until("READY=1", 60).getLast();
        assertThat(ready).contains("STATUS=serving 3 apps on port " + listen + "; admin port " + admin);
        // ready means serving: the first request right after it is answered
        var hello = Http.get(listen, "hello.localhost", "/");
        assertThat(hello.statusCode()).isEqualTo(200);
        int appPid = JSON.readTree(hello.body()).get("pid").asInt();
        var broken = Http.get(listen, "broken.localhost", "/");
        assertThat(broken.statusCode()).isEqualTo(503);
        assertThat(broken.body()).contains("configuration error: DATABASE_URL is not set");
        // it runs on the runtime the package ships, and the apps' logs land in /var/log/berth
        assertThat(Path.of("/proc/" + serve.pid() + "/exe").toRealPath()).isEqualTo(root.resolve("usr/lib/berth/runtime/bin/java").toRealPath());
        assertThat(root.resolve("var/log/berth/hello.log")).content().contains(Integer.toString(appPid));

        // reload: a node config that lists one more apps file
        Path more = work.resolve("more.toml");
        Files.writeString(more, """
            [apps.second]
            domains = ["second.localhost"]
            command = "exec python3 app.py"
            directory = "%s"
            """.formatted(PROJECT.resolve("examples/hello")));
        nodeConfig("drain_timeout = \"3s\"", PROJECT.resolve("examples/apps.toml").toString(), more.toString());
        ok("kill", "-HUP", Long.toString(serve.pid()));
        List<String> reload = systemd.until("READY=1", 30);
        assertThat(reload.getFirst()).startsWith("RELOADING=1\nMONOTONIC_USEC=");
        assertThat(reload.getLast()).as(Files.readString(work.resolve("serve.out"))).contains("STATUS=serving 4 apps");
        assertThat(Http.get(listen, "second.localhost", "/").statusCode()).isEqualTo(200);
        assertThat(Files.readString(work.resolve("serve.out"))).contains("reloaded: the apps files' 4 apps applied; changed but only a restart applies them: drain_timeout");

        // stop: STOPPING=1, the apps stopped, exit 0
        serve.destroy();
        assertThat(systemd.until("STOPPING=1", 30)).isNotEmpty();
        assertThat(serve.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(serve.exitValue()).as(Files.readString(work.resolve("serve.out"))).isZero();
        assertThat(Path.of("/proc/" + appPid)).doesNotExist();
      } finally {
        serve.destroyForcibly();
        serve.waitFor(30, TimeUnit.SECONDS);
      }
    }
    assertThat(root.resolve("var/lib/berth/berth.db")).exists();
    assertThat(root.resolve("var/lib/berth/admin.token")).exists();
  }

  @Test
  @Order(6)
  void anUpgradeKeepsTheStoreTheLogsAndTheOperatorsConfig() throws Exception {
    byte[] store = Files.readAllBytes(root.resolve("var/lib/berth/berth.db"));
    Path conf = root.resolve("etc/berth/berth.toml");
    Files.writeString(conf, Files.readString(conf) + "# edited by the operator\n");
    // the next version: the same package with a higher version number
    Path unpacked = work.resolve("next");
    ok("dpkg-deb", "--raw-extract", deb.toString(), unpacked.toString());
    Path control = unpacked.resolve("DEBIAN/control");
    String version = ok("dpkg-deb", "--field", deb.toString(), "Version").out.strip();
    Files.writeString(control, Files.readString(control).replace("Version: " + version, "Version: " + version + "+next1"));
    Path next = work.resolve("berth_next_amd64.deb");
    ok("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", unpacked.toString(), next.toString());

    Run upgrade = dpkg("-i", next.toString());
    assertThat(upgrade.code).as(upgrade.out).isZero();
    assertThat(upgrade.out).contains("Preparing to unpack").contains("over (" + version + ")");
    assertThat(Files.readString(root.resolve("var/lib/dpkg/status"))).contains("Version: " + version + "+next1");
    assertThat(Files.readString(conf)).endsWith("# edited by the operator\n");
    assertThat(Files.readAllBytes(root.resolve("var/lib/berth/berth.db"))).isEqualTo(store);
    assertThat(root.resolve("var/log/berth/hello.log")).exists();
    assertThat(Files.readAllLines(root.resolve("etc/passwd")).stream().filter(l -> l.startsWith("berth:"))).hasSize(1);
    // the upgraded Berth reads the store: 4 apps, as the last run left it
    Run doctor = berth(Map.of(), "doctor", "--config", nodeConfig("").toString());
    assertThat(doctor.out).contains("SQLite " + root.resolve("var/lib/berth/berth.db") + ": 4 apps stored, integrity ok");
  }

  @Test
  @Order(7)
  void removeKeepsConfigAndStatePurgeKeepsOnlyTheStore() throws Exception {
    Run remove = dpkg("--remove", "berth");
    assertThat(remove.code).as(remove.out).isZero();
    assertThat(root.resolve("usr/lib/berth/berth.jar")).doesNotExist();
    assertThat(root.resolve("usr/bin/berth")).doesNotExist();
    assertThat(root.resolve("etc/berth/berth.toml")).exists();
    assertThat(root.resolve("var/log/berth/hello.log")).exists();

    Run purge = dpkg("--purge", "berth");
    assertThat(purge.code).as(purge.out).isZero();
    assertThat(purge.out).contains("kept /var/lib/berth");
    assertThat(root.resolve("etc/berth")).doesNotExist();
    assertThat(root.resolve("var/log/berth")).doesNotExist();
    assertThat(root.resolve("var/lib/berth/logs")).doesNotExist();
    assertThat(root.resolve("var/lib/berth/berth.db")).exists();
  }
}
