package berth.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import berth.apps.App;
import berth.apps.Launch;
import berth.apps.StopSignal;
import berth.cgroup.CgroupSystem;
import berth.config.PortRange;
import berth.logs.AppLog;
import berth.testing.Procs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One instance's process, as the kernel sees it. */
class SupervisorTest {
  @TempDir Path dir;
  private static final StringBuilder NO_CGROUPS = new StringBuilder();
  private static final Optional<CgroupSystem> CGROUPS = CgroupSystem.open("berth-test-" + ProcessHandle.current().pid(), NO_CGROUPS);
  private final Supervisor supervisor = new Supervisor(new Ports(new PortRange(23000, 23999)), CGROUPS, NO_CGROUPS.toString(),
      new Supervisor.Policy(false, false, Path.of("/tmp")));

  private App app(String command) {
    return new App("t", List.of("t.test"), new Launch(command, dir, Map.of("TEST_VAR", "x")), Duration.ofMinutes(5),
        Duration.ofSeconds(30), Duration.ofSeconds(2), StopSignal.TERM, 10, 0, 0, App.DEFAULT_CPU_WEIGHT, 0, 0, Duration.ZERO, null, null, null, null, 0, 0, 1, 10, 1);
  }

  private static String status(long pid, String field) throws Exception {
    return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
        .filter(l -> l.startsWith(field + ":")).findFirst().orElseThrow().split("\\s+")[1];
  }

  @Test
  void instanceRunsInItsOwnSessionWithNoSignalBlockedOrIgnored() throws Exception {
    AppLog log = new AppLog(dir.resolve("t.log"));
    Instance i = supervisor.start(app("exec sleep 30"), 1, log);
    await().atMost(Duration.ofSeconds(5)).until(() -> i.pid() > 0 && Procs.alive(i.pid()));
    int pid = i.pid();
    try {
      // the JVM blocks SIGQUIT in its threads; a child started by ProcessBuilder would show SigBlk 4
      await().atMost(Duration.ofSeconds(5)).until(() -> Files.readString(Path.of("/proc/" + pid + "/cmdline")).startsWith("sleep"));
      assertThat(status(pid, "SigBlk")).isEqualTo("0000000000000000");
      assertThat(status(pid, "SigIgn")).isEqualTo("0000000000000000");
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      assertThat(Integer.parseInt(f[3])).as("session id").isEqualTo(pid);
      assertThat(Integer.parseInt(f[2])).as("process group").isEqualTo(pid);
    } finally {
      supervisor.stop(i, "test over").get(10, TimeUnit.SECONDS);
    }
    assertThat(Procs.alive(pid)).isFalse();
  }

  @Test
  void instanceGetsACleanEnvironmentAndNoneOfBerthsFileDescriptors() throws Exception {
    AppLog log = new AppLog(dir.resolve("t.log"));
    Instance i = supervisor.start(app("echo fds: $(ls /proc/$$/fd | tr '\\n' ' '); env | sort; exit 0"), 1, log);
    i.gone().get(10, TimeUnit.SECONDS);
    String out = String.join("\n", log.tail(100));
    assertThat(out).contains("fds: 0 1 2 \n".strip()).contains("TEST_VAR=x").contains("PORT=" + i.port()).contains("HOST=127.0.0.1");
    assertThat(out).doesNotContain("JAVA_HOME=").doesNotContain("MAVEN");
  }

  @Test
  void stoppingWhileItStartsLeavesNoProcess() throws Exception {
    for (int k = 0; k < 10; k++) {
      Instance i = supervisor.start(app("exec sleep 30"), k, new AppLog(dir.resolve("t.log")));
      if (k % 2 == 1) Thread.sleep(k);
      supervisor.stop(i, "test").get(10, TimeUnit.SECONDS);
      assertThat(i.state()).isInstanceOf(Instance.Gone.class);
      if (i.pid() > 0) assertThat(Procs.alive(i.pid())).as("pid %d", i.pid()).isFalse();
      assertThat(i.ready()).isCompletedExceptionally();
    }
    assertThat(supervisor.ports().inUse()).isZero();
  }

  @Test
  void whenTheLeaderExitsTheRestOfItsTreeIsStoppedToo() throws Exception {
    AppLog log = new AppLog(dir.resolve("t.log"));
    Path pidFile = dir.resolve("child.pid");
    Instance i = supervisor.start(app("sh -c 'trap \"\" TERM; sleep 60' & echo $! > " + pidFile + "; sleep 0.3; exit 5"), 1, log);
    Exit exit = i.gone().get(15, TimeUnit.SECONDS);
    assertThat(exit).isEqualTo(new Exit(5, 0));
    long child = Long.parseLong(Files.readString(pidFile).strip());
    assertThat(Procs.alive(child)).isFalse();
    assertThat(i.ready()).isCompletedExceptionally();
    assertThat(String.join("\n", log.tail(50))).contains("exited with status 5 before answering on port " + i.port());
  }
}
