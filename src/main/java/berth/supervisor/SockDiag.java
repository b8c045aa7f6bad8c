package berth.supervisor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;

/**
 * Which socket would accept a TCP connection to 127.0.0.1:port, asked of the kernel through netlink {@code
 * NETLINK_SOCK_DIAG} (see sock_diag(7)) as one exact lookup, not a dump: the request names a connection from
 * 127.0.0.1:port to 127.0.0.1:0, which no established socket has, so the kernel answers with the listener a
 * connect to that port would reach (bound to 127.0.0.1, to the IPv4 wildcard, or a dual-stack IPv6 wildcard;
 * never one on 127.0.0.2 or an IPv6-only one), or with ENOENT. That is the kernel's own hash lookup, a few
 * microseconds whatever else listens on the machine; a dump of all listening sockets walked the whole listening
 * hash table on every readiness poll (0.1 ms and more here) and grew with every app. To a caller with {@code
 * CAP_NET_ADMIN}, Linux 5.7 and later add the v2 cgroup of the process that created the socket ({@code
 * INET_DIAG_CGROUP_ID}).
 */
final class SockDiag {
  private static final int AF_INET = 2;
  private static final int AF_NETLINK = 16;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int NETLINK_SOCK_DIAG = 4;
  private static final int IPPROTO_TCP = 6;
  private static final short SOCK_DIAG_BY_FAMILY = 20;
  private static final short NLM_F_REQUEST = 0x1;
  private static final int NLMSG_ERROR = 2;
  private static final int ENOENT = 2;
  private static final int TCP_LISTEN = 10;
  private static final int INET_DIAG_CGROUP_ID = 21;
  private static final int REQUEST_SIZE = 16 + 56; // nlmsghdr + inet_diag_req_v2
  private static final int ANSWER_SIZE = 1024; // nlmsghdr + inet_diag_msg (72) + a few attributes
  private static final ValueLayout.OfShort NETWORK_SHORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);
  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle SOCKET = fn("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle SENDTO = fn("sendto", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle RECV = fn("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
  private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  private SockDiag() {}

  /**
   * A socket listening on a port: its inode, and the id of the v2 cgroup its creator was in when it created it
   * (0 when the kernel does not say: Berth lacks CAP_NET_ADMIN, or the kernel is older than 5.7).
   */
  record Listening(long inode, long cgroup) {}

  /**
   * The socket that would accept a connection to 127.0.0.1:{@code port} now, or null if none would (nothing
   * listens, or a socket is bound but not listening yet). Throws {@link IllegalStateException} if netlink fails.
   */
  static Listening listener(int port) {
    try (Arena arena = Arena.ofConfined()) {
      int fd = (int) SOCKET.invokeExact(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
      if (fd < 0) throw new IllegalStateException("netlink socket");
      try {
        return lookup(arena, fd, port);
      } finally {
        int unused = (int) CLOSE.invokeExact(fd);
      }
    } catch (IllegalStateException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static Listening lookup(Arena arena, int fd, int port) throws Throwable {
    MemorySegment req = arena.allocate(REQUEST_SIZE, 8); // zeroed
    req.set(JAVA_INT, 0, REQUEST_SIZE);                 // nlmsg_len
    req.set(JAVA_SHORT, 4, SOCK_DIAG_BY_FAMILY);        // nlmsg_type
    req.set(JAVA_SHORT, 6, NLM_F_REQUEST);              // nlmsg_flags: one socket, not a dump
    req.set(JAVA_BYTE, 16, (byte) AF_INET);             // sdiag_family
    req.set(JAVA_BYTE, 17, (byte) IPPROTO_TCP);         // sdiag_protocol
    req.set(JAVA_INT, 20, -1);                          // idiag_states: any
    req.set(NETWORK_SHORT, 24, (short) port);           // id.idiag_sport: the listener's port
    loopback(req, 28);                                  // id.idiag_src: 127.0.0.1; id.idiag_dport stays 0
    loopback(req, 44);                                  // id.idiag_dst: 127.0.0.1
    req.set(JAVA_LONG, 64, -1L);                        // id.idiag_cookie: INET_DIAG_NOCOOKIE
    MemorySegment kernel = arena.allocate(12, 4);       // sockaddr_nl: family, pad, pid 0, groups 0
    kernel.set(JAVA_SHORT, 0, (short) AF_NETLINK);
    if ((long) SENDTO.invokeExact(fd, req, (long) REQUEST_SIZE, 0, kernel, 12) != REQUEST_SIZE) {
      throw new IllegalStateException("netlink sendto");
    }
    MemorySegment buf = arena.allocate(ANSWER_SIZE, 8);
    long n = (long) RECV.invokeExact(fd, buf, (long) ANSWER_SIZE, 0);
    if (n < 16) throw new IllegalStateException("netlink recv");
    int len = buf.get(JAVA_INT, 0);
    int type = buf.get(JAVA_SHORT, 4) & 0xffff;
    if (type == NLMSG_ERROR) {
      int error = -buf.get(JAVA_INT, 16);
      if (error == ENOENT) return null;
      throw new IllegalStateException("netlink error " + error);
    }
    if (type != SOCK_DIAG_BY_FAMILY || n < 16 + 72) throw new IllegalStateException("netlink message of type " + type);
    long msg = 16; // inet_diag_msg: family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
    if ((buf.get(JAVA_BYTE, msg + 1) & 0xff) != TCP_LISTEN) return null;
    return new Listening(Integer.toUnsignedLong(buf.get(JAVA_INT, msg + 68)), cgroup(buf, msg + 72, Math.min(len, n)));
  }

  private static void loopback(MemorySegment req, long at) {
    req.set(JAVA_BYTE, at, (byte) 127);
    req.set(JAVA_BYTE, at + 3, (byte) 1);
  }

  /** The value of the {@code INET_DIAG_CGROUP_ID} attribute among those in {@code buf[from..end)}; 0 if absent. */
  private static long cgroup(MemorySegment buf, long from, long end) {
    long at = from;
    while (at + 4 <= end) {
      int len = Short.toUnsignedInt(buf.get(JAVA_SHORT, at));
      int type = Short.toUnsignedInt(buf.get(JAVA_SHORT, at + 2)) & 0x3fff; // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
      if (len < 4) return 0;
      if (type == INET_DIAG_CGROUP_ID && len >= 12 && at + 12 <= end) return buf.get(JAVA_LONG_UNALIGNED, at + 4);
      at += (len + 3) & ~3;
    }
    return 0;
  }

  private static MethodHandle fn(String name, FunctionDescriptor fd) {
    return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd);
  }
}
