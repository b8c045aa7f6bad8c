package berth.supervisor;

import berth.users.Accounts;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the Java code of a cold start's critical path a thousand times when Berth starts, on a thread of its own,
 * so that the JIT compiles it before the first cold start needs it: the leader's command line and environment,
 * the {@code posix_spawn} setup ({@link Posix#rehearse}: everything but the spawn itself), the port check and a
 * readiness poll. A cold start is rare enough that this code would otherwise run interpreted for the life of the
 * process, and it did: spawning took 0.6 to 2.7 ms (median 1.3) of each cold start, 0.4 to 0.7 ms (median 0.65)
 * once warmed up. Nothing is started, no port of the range is bound, nothing is written. About half a second of
 * CPU, once per JVM, most of it the loading and linking (native call stubs) that the first cold start would
 * otherwise pay in its own time.
 */
final class Warmup {
  private static final Logger LOG = LoggerFactory.getLogger(Warmup.class);
  /**
   * Enough calls for C1 (the JIT's first tier compiles a method after about 200), and fewer than the 5000 after
   * which C2 would compile {@link Posix#spawn} with only the rehearsal's branch in its profile.
   */
  static final int ROUNDS = 1000;
  private static final AtomicBoolean STARTED = new AtomicBoolean();

  private Warmup() {}

  /** Starts the warm-up once per JVM, on a daemon thread; returns at once. */
  static void start() {
    if (STARTED.compareAndSet(false, true)) Thread.ofPlatform().daemon().name("berth-warmup").start(() -> run());
  }

  /** Runs it here, now; false if a step failed (and said why in the log). */
  static boolean run() {
    long t0 = System.nanoTime();
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    // a command line like an instance's in a cgroup; the file is never written: nothing is spawned
    List<Path> join = List.of(dir.resolve("berth-warmup.i1").resolve("cgroup.procs"));
    try {
      for (int i = 0; i < ROUNDS; i++) {
        List<String> argv = Launcher.argv("exec true", dir, join, null);
        List<String> env = Supervisor.environment(Map.of(), 1, Accounts.self());
        Posix.rehearse(argv, env, dir.toString());
        Ports.bindable(0);
        if (Listeners.NETLINK) Listeners.socketsOn(1);
      }
      LOG.debug("cold-start path warmed up in {} ms", (System.nanoTime() - t0) / 1_000_000);
      return true;
    } catch (Posix.PosixException | RuntimeException e) {
      LOG.warn("warming up the cold-start path failed (cold starts will be slower, nothing else changes): {}", e.toString());
      return false;
    }
  }
}
