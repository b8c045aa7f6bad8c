package berth.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import berth.testing.ProcCgroups;
import berth.testing.TestPorts;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Who listens on a port, as the kernel tells it. */
class ListenersTest {
  private static final int PORT = TestPorts.first(1) + 920;

  @Test
  void theKernelNamesTheSocketAndTheCgroupItWasCreatedIn() throws Exception {
    assumeTrue(Listeners.NETLINK, "no sock_diag here");
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), PORT));
      List<SockDiag.Listening> listening = Listeners.socketsOn(PORT);
      assertThat(listening).hasSize(1);
      int self = (int) ProcessHandle.current().pid();
      assertThat(Listeners.holds(self, java.util.Set.of(listening.getFirst().inode()))).as("the inode is our socket's").isTrue();
      Path v2 = ProcCgroups.of(self).get("");
      // the kernel adds the cgroup (Linux 5.7+) to the answers of a caller with CAP_NET_ADMIN
      assumeTrue(v2 != null && netAdmin(), "needs CAP_NET_ADMIN and a cgroup v2 hierarchy");
      assertThat(listening.getFirst().cgroup()).isEqualTo((Long) Files.getAttribute(v2, "unix:ino"));
    }
    assertThat(SockDiag.listener(PORT)).isNull();
  }

  @Test
  void onlyTheSocketAConnectionTo127001WouldReachCounts() throws Exception {
    assumeTrue(Listeners.NETLINK, "no sock_diag here");
    try (java.net.Socket bound = new java.net.Socket()) {
      bound.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), PORT));
      assertThat(SockDiag.listener(PORT)).as("bound, not listening").isNull();
    }
    try (ServerSocket other = new ServerSocket()) {
      other.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), PORT));
      assertThat(SockDiag.listener(PORT)).as("listening on 127.0.0.2").isNull();
    }
    try (ServerSocket v6 = new ServerSocket()) {
      v6.bind(new InetSocketAddress(InetAddress.getByName("::1"), PORT));
      assertThat(SockDiag.listener(PORT)).as("listening on ::1 only").isNull();
    } catch (java.net.SocketException noIpv6) {
      // no IPv6 loopback here
    }
    for (String wildcard : List.of("0.0.0.0", "::")) {
      try (ServerSocket any = new ServerSocket()) {
        any.bind(new InetSocketAddress(InetAddress.getByName(wildcard), PORT));
        assertThat(SockDiag.listener(PORT)).as("listening on " + wildcard).isNotNull();
      } catch (java.net.SocketException noIpv6) {
        assertThat(wildcard).isEqualTo("::");
      }
    }
  }

  /** Whether this process has CAP_NET_ADMIN (bit 12 of CapEff). */
  static boolean netAdmin() throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("CapEff:")) return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & (1L << 12)) != 0;
    }
    return false;
  }
}
