package berth.supervisor;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Is the instance up? Without {@code ready_path}: a TCP connect to its port succeeds. With it: {@code GET
 * ready_path} gets an HTTP answer with a status below 500 (some servers accept connections well before they
 * can answer; uWSGI about 0.4 s). Blocking; runs on the start thread.
 */
final class Probe {
  private Probe() {}

  static boolean answers(InetSocketAddress address, String readyPath, Duration timeout) {
    if (readyPath == null) {
      try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open()) {
        return ch.connect(address);
      } catch (IOException e) {
        return false;
      }
    }
    try (Socket s = new Socket()) {
      s.connect(address, (int) Math.max(1, Math.min(timeout.toMillis(), 1000)));
      if (readyPath == null) return true;
      s.setSoTimeout((int) Math.max(1, timeout.toMillis()));
      s.getOutputStream().write(("GET " + readyPath + " HTTP/1.1\r\nHost: " + address.getHostString()
          + "\r\nUser-Agent: berth-probe\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      int status = status(s.getInputStream());
      return status >= 100 && status < 500;
    } catch (IOException e) {
      return false;
    }
  }

  /** The status code of an HTTP/1.x status line, -1 if there is none. */
  private static int status(InputStream in) throws IOException {
    byte[] head = new byte[12];
    int n = 0;
    while (n < head.length) {
      int r = in.read(head, n, head.length - n);
      if (r < 0) return -1;
      n += r;
    }
    String line = new String(head, StandardCharsets.US_ASCII);
    if (!line.startsWith("HTTP/1.") || line.charAt(8) != ' ') return -1;
    try {
      return Integer.parseInt(line.substring(9, 12));
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
