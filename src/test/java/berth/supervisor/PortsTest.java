package berth.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import berth.config.PortRange;
import berth.testing.TestPorts;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** Handing out ports: take at once, confirm against the machine before the spawn. */
class PortsTest {
  private static final int FROM = TestPorts.first(1) + 900;

  private static ServerSocket listen(int port) throws Exception {
    ServerSocket s = new ServerSocket();
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    return s;
  }

  @Test
  void takeHandsOutEachPortOnceInTurnAndMinusOneWhenAllAreTaken() {
    Ports ports = new Ports(new PortRange(FROM, FROM + 2));
    assertThat(ports.take()).isEqualTo(FROM);
    assertThat(ports.take()).isEqualTo(FROM + 1);
    assertThat(ports.take()).isEqualTo(FROM + 2);
    assertThat(ports.take()).isEqualTo(-1);
    ports.release(FROM + 1);
    assertThat(ports.take()).isEqualTo(FROM + 1);
    assertThat(ports.inUse()).isEqualTo(3);
  }

  @Test
  void takeDoesNotAskTheMachineConfirmDoes() throws Exception {
    Ports ports = new Ports(new PortRange(FROM, FROM + 2));
    try (ServerSocket other = listen(FROM)) {
      int port = ports.take();
      assertThat(port).as("take: no system call, so it cannot know").isEqualTo(FROM);
      int confirmed = ports.confirm(port);
      assertThat(confirmed).as("confirm trades the port another process holds").isEqualTo(FROM + 1);
      assertThat(ports.inUse()).isEqualTo(1);
      ports.release(confirmed);
      assertThat(ports.inUse()).isZero();
      // a free port is confirmed as it is
      int next = ports.take();
      assertThat(ports.confirm(next)).isEqualTo(next);
    }
  }

  @Test
  void confirmGivesMinusOneAndHoldsNothingWhenOtherProcessesHoldEveryFreePort() throws Exception {
    Ports ports = new Ports(new PortRange(FROM, FROM + 1));
    try (ServerSocket a = listen(FROM); ServerSocket b = listen(FROM + 1)) {
      assertThat(ports.confirm(ports.take())).isEqualTo(-1);
      assertThat(ports.inUse()).isZero();
    }
  }
}
