package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import berth.cgroup.CgroupSystem;
import berth.testing.BerthFixture;
import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.Procs;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every process of an instance in its cgroup: limits hold, daemons stay tracked, nothing survives Berth. */
class CgroupTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  BerthFixture berth;

  @BeforeAll
  static void needsCgroups() {
    StringBuilder why = new StringBuilder();
    var system = CgroupSystem.open("berth-probe-" + ProcessHandle.current().pid(), why);
    system.ifPresent(CgroupSystem::close);
    assumeThat(system).as("SKIPPED: cgroups are not usable here (%s); these tests need root and a cgroup hierarchy", why).isPresent();
  }

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  @Test
  void forkBombStaysInsideItsPidsLimit() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.bomb]
        domains = ["bomb.test"]
        command = "@APP@"
        directory = "app"
        pids_limit = 20
        """);
    JsonNode r = JSON.readTree(Http.get(berth.port(), "bomb.test", "/fork?n=500").body());
    assertThat(r.get("forked").asInt()).isPositive().isLessThan(20);
    // the rest of the machine can still fork, and the app still answers
    assertThat(new ProcessBuilder("true").start().waitFor()).isZero();
    assertThat(Http.get(berth.port(), "bomb.test", "/echo").statusCode()).isEqualTo(200);
  }

  @Test
  void memoryHogIsKilledAndReportedAsOutOfMemory() {
    berth = BerthFixture.start(dir, """
        [apps.hog]
        domains = ["hog.test"]
        command = "@APP@"
        directory = "app"
        env = { HOG_MB = "200" }
        memory_limit = "64M"
        """);
    HttpResponse<String> r = Http.get(berth.port(), "hog.test", "/");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).contains("killed: out of memory (memory_limit 64M)");
    assertThat(berth.log("hog")).contains("killed: out of memory (memory_limit 64M)");
  }

  @Test
  void doubleForkingServerIsTrackedAndFullyStopped() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.daemon]
        domains = ["daemon.test"]
        command = "@APP@"
        directory = "app"
        env = { DAEMONIZE = "1", GRANDCHILD = "1", IGNORE_TERM = "1" }
        idle_timeout = "1s"
        stop_timeout = "500ms"
        """);
    JsonNode pids = JSON.readTree(Http.get(berth.port(), "daemon.test", "/pids").body());
    long server = pids.get("pid").asLong();
    long grandchild = pids.get("grandchild").asLong();
    try {
      assertThat(berth.log("daemon")).contains("leader exited with status 0;").contains("the instance goes on");
      assertThat(Procs.alive(server)).isTrue();
      await().atMost(Duration.ofSeconds(15)).until(() -> !Procs.alive(server) && !Procs.alive(grandchild));
      assertThat(berth.log("daemon")).contains("stopping (idle for 1s)").contains("SIGKILL");
    } finally {
      Procs.kill(server);
      Procs.kill(grandchild);
    }
  }

  @Test
  void berthKilledWithSigkillLeavesNothingRunningOnceStartedAgain() throws Exception {
    String command = TestApp.install(dir.resolve("app"));
    Files.writeString(dir.resolve("apps.toml"), """
        [apps.one]
        domains = ["one.test"]
        command = "%s"
        directory = "app"
        env = { GRANDCHILD = "1", STARTS_FILE = "%s" }
        stop_timeout = "1s"
        """.formatted(command, dir.resolve("starts")));
    List<Long> pids = new ArrayList<>();
    try {
      try (BerthProcess first = BerthProcess.start(dir, dir.resolve("apps.toml"), List.of())) {
        JsonNode p = JSON.readTree(Http.get(first.port, "one.test", "/pids").body());
        pids.add(p.get("pid").asLong());
        pids.add(p.get("grandchild").asLong());
        first.process.destroyForcibly(); // SIGKILL: no chance to stop anything
        first.process.waitFor(10, TimeUnit.SECONDS);
      }
      assertThat(pids).allMatch(Procs::alive); // orphaned, still serving its port

      try (BerthProcess second = BerthProcess.start(dir, dir.resolve("apps.toml"), List.of())) {
        assertThat(pids).noneMatch(Procs::alive);
        assertThat(second.output()).contains("stopped 1 instance(s) left running by an earlier run of Berth");
        assertThat(Http.get(second.port, "one.test", "/echo").statusCode()).isEqualTo(200);
        assertThat(Files.readAllLines(dir.resolve("starts"))).hasSize(2);
        second.terminate();
        assertThat(second.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
      }
    } finally {
      pids.forEach(Procs::kill);
    }
  }
}
