package berth.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import berth.users.Accounts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The warm-up runs the cold-start code without its effects. */
class WarmupTest {
  private static long openDescriptors() throws Exception {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.count();
    }
  }

  /**
   * The count once it holds still for 200 ms (at most 5 s): tests before this one in the same JVM may still be
   * closing theirs (a child's output pipe closes when its pump reads the end), which is not this test's business.
   */
  private static long settledDescriptors() throws Exception {
    long deadline = System.nanoTime() + 5_000_000_000L;
    long last = openDescriptors();
    while (System.nanoTime() < deadline) {
      Thread.sleep(200);
      long now = openDescriptors();
      if (now == last) return now;
      last = now;
    }
    return last;
  }

  @Test
  void aRehearsedSpawnStartsNothingAndLeavesNoDescriptorOpen() throws Exception {
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    List<String> argv = Launcher.argv("exec true", dir, List.of(dir.resolve("x").resolve("cgroup.procs")), null);
    List<String> env = Supervisor.environment(Map.of("A", "b"), 1, Accounts.self());
    Posix.rehearse(argv, env, dir.toString()); // classes loaded, handles linked
    long before = settledDescriptors();
    for (int i = 0; i < 200; i++) Posix.rehearse(argv, env, dir.toString());
    assertThat(openDescriptors()).isEqualTo(before);
    assertThat(ProcessHandle.current().children().toList()).isEmpty();
  }

  @Test
  void theWholeWarmUpRunsAndLeavesNothingBehind() throws Exception {
    Warmup.run();
    long before = settledDescriptors();
    assertThat(Warmup.run()).isTrue();
    assertThat(openDescriptors()).isEqualTo(before);
    assertThat(ProcessHandle.current().children().toList()).isEmpty();
  }
}
