package berth.supervisor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * The few libc calls the JDK does not offer, through FFM: {@code posix_spawn} (so an instance starts in its own
 * session with default signal dispositions and an empty signal mask, which {@link ProcessBuilder} cannot do:
 * children of a JVM otherwise inherit its blocked SIGQUIT), {@code waitpid} and {@code kill}.
 *
 * <p>All methods are thread-safe. {@link #waitpid} blocks: call it on a platform thread of its own.
 */
final class Posix {
  static final int SIGKILL = 9;
  static final int SIGTERM = 15;
  static final int ESRCH = 3;
  static final int EINTR = 4;
  static final int ECHILD = 10;

  private static final int O_RDONLY = 0;
  private static final int O_CLOEXEC = 0x80000;
  private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
  private static final short POSIX_SPAWN_SETSIGMASK = 0x08;
  private static final short POSIX_SPAWN_SETSID = 0x80;
  // glibc x86_64: posix_spawnattr_t is 336 bytes, posix_spawn_file_actions_t 80, sigset_t 128; allocate more
  private static final long ATTR_SIZE = 512;
  private static final long ACTIONS_SIZE = 256;
  private static final long SIGSET_SIZE = 256;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURED = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO = CAPTURED.varHandle(PathElement.groupElement("errno"));

  private static final MethodHandle POSIX_SPAWN = fn("posix_spawn", false, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle ATTR_INIT = fn("posix_spawnattr_init", false, JAVA_INT, ADDRESS);
  private static final MethodHandle ATTR_SETFLAGS = fn("posix_spawnattr_setflags", false, JAVA_INT, ADDRESS, JAVA_SHORT);
  private static final MethodHandle ATTR_SETSIGDEFAULT = fn("posix_spawnattr_setsigdefault", false, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle ATTR_SETSIGMASK = fn("posix_spawnattr_setsigmask", false, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle ACTIONS_INIT = fn("posix_spawn_file_actions_init", false, JAVA_INT, ADDRESS);
  private static final MethodHandle ACTIONS_DESTROY = fn("posix_spawn_file_actions_destroy", false, JAVA_INT, ADDRESS);
  private static final MethodHandle ACTIONS_ADDOPEN = fn("posix_spawn_file_actions_addopen", false, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
  private static final MethodHandle ACTIONS_ADDDUP2 = fn("posix_spawn_file_actions_adddup2", false, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
  private static final MethodHandle ACTIONS_ADDCHDIR = fn("posix_spawn_file_actions_addchdir_np", false, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle ACTIONS_ADDCLOSEFROM = fn("posix_spawn_file_actions_addclosefrom_np", false, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle SIGEMPTYSET = fn("sigemptyset", false, JAVA_INT, ADDRESS);
  private static final MethodHandle SIGFILLSET = fn("sigfillset", false, JAVA_INT, ADDRESS);
  private static final MethodHandle PIPE2 = fn("pipe2", true, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle CLOSE = fn("close", true, JAVA_INT, JAVA_INT);
  private static final MethodHandle FCHOWN = fn("fchown", true, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle KILL = fn("kill", true, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle WAITPID = fn("waitpid", true, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle STRERROR = fn("strerror", false, ADDRESS, JAVA_INT);

  /**
   * The spawn attributes, the same for every spawn, built once (posix_spawn only reads them): a new session,
   * every signal's disposition reset to its default, an empty signal mask. Fewer native calls per spawn matter:
   * a cold start is rare enough that this path runs interpreted.
   */
  private static final MemorySegment ATTR = spawnAttributes();

  private static MemorySegment spawnAttributes() {
    MemorySegment attr = Arena.global().allocate(ATTR_SIZE, 16);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment all = arena.allocate(SIGSET_SIZE, 16);
      MemorySegment none = arena.allocate(SIGSET_SIZE, 16);
      check("posix_spawnattr_init", (int) ATTR_INIT.invokeExact(attr));
      check("sigfillset", (int) SIGFILLSET.invokeExact(all) == 0 ? 0 : 22);
      // sigfillset leaves out glibc's internal signals 32 and 33, which posix_spawn would then set to SIG_IGN
      // in the child, and ignored dispositions survive exec: set all 64 bits so every one is reset
      all.set(JAVA_LONG, 0, -1L);
      check("sigemptyset", (int) SIGEMPTYSET.invokeExact(none) == 0 ? 0 : 22);
      check("posix_spawnattr_setflags",
          (int) ATTR_SETFLAGS.invokeExact(attr, (short) (POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)));
      check("posix_spawnattr_setsigdefault", (int) ATTR_SETSIGDEFAULT.invokeExact(attr, all));
      check("posix_spawnattr_setsigmask", (int) ATTR_SETSIGMASK.invokeExact(attr, none));
      return attr;
    } catch (Throwable t) {
      throw new ExceptionInInitializerError(t);
    }
  }

  private Posix() {}

  /** A spawned process: its pid (also its session and process group id) and the read end of its output pipe. */
  record Spawned(int pid, int outputFd) {}

  /** A libc call that failed; {@code errno} is the C error number. */
  static final class PosixException extends Exception {
    final int errno;

    PosixException(String call, int errno) {
      super(call + ": " + strerror(errno));
      this.errno = errno;
    }
  }

  /**
   * Starts {@code argv} in {@code directory} with exactly {@code env}, as the leader of a new session, with every
   * signal at its default disposition and none blocked, stdin from /dev/null, stdout and stderr into one new
   * pipe, and no other descriptor of Berth's.
   */
  static Spawned spawn(List<String> argv, List<String> env, String directory, int outputUid, int outputGid) throws PosixException {
    return spawn(argv, env, directory, outputUid, outputGid, true);
  }

  /**
   * Runs every step of {@link #spawn} but the {@code posix_spawn} call itself, and closes what it opened: a
   * rehearsal, so that the JIT compiles this path before the first cold start needs it.
   */
  static void rehearse(List<String> argv, List<String> env, String directory) throws PosixException {
    close(spawn(argv, env, directory, -1, -1, false).outputFd());
  }

  private static Spawned spawn(List<String> argv, List<String> env, String directory, int outputUid, int outputGid, boolean forReal)
      throws PosixException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fds = arena.allocate(JAVA_INT, 2);
      MemorySegment state = arena.allocate(CAPTURED);
      if ((int) PIPE2.invokeExact(state, fds, O_CLOEXEC) != 0) throw new PosixException("pipe2", errno(state));
      int readFd = fds.getAtIndex(JAVA_INT, 0);
      int writeFd = fds.getAtIndex(JAVA_INT, 1);
      // an app that reopens /dev/stdout or /dev/stderr by path (Apache's ErrorLog /dev/stderr) needs the pipe
      // to be its own, or its user gets "permission denied"
      if (outputUid >= 0 && (int) FCHOWN.invokeExact(state, writeFd, outputUid, outputGid) != 0) {
        int err = errno(state);
        close(readFd);
        close(writeFd);
        throw new PosixException("fchown of the output pipe", err);
      }
      MemorySegment actions = arena.allocate(ACTIONS_SIZE, 16);
      check("posix_spawn_file_actions_init", (int) ACTIONS_INIT.invokeExact(actions));
      try {
        check("addopen", (int) ACTIONS_ADDOPEN.invokeExact(actions, 0, arena.allocateFrom("/dev/null"), O_RDONLY, 0));
        check("adddup2", (int) ACTIONS_ADDDUP2.invokeExact(actions, writeFd, 1));
        check("adddup2", (int) ACTIONS_ADDDUP2.invokeExact(actions, writeFd, 2));
        check("addclosefrom", (int) ACTIONS_ADDCLOSEFROM.invokeExact(actions, 3));
        check("addchdir", (int) ACTIONS_ADDCHDIR.invokeExact(actions, arena.allocateFrom(directory)));
        MemorySegment pid = arena.allocate(JAVA_INT);
        MemorySegment path = arena.allocateFrom(argv.getFirst());
        MemorySegment argvArray = strings(arena, argv);
        MemorySegment envArray = strings(arena, env);
        int rc = forReal ? (int) POSIX_SPAWN.invokeExact(pid, path, actions, ATTR, argvArray, envArray) : 0;
        if (rc != 0) {
          close(readFd);
          throw new PosixException("posix_spawn " + argv.getFirst(), rc);
        }
        return new Spawned(pid.get(JAVA_INT, 0), readFd);
      } finally {
        close(writeFd);
        int unused = (int) ACTIONS_DESTROY.invokeExact(actions);
      }
    } catch (PosixException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("posix_spawn via FFM failed", t);
    }
  }

  /** Sends {@code signal} to process {@code pid} (negative: a process group). False if no such process. */
  static boolean kill(int pid, int signal) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURED);
      int rc = (int) KILL.invokeExact(state, pid, signal);
      return rc == 0;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** Blocks until child {@code pid} exits and returns its raw wait status; -1 if it is not our child. */
  static int waitpid(int pid) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURED);
      MemorySegment status = arena.allocate(JAVA_INT);
      while (true) {
        int rc = (int) WAITPID.invokeExact(state, pid, status, 0);
        if (rc == pid) return status.get(JAVA_INT, 0);
        if (rc < 0 && errno(state) != EINTR) return -1;
      }
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  static void close(int fd) {
    try (Arena arena = Arena.ofConfined()) {
      int unused = (int) CLOSE.invokeExact(arena.allocate(CAPTURED), fd);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  static String strerror(int errno) {
    try {
      MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
      return s.reinterpret(1024).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }

  private static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }

  private static void check(String call, int rc) throws PosixException {
    if (rc != 0) throw new PosixException(call, rc);
  }

  private static MemorySegment strings(Arena arena, List<String> values) {
    MemorySegment array = arena.allocate(ADDRESS, values.size() + 1);
    for (int i = 0; i < values.size(); i++) array.setAtIndex(ADDRESS, i, arena.allocateFrom(values.get(i)));
    array.setAtIndex(ADDRESS, values.size(), MemorySegment.NULL);
    return array;
  }

  private static MethodHandle fn(String name, boolean errno, java.lang.foreign.MemoryLayout result, java.lang.foreign.MemoryLayout... args) {
    MemorySegment symbol = LINKER.defaultLookup().find(name).orElseThrow(() -> new IllegalStateException("libc has no " + name));
    FunctionDescriptor fd = FunctionDescriptor.of(result, args);
    return errno
        ? LINKER.downcallHandle(symbol, fd, Linker.Option.captureCallState("errno"))
        : LINKER.downcallHandle(symbol, fd);
  }
}
