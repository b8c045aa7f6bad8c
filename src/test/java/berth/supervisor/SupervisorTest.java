package berth.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import berth.apps.App;
import berth.apps.Launch;
import berth.apps.StopSignal;
import berth.cgroup.CgroupSystem;
import berth.config.PortRange;
import berth.logs.AppLog;
import berth.testing.Procs;
import berth.testing.TestApp;
import berth.testing.TestPorts;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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

  @Test
  void aPortAnotherProcessHoldsIsTradedForAFreeOneBeforeTheSpawn() throws Exception {
    int from = TestPorts.first(1) + 910;
    Supervisor small = new Supervisor(new Ports(new PortRange(from, from + 1)), CGROUPS, NO_CGROUPS.toString(),
        new Supervisor.Policy(false, false, Path.of("/tmp")));
    AppLog log = new AppLog(dir.resolve("t.log"));
    try (ServerSocket other = new ServerSocket()) {
      other.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), from));
      Instance i = small.start(app("echo port=$PORT; exec sleep 30"), 1, log);
      try {
        await().atMost(Duration.ofSeconds(5)).until(() -> String.join("\n", log.tail(20)).contains("port=" + (from + 1)));
        assertThat(i.port()).isEqualTo(from + 1);
        assertThat(i.address().getPort()).isEqualTo(from + 1);
        assertThat(small.ports().inUse()).isEqualTo(1);
      } finally {
        small.stop(i, "test over").get(10, TimeUnit.SECONDS);
      }
      assertThat(small.ports().inUse()).isZero();
      // every port no instance has is held by another process: the start fails and says so
      try (ServerSocket another = new ServerSocket()) {
        another.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), from + 1));
        Instance j = small.start(app("exec sleep 30"), 2, log);
        j.gone().get(10, TimeUnit.SECONDS);
        assertThat(j.ready()).isCompletedExceptionally();
        assertThat(j.pid()).isZero();
        assertThat(String.join("\n", log.tail(20))).contains("no free port in the range Berth may use: other processes hold");
        assertThat(small.ports().inUse()).isZero();
      }
    }
  }

  @Test
  void theSocketAnInstanceListensOnIsKnownByTheCgroupItWasCreatedIn() throws Exception {
    assumeTrue(CGROUPS.isPresent() && Listeners.NETLINK && ListenersTest.netAdmin(), "needs cgroups, sock_diag and CAP_NET_ADMIN");
    Instance i = supervisor.start(app(TestApp.install(dir)), 1, new AppLog(dir.resolve("t.log")));
    try {
      i.ready().get(15, TimeUnit.SECONDS);
      long id = ((Tree.OfCgroup) i.tree).cgroup().id();
      assumeTrue(id > 0, "instances are tracked with cgroup v1 here");
      // so Berth knows the socket is the instance's own without searching its processes' descriptors
      assertThat(SockDiag.listener(i.port()).cgroup()).isEqualTo(id);
    } finally {
      supervisor.stop(i, "test over").get(10, TimeUnit.SECONDS);
    }
  }
}
