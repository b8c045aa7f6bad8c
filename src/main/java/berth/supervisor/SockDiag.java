package berth.supervisor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

/**
 * The kernel's list of listening TCP sockets through netlink {@code NETLINK_SOCK_DIAG} (see sock_diag(7)): one
 * dump request per address family, answered with one {@code inet_diag_msg} per listening socket.
 */
final class SockDiag {
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  private static final int AF_NETLINK = 16;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int NETLINK_SOCK_DIAG = 4;
  private static final int IPPROTO_TCP = 6;
  private static final short SOCK_DIAG_BY_FAMILY = 20;
  private static final short NLM_F_REQUEST_DUMP = 0x1 | 0x300;
  private static final int NLMSG_ERROR = 2;
  private static final int NLMSG_DONE = 3;
  private static final int TCP_LISTEN = 10;
  private static final int REQUEST_SIZE = 16 + 56; // nlmsghdr + inet_diag_req_v2
  private static final ValueLayout.OfShort NETWORK_SHORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);
  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle SOCKET = fn("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle SENDTO = fn("sendto", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle RECV = fn("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
  private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  private SockDiag() {}

  /** Inodes of the TCP sockets listening on {@code port}; throws {@link IllegalStateException} if netlink fails. */
  static Set<Long> listening(int port) {
    Set<Long> inodes = new HashSet<>();
    try (Arena arena = Arena.ofConfined()) {
      int fd = (int) SOCKET.invokeExact(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
      if (fd < 0) throw new IllegalStateException("netlink socket");
      try {
        for (int family : new int[] {AF_INET, AF_INET6}) dump(arena, fd, family, port, inodes);
      } finally {
        int unused = (int) CLOSE.invokeExact(fd);
      }
    } catch (IllegalStateException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
    return inodes;
  }

  private static void dump(Arena arena, int fd, int family, int port, Set<Long> inodes) throws Throwable {
    MemorySegment req = arena.allocate(REQUEST_SIZE, 8);
    req.set(JAVA_INT, 0, REQUEST_SIZE);                 // nlmsg_len
    req.set(JAVA_SHORT, 4, SOCK_DIAG_BY_FAMILY);        // nlmsg_type
    req.set(JAVA_SHORT, 6, NLM_F_REQUEST_DUMP);         // nlmsg_flags
    req.set(JAVA_INT, 8, family);                       // nlmsg_seq
    req.set(JAVA_BYTE, 16, (byte) family);              // sdiag_family
    req.set(JAVA_BYTE, 17, (byte) IPPROTO_TCP);         // sdiag_protocol
    req.set(JAVA_INT, 20, 1 << TCP_LISTEN);             // idiag_states
    MemorySegment kernel = arena.allocate(12, 4);       // sockaddr_nl: family, pad, pid 0, groups 0
    kernel.set(JAVA_SHORT, 0, (short) AF_NETLINK);
    if ((long) SENDTO.invokeExact(fd, req, (long) REQUEST_SIZE, 0, kernel, 12) != REQUEST_SIZE) {
      throw new IllegalStateException("netlink sendto");
    }
    MemorySegment buf = arena.allocate(8 * 1024, 8); // ~100 sockets per read; more are read in further rounds
    while (true) {
      long n = (long) RECV.invokeExact(fd, buf, buf.byteSize(), 0);
      if (n <= 0) throw new IllegalStateException("netlink recv");
      long off = 0;
      while (off + 16 <= n) {
        int len = buf.get(JAVA_INT, off);
        int type = buf.get(JAVA_SHORT, off + 4) & 0xffff;
        if (len < 16) throw new IllegalStateException("netlink message of length " + len);
        if (type == NLMSG_DONE) return;
        if (type == NLMSG_ERROR) throw new IllegalStateException("netlink error " + buf.get(JAVA_INT, off + 16));
        if (type == SOCK_DIAG_BY_FAMILY) {
          long msg = off + 16; // inet_diag_msg: family, state, timer, retrans, sockid (sport big-endian first), ...
          int sport = Short.toUnsignedInt(buf.get(NETWORK_SHORT, msg + 4));
          if (sport == port && reachesLoopback(buf, msg + 8, family)) inodes.add(Integer.toUnsignedLong(buf.get(JAVA_INT, msg + 68)));
        }
        off += (len + 3) & ~3;
      }
    }
  }

  /**
   * Whether a socket bound to this local address gets connections made to 127.0.0.1: bound to 127.0.0.1, to the
   * IPv4 wildcard, to the IPv6 wildcard (dual stack) or to ::ffff:127.0.0.1. A socket on 127.0.0.2 with the same
   * port takes nothing from the instance, and must not block its start.
   */
  private static boolean reachesLoopback(MemorySegment buf, long src, int family) {
    if (family == AF_INET) {
      int a = buf.get(JAVA_INT, src); // network order in memory: 127.0.0.1 reads as 0x0100007f on little-endian
      byte b0 = buf.get(JAVA_BYTE, src);
      return a == 0 || (b0 == 127 && buf.get(JAVA_BYTE, src + 1) == 0 && buf.get(JAVA_BYTE, src + 2) == 0 && buf.get(JAVA_BYTE, src + 3) == 1);
    }
    for (int i = 0; i < 10; i++) if (buf.get(JAVA_BYTE, src + i) != 0) return false;
    int w10 = buf.get(JAVA_BYTE, src + 10) & 0xff;
    int w11 = buf.get(JAVA_BYTE, src + 11) & 0xff;
    long tail = buf.get(JAVA_INT, src + 12);
    if (w10 == 0 && w11 == 0) return tail == 0; // ::
    return w10 == 0xff && w11 == 0xff && buf.get(JAVA_BYTE, src + 12) == 127 && buf.get(JAVA_BYTE, src + 15) == 1; // ::ffff:127.0.0.1
  }

  private static MethodHandle fn(String name, FunctionDescriptor fd) {
    return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd);
  }
}
