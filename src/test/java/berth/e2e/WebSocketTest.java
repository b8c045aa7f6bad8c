package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.pool.AppPool;
import berth.testing.BerthFixture;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A WebSocket through Berth to an app that speaks it: the upgrade is passed on, messages go both ways
 * (including one larger than any buffer), the open tunnel counts as activity (no idle stop while it is open),
 * and a close from either side ends it.
 */
class WebSocketTest {
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  @Test
  void echoesThroughBerthAndKeepsTheAppAwake() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.ws]
        domains = ["ws.test"]
        command = "@APP@"
        directory = "app"
        idle_timeout = "1s"
        """);
    try (Socket s = new Socket("127.0.0.1", berth.port())) {
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      assertThat(upgrade(out, in)).startsWith("HTTP/1.1 101").containsIgnoringCase("upgrade: websocket")
          .containsIgnoringCase("sec-websocket-accept:");

      sendFrame(out, 1, "hello".getBytes(StandardCharsets.UTF_8));
      assertThat(new String(readFrame(in, 1), StandardCharsets.UTF_8)).isEqualTo("hello");

      byte[] big = new byte[3 << 20];
      ThreadLocalRandom.current().nextBytes(big);
      sendFrame(out, 2, big);
      assertThat(Arrays.equals(readFrame(in, 2), big)).as("3 MiB binary message echoed intact").isTrue();

      Thread.sleep(2500); // longer than idle_timeout: the open tunnel keeps the instance
      AppPool.Status status = berth.berth.pool().get("ws").status();
      assertThat(status.inFlight()).isEqualTo(1);
      sendFrame(out, 1, "still here".getBytes(StandardCharsets.UTF_8));
      assertThat(new String(readFrame(in, 1), StandardCharsets.UTF_8)).isEqualTo("still here");

      sendFrame(out, 8, new byte[] {3, (byte) 232}); // close 1000; the app answers close and ends
      readFrame(in, 8);
      assertThat(in.read()).as("Berth closes the client once the app has closed").isEqualTo(-1);
    }
    // the tunnel's lease is released: the app goes idle and is stopped
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> berth.berth.pool().get("ws").status().inFlight() == 0 && berth.berth.pool().get("ws").status().pid() <= 0);
  }

  @Test
  void aClientsHalfClosePassesToTheAppAndItsLastAnswerStillComes() throws Exception {
    berth = BerthFixture.start(dir, """
        [apps.ws]
        domains = ["ws.test"]
        command = "@APP@"
        directory = "app"
        """);
    try (Socket s = new Socket("127.0.0.1", berth.port())) {
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      assertThat(upgrade(out, in)).startsWith("HTTP/1.1 101");
      byte[] big = new byte[1 << 20];
      ThreadLocalRandom.current().nextBytes(big);
      sendFrame(out, 2, big);
      s.shutdownOutput(); // sent all it will; still reading
      assertThat(Arrays.equals(readFrame(in, 2), big)).as("the echo of what came before the half-close").isTrue();
      assertThat(in.read()).as("the app saw the end of its input and closed; so does Berth").isEqualTo(-1);
    }
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> berth.berth.pool().get("ws").status().inFlight() == 0);
  }

  /** Asks for a WebSocket on /ws of ws.test; returns the head of the answer. */
  private static String upgrade(OutputStream out, InputStream in) throws IOException {
    String key = Base64.getEncoder().encodeToString("berth-test-key-1".getBytes(StandardCharsets.US_ASCII));
    out.write(("GET /ws HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return readHead(in);
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) throw new IOException("closed after: " + sb);
      sb.append((char) b);
    }
    return sb.toString();
  }

  private static void sendFrame(OutputStream out, int opcode, byte[] payload) throws IOException {
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    out.write(0x80 | opcode);
    if (payload.length < 126) {
      out.write(0x80 | payload.length);
    } else if (payload.length < 65536) {
      out.write(0x80 | 126);
      out.write(payload.length >> 8);
      out.write(payload.length);
    } else {
      out.write(0x80 | 127);
      for (int i = 7; i >= 0; i--) out.write((int) ((long) payload.length >> (8 * i)));
    }
    out.write(mask);
    byte[] masked = new byte[payload.length];
    for (int i = 0; i < payload.length; i++) masked[i] = (byte) (payload[i] ^ mask[i % 4]);
    out.write(masked);
    out.flush();
  }

  private static byte[] readFrame(DataInputStream in, int expectedOpcode) throws IOException {
    int b0 = in.readUnsignedByte();
    int b1 = in.readUnsignedByte();
    assertThat(b0 & 0x0F).isEqualTo(expectedOpcode);
    long len = b1 & 0x7F;
    if (len == 126) len = in.readUnsignedShort();
    else if (len == 127) len = in.readLong();
    byte[] data = new byte[(int) len];
    in.readFully(data);
    return data;
  }
}
