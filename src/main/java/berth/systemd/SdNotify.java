package berth.systemd;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The {@code sd_notify(3)} protocol: one datagram of {@code KEY=VALUE} lines to the Unix socket named by {@code
 * NOTIFY_SOCKET}, which systemd sets for a {@code Type=notify} service. Berth sends {@code READY=1} once its
 * listeners are bound and the store is open, {@code RELOADING=1} and {@code READY=1} around a reload, and {@code
 * STOPPING=1} when it begins to drain, each with a {@code STATUS=} line that {@code systemctl status} shows.
 *
 * <p>The JDK has Unix domain sockets for streams only ({@code SocketChannel}), not datagrams, so the socket is made
 * through FFM: {@code socket(AF_UNIX, SOCK_DGRAM)} and {@code sendto}, a new socket per message (messages are
 * rare). An abstract socket ({@code @name}) and a path are both understood, as in libsystemd. Thread-safe.
 */
public final class SdNotify {
  private static final int AF_UNIX = 1;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int MSG_NOSIGNAL = 0x4000;
  private static final int CLOCK_MONOTONIC = 1;
  /** {@code struct sockaddr_un}: a 2-byte family and 108 bytes of path. */
  private static final int SUN_PATH = 108;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURED = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO = CAPTURED.varHandle(PathElement.groupElement("errno"));
  private static final MethodHandle SOCKET = fn("socket", true, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
  private static final MethodHandle SENDTO = fn("sendto", true, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle CLOSE = fn("close", false, JAVA_INT, JAVA_INT);
  private static final MethodHandle CLOCK_GETTIME = fn("clock_gettime", false, JAVA_INT, JAVA_INT, ADDRESS);
  private static final MethodHandle STRERROR = fn("strerror", false, ADDRESS, JAVA_INT);

  private final String socket;

  private SdNotify(String socket) {
    this.socket = socket;
  }

  /**
   * The service manager's socket from {@code NOTIFY_SOCKET}; empty when Berth was not started by one (a terminal,
   * a test) or the variable names something other than a Unix socket (systemd's {@code vsock:} form).
   */
  public static Optional<SdNotify> fromEnvironment() {
    String s = System.getenv("NOTIFY_SOCKET");
    if (s == null || !(s.startsWith("/") || s.startsWith("@"))) return Optional.empty();
    return Optional.of(to(s));
  }

  /** Notifies the socket {@code socket}: a path, or {@code @name} for an abstract socket. */
  public static SdNotify to(String socket) {
    if (!(socket.startsWith("/") || socket.startsWith("@"))) throw new IllegalArgumentException(socket + " is not a Unix socket (expected /path or @name)");
    if (socket.getBytes(StandardCharsets.UTF_8).length >= SUN_PATH) throw new IllegalArgumentException(socket + " is longer than a Unix socket name may be");
    return new SdNotify(socket);
  }

  public String socket() {
    return socket;
  }

  /** Berth serves: listeners bound, store open, leftovers of an earlier run stopped. */
  public void ready(String status) throws IOException {
    send("READY=1\nSTATUS=" + oneLine(status));
  }

  /**
   * A reload begins; {@link #ready} ends it. {@code MONOTONIC_USEC} is what {@code Type=notify-reload} (systemd
   * 253+) needs to match the reload to its request; older systemd ignores it.
   */
  public void reloading(String status) throws IOException {
    send("RELOADING=1\nMONOTONIC_USEC=" + monotonicMicros() + "\nSTATUS=" + oneLine(status));
  }

  /** Berth drains and stops its apps: systemd then waits up to {@code TimeoutStopSec}. */
  public void stopping(String status) throws IOException {
    send("STOPPING=1\nSTATUS=" + oneLine(status));
  }

  /** Only the status line of {@code systemctl status}. */
  public void status(String status) throws IOException {
    send("STATUS=" + oneLine(status));
  }

  /** Sends {@code message} (newline-separated {@code KEY=VALUE} lines) as one datagram. */
  public void send(String message) throws IOException {
    byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
    byte[] name = socket.getBytes(StandardCharsets.UTF_8);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURED);
      MemorySegment addr = arena.allocate(2 + SUN_PATH);
      addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
      MemorySegment.copy(name, 0, addr, JAVA_BYTE, 2, name.length);
      // an abstract name starts with a NUL byte instead of '@', and its length is exact (no terminating NUL)
      if (name[0] == '@') addr.set(JAVA_BYTE, 2, (byte) 0);
      int addrLen = 2 + name.length + (name[0] == '@' ? 0 : 1);
      int fd = (int) SOCKET.invokeExact(state, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw new IOException("socket(AF_UNIX, SOCK_DGRAM): " + strerror(errno(state)));
      try {
        MemorySegment buf = arena.allocateFrom(JAVA_BYTE, bytes);
        long sent = (long) SENDTO.invokeExact(state, fd, buf, (long) bytes.length, MSG_NOSIGNAL, addr, addrLen);
        if (sent < 0) throw new IOException("cannot notify " + socket + ": " + strerror(errno(state)));
      } finally {
        int unused = (int) CLOSE.invokeExact(fd);
      }
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** {@code CLOCK_MONOTONIC} in microseconds, the clock systemd compares reload requests with. */
  static long monotonicMicros() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment ts = arena.allocate(MemoryLayout.structLayout(JAVA_LONG, JAVA_LONG));
      if ((int) CLOCK_GETTIME.invokeExact(CLOCK_MONOTONIC, ts) != 0) throw new IllegalStateException("clock_gettime failed");
      return ts.get(JAVA_LONG, 0) * 1_000_000 + ts.get(JAVA_LONG, 8) / 1_000;
    } catch (RuntimeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static String oneLine(String s) {
    return s.replace('\n', ' ');
  }

  private static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }

  private static String strerror(int errno) {
    try {
      return ((MemorySegment) STRERROR.invokeExact(errno)).reinterpret(1024).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }

  private static MethodHandle fn(String name, boolean errno, MemoryLayout result, MemoryLayout... args) {
    MemorySegment symbol = LINKER.defaultLookup().find(name).orElseThrow(() -> new IllegalStateException("libc has no " + name));
    FunctionDescriptor fd = FunctionDescriptor.of(result, args);
    return errno ? LINKER.downcallHandle(symbol, fd, Linker.Option.captureCallState("errno")) : LINKER.downcallHandle(symbol, fd);
  }
}
