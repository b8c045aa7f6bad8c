package berth.users;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Unix accounts through libc's {@code getpwnam} and {@code getgrnam}, so users from any NSS source are found.
 * Those functions return static storage: calls are serialized on this class.
 */
public final class Accounts {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle GETPWNAM = fn("getpwnam", ADDRESS, ADDRESS);
  private static final MethodHandle GETPWUID = fn("getpwuid", ADDRESS, JAVA_INT);
  private static final MethodHandle GETGRNAM = fn("getgrnam", ADDRESS, ADDRESS);
  private static final MethodHandle GETEUID = fn("geteuid", JAVA_INT);
  // struct passwd on x86_64 glibc: name 0, passwd 8, uid 16, gid 20, gecos 24, dir 32, shell 40
  private static final long PW_UID = 16;
  private static final long PW_GID = 20;
  private static final long PW_DIR = 32;
  // struct group: name 0, passwd 8, gid 16
  private static final long GR_GID = 16;

  private Accounts() {}

  /** The user Berth itself runs as. */
  public static synchronized Account self() {
    try {
      int uid = (int) GETEUID.invokeExact();
      MemorySegment pw = (MemorySegment) GETPWUID.invokeExact(uid);
      if (pw.equals(MemorySegment.NULL)) return new Account(Integer.toString(uid), uid, -1, System.getProperty("user.home"));
      return account(pw.reinterpret(48));
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  public static synchronized Optional<Account> user(String name) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pw = (MemorySegment) GETPWNAM.invokeExact(arena.allocateFrom(name));
      return pw.equals(MemorySegment.NULL) ? Optional.empty() : Optional.of(account(pw.reinterpret(48)));
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** The gid of group {@code name}, if it exists. */
  public static synchronized Optional<Integer> group(String name) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment gr = (MemorySegment) GETGRNAM.invokeExact(arena.allocateFrom(name));
      return gr.equals(MemorySegment.NULL) ? Optional.empty() : Optional.of(gr.reinterpret(24).get(JAVA_INT, GR_GID));
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /**
   * Creates system user {@code name} with its own group, no login shell, and {@code home} as its home (created,
   * owned by it). Blocks while {@code useradd} runs.
   */
  public static Account create(String name, Path home) throws IOException {
    Files.createDirectories(home.getParent());
    Process p = new ProcessBuilder(List.of("useradd", "--system", "--user-group", "--create-home", "--home-dir", home.toString(),
        "--shell", "/usr/sbin/nologin", name)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("useradd " + name + " failed: " + out);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while creating user " + name);
    }
    return user(name).orElseThrow(() -> new IOException("useradd " + name + " succeeded but the user is not found"));
  }

  private static Account account(MemorySegment pw) {
    String name = pw.get(ADDRESS, 0).reinterpret(256).getString(0);
    String home = pw.get(ADDRESS, PW_DIR).reinterpret(4096).getString(0);
    return new Account(name, pw.get(JAVA_INT, PW_UID), pw.get(JAVA_INT, PW_GID), home);
  }

  private static MethodHandle fn(String name, java.lang.foreign.MemoryLayout result, java.lang.foreign.MemoryLayout... args) {
    return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), FunctionDescriptor.of(result, args));
  }
}
