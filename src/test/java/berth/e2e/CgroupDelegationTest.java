package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import berth.cgroup.CgroupSystem;
import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.ProcCgroups;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Berth in a cgroup v2 of its own, as systemd's {@code Delegate=yes} gives it: it moves itself into the leaf
 * {@code supervisor} and puts its instances beside it, so that the delegated cgroup has no process of its own and
 * can pass controllers down. The test makes a real cgroup on this machine's v2 hierarchy, starts a real Berth
 * process in it, and reads where the kernel says each process is.
 */
class CgroupDelegationTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  Path service;
  BerthProcess berth;

  @BeforeEach
  void makeServiceCgroup() throws IOException {
    ProcCgroups.assumeUsable();
    Path v2 = ProcCgroups.of(ProcessHandle.current().pid()).get("");
    assumeThat(v2).as("SKIPPED: no cgroup v2 hierarchy here").isNotNull();
    service = v2.resolve("berth-test-" + ProcessHandle.current().pid() + "-service");
    Files.createDirectories(service);
  }

  @AfterEach
  void removeServiceCgroup() throws Exception {
    if (berth != null) berth.close();
    if (service == null) return;
    // what Berth leaves: its leaf (empty once it exited) and nothing else
    try (var dirs = Files.list(service)) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) Files.deleteIfExists(d);
    }
    Files.deleteIfExists(service);
  }

  private BerthProcess startIn(Path cgroup) throws IOException {
    String command = TestApp.install(dir.resolve("app"));
    Path apps = dir.resolve("apps.toml");
    Files.writeString(apps, """
        [apps.web]
        domains = ["web.test"]
        command = "%s"
        directory = "app"
        """.formatted(command));
    // the shell joins the cgroup, then becomes Berth: what systemd does for ExecStart
    return BerthProcess.start(List.of("sh", "-c", "echo $$ > " + cgroup.resolve("cgroup.procs") + " && exec \"$@\"", "sh"), dir, apps, List.of());
  }

  private String cgroupName() {
    return "berth-test-" + ProcessHandle.current().pid() + "-sub";
  }

  @Test
  void berthAloneInItsCgroupMovesIntoALeafAndItsInstancesGoBesideIt() throws Exception {
    berth = startIn(service);
    long berthPid = berth.process.pid();
    assertThat(ProcCgroups.of(berthPid).get("")).isEqualTo(service.resolve(CgroupSystem.LEAF));
    assertThat(berth.output()).contains("moved Berth into " + service.resolve(CgroupSystem.LEAF));

    int appPid = JSON.readTree(Http.get(berth.port, "web.test", "/pids").body()).get("pid").asInt();
    assertThat(ProcCgroups.of(appPid).get("").getParent()).isEqualTo(service.resolve(cgroupName()));
    // the service's cgroup itself holds no process: it may now enable controllers for its children
    assertThat(Files.readString(service.resolve("cgroup.procs")).strip()).isEmpty();

    berth.terminate();
    assertThat(berth.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(berth.process.exitValue()).isZero();
    assertThat(service.resolve(cgroupName())).doesNotExist();
  }

  @Test
  void berthAlreadyInALeafNamedSupervisorStaysAndUsesItsParent() throws Exception {
    // systemd 254+ with DelegateSubgroup=supervisor starts the service there itself
    Path leaf = Files.createDirectories(service.resolve(CgroupSystem.LEAF));
    berth = startIn(leaf);
    assertThat(ProcCgroups.of(berth.process.pid()).get("")).isEqualTo(leaf);
    assertThat(berth.output()).doesNotContain("moved Berth into");
    int appPid = JSON.readTree(Http.get(berth.port, "web.test", "/pids").body()).get("pid").asInt();
    assertThat(ProcCgroups.of(appPid).get("").getParent()).isEqualTo(service.resolve(cgroupName()));
  }
}
