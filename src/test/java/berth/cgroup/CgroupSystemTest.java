package berth.cgroup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One cgroup's life, on the v2 tracking path (cgroup.kill, inotify on cgroup.events) and on the v1-only path
 * (kill loop, polling), both on this machine's real hierarchies.
 */
class CgroupSystemTest {
  @ParameterizedTest(name = "v2 tracking: {0}")
  @ValueSource(booleans = {true, false})
  void everyProcessOfATreeIsSeenKilledAndTheCgroupRemoved(boolean useV2) throws Exception {
    StringBuilder why = new StringBuilder();
    Optional<CgroupSystem> opened = CgroupSystem.open("berth-cgtest-" + ProcessHandle.current().pid(), why, useV2);
    assumeThat(opened).as("SKIPPED: cgroups are not usable here (%s)", why).isPresent();
    try (CgroupSystem system = opened.get()) {
      if (useV2) assumeThat(system.describe()).as("SKIPPED: no cgroup v2 hierarchy here").contains("tracking cgroup v2");
      else assertThat(system.describe()).contains("tracking cgroup v1");
      Cgroup cg = system.create("t.i1", new Limits(64L << 20, false, 50, 0));
      try {
        lifeOf(cg);
      } finally { // whatever failed, leave no process and no cgroup behind
        if (!cg.killAll()) cg.pids().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        cg.empty().get(10, TimeUnit.SECONDS);
        cg.remove();
      }
    }
  }

  private static void lifeOf(Cgroup cg) throws Exception {
    String join = String.join(" ", cg.procsFiles().stream().map(p -> "echo $$ > " + p + ";").toList());
    // a leader that forks a double-forked, TERM-ignoring grandchild, then waits
    Process leader = new ProcessBuilder("/bin/sh", "-c", join + " (trap '' TERM; setsid sleep 60 &) ; sleep 60").start();
    await().atMost(Duration.ofSeconds(5)).until(() -> cg.pids().size() >= 3);
    List<Integer> pids = cg.pids();
    assertThat(pids).contains((int) leader.pid());
    assertThat(cg.populated()).isTrue();
    assertThat(cg.memoryBytes()).isPositive();

    var empty = cg.empty();
    assertThat(empty).isNotDone();
    if (!cg.killAll()) {
      for (int pass = 0; pass < 100 && !cg.pids().isEmpty(); pass++) {
        for (int pid : cg.pids()) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
    empty.get(10, TimeUnit.SECONDS);
    leader.waitFor(5, TimeUnit.SECONDS);
    assertThat(pids).noneMatch(berth.testing.Procs::alive); // killed (a zombie waiting for init counts as gone)
    assertThat(cg.remove()).isTrue();
    assertThat(cg.path()).doesNotExist();
  }
}
