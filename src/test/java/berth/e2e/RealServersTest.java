package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import berth.cgroup.CgroupSystem;
import berth.testing.BerthFixture;
import berth.testing.TestPorts;
import berth.testing.Http;
import berth.testing.Procs;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real servers from Debian packages hosted by Berth, each serving the same WSGI app ({@code servers/app.py}):
 * gunicorn (master + 2 workers), uWSGI (master + 2 workers) and Apache httpd + mod_wsgi behind a shell wrapper
 * that relays signals. For each: the first request starts it and gets the app's answer; when idle it is stopped
 * with its stop signal (no SIGKILL needed) and nothing of it is left, not a worker, not its cgroup; the next
 * request starts it again.
 *
 * <p>Needs root, cgroups and the packages {@code gunicorn uwsgi uwsgi-plugin-python3 apache2
 * libapache2-mod-wsgi-py3}; each test skips when what it needs is missing.
 */
class RealServersTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(20);
  @TempDir Path dir;
  BerthFixture berth;
  /**
   * Every process seen in any instance, SIGKILLed after the test in case an assertion failed with them alive
   * (handles, not pids: a handle kills nothing once its pid is reused).
   */
  final List<ProcessHandle> seen = new ArrayList<>();

  @BeforeAll
  static void needsRootAndCgroups() throws IOException {
    assumeThat(Files.readString(Path.of("/proc/self/status"))).as("SKIPPED: not running as root; hosting real servers under Berth needs root")
        .containsPattern("(?m)^Uid:\\s+0\\s");
    StringBuilder why = new StringBuilder();
    var system = CgroupSystem.open("berth-probe-" + ProcessHandle.current().pid(), why);
    system.ifPresent(CgroupSystem::close);
    assumeThat(system).as("SKIPPED: cgroups are not usable here (%s)", why).isPresent();
  }

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
    seen.forEach(ProcessHandle::destroyForcibly);
  }

  @Test
  void gunicornWithTwoWorkers() throws Exception {
    needs("gunicorn", "/usr/bin/gunicorn");
    // gunicorn's master may hang at stop (once in about 30 stops here): two workers' SIGCHLDs nest and
    // its handler logs inside a log write, "RuntimeError: reentrant call inside <_io.BufferedWriter
    // name='<stderr>'>" (benoitc/gunicorn#2816, #2564), so it sometimes needs stop_timeout's SIGKILL
    hostAndStop("gunicorn", """
        command = "exec gunicorn --bind $HOST:$PORT --workers 2 app:application"
        """, 3, "gunicorn/", false, (id, log) -> {});
  }

  @Test
  void uwsgiWithMasterAndTwoWorkers() throws Exception {
    needs("uwsgi", "/usr/bin/uwsgi");
    needs("uwsgi-plugin-python3", "/usr/lib/uwsgi/plugins/python3_plugin.so");
    // SIGTERM makes uWSGI 2.0 reload, not exit; SIGQUIT (like SIGINT) kills its workers and exits. It accepts
    // connections a little before it can answer them, hence ready_path.
    hostAndStop("uwsgi", """
        command = "exec uwsgi --http-socket $HOST:$PORT --master --processes 2 --plugin python3 --wsgi-file app.py --need-app"
        stop_signal = "QUIT"
        ready_path = "/"
        """, 3, "", true, (id, log) -> {});
  }

  @Test
  void apacheWithModWsgiBehindAWrapperScript() throws Exception {
    needs("apache2", "/usr/sbin/apache2");
    needs("libapache2-mod-wsgi-py3", "/usr/lib/apache2/modules/mod_wsgi.so");
    // sh wrapper + apache2 parent + 2 event MPM children + 2 mod_wsgi daemon processes
    hostAndStop("apache", """
        command = "exec ./apache-wsgi.sh app.py"
        """, 6, "Apache/", true, (id, log) -> {
          // the wrapper outlived apache2 and cleaned up after it
          Matcher config = Pattern.compile("apache-wsgi.sh: config in (\\S+)").matcher(log);
          assertThat(config.find()).as("the wrapper's config line in:%n%s", log).isTrue();
          assertThat(Path.of(config.group(1))).as("the wrapper's temp dir").doesNotExist();
          assertThat(log).contains("apache-wsgi.sh: apache2 exited with status 0");
        });
  }

  /** More checks once instance {@code id} has stopped, given the lines of its log. */
  interface AfterStop {
    void check(int id, String log) throws Exception;
  }

  private static void needs(String pkg, String file) {
    assumeThat(Files.exists(Path.of(file))).as("SKIPPED: %s is not installed (no %s): apt-get install %s", pkg, file, pkg).isTrue();
  }

  /**
   * Hosts {@code app} with {@code keys}, checks two start/idle-stop cycles, each with at least {@code processes}
   * processes running, answering with a Server software starting with {@code server}, and stopped by its stop
   * signal alone (no SIGKILL) if {@code signalStops}.
   */
  private void hostAndStop(String app, String keys, int processes, String server, boolean signalStops, AfterStop afterStop)
      throws Exception {
    Path servers = dir.resolve("servers");
    Files.createDirectories(servers);
    for (String f : List.of("app.py", "apache-wsgi.sh")) {
      try (InputStream in = RealServersTest.class.getResourceAsStream("/servers/" + f)) {
        Files.copy(in, servers.resolve(f));
      }
    }
    servers.resolve("apache-wsgi.sh").toFile().setExecutable(true);
    berth = BerthFixture.start(dir, """
        [apps.%s]
        domains = ["%s.test"]
        directory = "servers"
        idle_timeout = "2s"
        stop_timeout = "5s"
        start_timeout = "20s"
        %s""".formatted(app, app, keys),
        // not the fixture's range: other Berth tests may run at the same time in this JVM's machine, and an app
        // of theirs on "our" port makes Berth refuse to route (rightly)
        Map.of("ports", TestPorts.range(2)));

    Set<Long> first = cycle(app, 1, processes, server, signalStops, afterStop);
    Set<Long> second = cycle(app, 2, processes, server, signalStops, afterStop);
    assertThat(second).doesNotContainAnyElementsOf(first);
  }

  /** Instance {@code id}: started by a request, answers, is stopped when idle, leaves nothing. Returns its pids. */
  private Set<Long> cycle(String app, int id, int processes, String server, boolean signalStops, AfterStop afterStop)
      throws Exception {
    HttpResponse<String> r = Http.get(berth.port(), app + ".test", "/");
    assertThat(r.statusCode()).as("first answer of %s i%d; log:%n%s", app, id, berth.log(app)).isEqualTo(200);
    JsonNode body = JSON.readTree(r.body());
    assertThat(body.get("hello").asText()).isEqualTo("world");
    assertThat(body.get("server").asText()).startsWith(server);

    Pattern readyLine = Pattern.compile(" i" + id + " .*ready: answered on port \\d+ after (\\d+)ms \\(pid (\\d+)\\)");
    // the first request may be answered (it goes out as soon as the port is the instance's) a moment before the
    // "ready" line is in the log
    await().atMost(WAIT).until(() -> readyLine.matcher(berth.log(app)).find());
    Matcher ready = readyLine.matcher(berth.log(app));
    assertThat(ready.find()).as("ready line of i%d in the log:%n%s", id, berth.log(app)).isTrue();
    long leader = Long.parseLong(ready.group(2));
    Path cgroup = cgroupOf(leader);
    assertThat(cgroup.toString()).matches(".*/berth-test-" + ProcessHandle.current().pid() + "-\\d+/" + app + "\\.i" + id);

    // every process of the instance: its cgroup (workers may still be starting) and, to be sure, the leader's descendants
    await().atMost(WAIT).until(() -> procs(cgroup).size() >= processes);
    Set<Long> pids = procs(cgroup);
    ProcessHandle.of(leader).ifPresent(h -> h.descendants().forEach(d -> pids.add(d.pid())));
    pids.forEach(p -> ProcessHandle.of(p).ifPresent(seen::add));
    assertThat(pids).as("processes of %s i%d", app, id).contains(leader, body.get("pid").asLong()).hasSizeGreaterThanOrEqualTo(processes)
        .allMatch(Procs::alive);
    assertThat(body.get("pid").asLong()).as("the app answers from a worker, not the leader").isNotEqualTo(leader);

    Pattern stopped = Pattern.compile(" i" + id + " .*stopped after \\d+ms");
    await().atMost(WAIT).until(() -> stopped.matcher(berth.log(app)).find());
    String log = berth.log(app);
    assertThat(log).as("log of %s", app).containsPattern(" i" + id + " .*stopping \\(idle for 2s\\)");
    assertThat(log).as("log of %s", app).doesNotContain("survived");
    if (signalStops) assertThat(log).as("the stop signal alone stops %s; log:%n%s", app, log).doesNotContain("SIGKILL");
    assertThat(pids).as("processes of %s i%d left after its idle stop", app, id).noneMatch(Procs::alive);
    assertThat(cgroup).as("cgroup of %s i%d after its idle stop", app, id).doesNotExist();
    afterStop.check(id, log.lines().filter(l -> l.contains(" i" + id + " ")).collect(java.util.stream.Collectors.joining("\n")));
    return pids;
  }

  /** The pids in a cgroup directory, none if it is gone. */
  private static Set<Long> procs(Path cgroup) throws IOException {
    Set<Long> out = new TreeSet<>();
    try {
      for (String line : Files.readAllLines(cgroup.resolve("cgroup.procs"))) {
        if (!line.isBlank()) out.add(Long.parseLong(line.strip()));
      }
    } catch (java.nio.file.NoSuchFileException e) {
      // gone
    }
    return out;
  }

  /**
   * The directory of the tracking cgroup of {@code pid}, as the kernel says in {@code /proc/PID/cgroup}: its v2
   * cgroup when a cgroup2 hierarchy is mounted (hybrid or pure v2), else its v1 pids one.
   */
  private static Path cgroupOf(long pid) throws IOException {
    List<String> mounts = Files.readAllLines(Path.of("/proc/self/mountinfo"));
    List<String> lines = Files.readAllLines(Path.of("/proc/" + pid + "/cgroup"));
    String v2 = mount(mounts, "cgroup2", null);
    for (String line : lines) {
      String[] f = line.split(":", 3);
      if (v2 != null && f[0].equals("0") && f[1].isEmpty()) return Path.of(v2 + f[2]);
      if (v2 == null && List.of(f[1].split(",")).contains("pids")) return Path.of(mount(mounts, "cgroup", "pids") + f[2]);
    }
    throw new IllegalStateException("no tracking cgroup for pid " + pid + " in " + lines);
  }

  /** Mount point of a cgroup filesystem of {@code type} (with {@code option} among its super options, if given). */
  private static String mount(List<String> mountinfo, String type, String option) {
    for (String line : mountinfo) {
      String[] halves = line.split(" - ", 2);
      String[] after = halves[1].split(" ");
      if (after[0].equals(type) && (option == null || List.of(after[2].split(",")).contains(option))) return halves[0].split(" ")[4];
    }
    return null;
  }
}
