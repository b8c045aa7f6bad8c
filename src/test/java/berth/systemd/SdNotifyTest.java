package berth.systemd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.testing.NotifySocket;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify against a real Unix datagram socket, bound by an independent receiver (python3). */
class SdNotifyTest {
  @TempDir Path dir;

  @Test
  void readyReachesASocketBoundToAPath() throws Exception {
    try (NotifySocket socket = NotifySocket.bindIn(dir)) {
      SdNotify.to(socket.name()).ready("serving 2 apps");
      assertThat(socket.next(10)).isEqualTo("READY=1\nSTATUS=serving 2 apps");
    }
  }

  @Test
  void anAbstractSocketIsNamedWithoutTheAt() throws Exception {
    try (NotifySocket socket = NotifySocket.bind("@berth-test-" + ProcessHandle.current().pid())) {
      SdNotify n = SdNotify.to(socket.name());
      n.reloading("reloading\nthe node config");
      n.stopping("draining");
      String reloading = socket.next(10);
      assertThat(reloading).startsWith("RELOADING=1\nMONOTONIC_USEC=").endsWith("\nSTATUS=reloading the node config");
      long usec = Long.parseLong(reloading.lines().filter(l -> l.startsWith("MONOTONIC_USEC=")).findFirst().orElseThrow().substring(15));
      // CLOCK_MONOTONIC: the time since boot, which /proc/uptime also counts
      double uptime = Double.parseDouble(java.nio.file.Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
      assertThat(usec / 1e6).isCloseTo(uptime, org.assertj.core.data.Offset.offset(5.0));
      assertThat(socket.next(10)).isEqualTo("STOPPING=1\nSTATUS=draining");
    }
  }

  @Test
  void noListenerIsAnErrorNamingTheSocket() {
    String missing = dir.resolve("nobody.sock").toString();
    assertThatThrownBy(() -> SdNotify.to(missing).ready("x")).isInstanceOf(IOException.class)
        .hasMessageContaining(missing).hasMessageContaining("No such file");
  }

  @Test
  void somethingElseThanAUnixSocketIsRefused() {
    assertThatThrownBy(() -> SdNotify.to("vsock:2:1234")).hasMessageContaining("is not a Unix socket");
  }
}
