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

  @Test
  void aRehearsedSpawnStartsNothingAndLeavesNoDescriptorOpen() throws Exception {
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    List<String> argv = Launcher.argv("exec true", dir, List.of(dir.resolve("x").resolve("cgroup.procs")), null);
    List<String> env = Supervisor.environment(Map.of("A", "b"), 1, Accounts.self());
    Posix.rehearse(argv, env, dir.toString()); // classes loaded, handles linked
    long before = openDescriptors();
    for (int i = 0; i < 200; i++) Posix.rehearse(argv, env, dir.toString());
    assertThat(openDescriptors()).isEqualTo(before);
    assertThat(ProcessHandle.current().children().toList()).isEmpty();
  }

  @Test
  void theWholeWarmUpRunsAndLeavesNothingBehind() throws Exception {
    Warmup.run();
    long before = openDescriptors();
    assertThat(Warmup.run()).isTrue();
    assertThat(openDescriptors()).isEqualTo(before);
    assertThat(ProcessHandle.current().children().toList()).isEmpty();
  }
}
