package berth.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * Bytes exactly as written, on a raw socket: for requests no well-behaved client would send. Reads what comes
 * back until the server closes the connection or {@code quietMs} pass with nothing more.
 */
public final class RawHttp {
  private RawHttp() {}

  /** What came back: the bytes as text, and whether the server closed the connection. */
  public record Answer(String text, boolean closed) {
    /** The status code of the first response, or -1 if there was none. */
    public int status() {
      if (!text.startsWith("HTTP/1.")) return -1;
      return Integer.parseInt(text.substring(9, 12));
    }

    /** How many responses (status lines) came back. */
    public int responses() {
      int n = 0;
      for (int i = text.indexOf("HTTP/1."); i >= 0; i = text.indexOf("HTTP/1.", i + 1)) {
        if (i == 0 || text.startsWith("\n", i - 1)) n++;
      }
      return n;
    }
  }

  public static Answer exchange(int port, String request, int quietMs) {
    return exchange(port, request.getBytes(StandardCharsets.ISO_8859_1), quietMs);
  }

  public static Answer exchange(int port, byte[] request, int quietMs) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout(quietMs);
      s.getOutputStream().write(request);
      s.getOutputStream().flush();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      boolean closed = false;
      try {
        for (int n; ; ) {
          n = in.read(buf);
          if (n < 0) {
            closed = true;
            break;
          }
          got.write(buf, 0, n);
        }
      } catch (SocketTimeoutException e) {
        // quiet: the server has said what it will say and keeps the connection open
      } catch (IOException e) {
        closed = true; // reset
      }
      return new Answer(got.toString(StandardCharsets.ISO_8859_1), closed);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
