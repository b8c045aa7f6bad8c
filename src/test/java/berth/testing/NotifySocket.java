package berth.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code NOTIFY_SOCKET}, as systemd would bind it for a {@code Type=notify} service: a Unix datagram socket
 * bound by a small python3 process (not by Berth's own code, so the test checks the protocol against an
 * independent receiver). Each datagram it receives is one {@link #next} message. Closing stops the process.
 */
public final class NotifySocket implements AutoCloseable {
  private static final String RECEIVER = """
      import base64, socket, sys
      name = sys.argv[1]
      s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
      s.bind('\\0' + name[1:] if name.startswith('@') else name)
      print('BOUND', flush=True)
      while True:
          print(base64.b64encode(s.recv(4096)).decode(), flush=True)
      """;
  private final Process process;
  private final String name;
  private final LinkedBlockingQueue<String> messages = new LinkedBlockingQueue<>();

  private NotifySocket(Process process, String name) {
    this.process = process;
    this.name = name;
  }

  /** Binds {@code name}: a path, or {@code @name} for an abstract socket; returns once it is bound. */
  public static NotifySocket bind(String name) throws IOException {
    Process p = new ProcessBuilder("python3", "-c", RECEIVER, name).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String first = out.readLine();
    if (!"BOUND".equals(first)) {
      p.destroyForcibly();
      throw new IOException("the python3 receiver did not bind " + name + " (said " + first + ")");
    }
    NotifySocket s = new NotifySocket(p, name);
    Thread.ofVirtual().start(() -> {
      try {
        for (String line; (line = out.readLine()) != null; ) {
          s.messages.add(new String(Base64.getDecoder().decode(line), StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        // the receiver was stopped
      }
    });
    return s;
  }

  /** A path in {@code dir} bound as the socket. */
  public static NotifySocket bindIn(Path dir) throws IOException {
    return bind(dir.resolve("notify.sock").toAbsolutePath().toString());
  }

  /** What to put in {@code NOTIFY_SOCKET}. */
  public String name() {
    return name;
  }

  /** The next datagram, or null if none arrives within {@code seconds}. */
  public String next(long seconds) throws InterruptedException {
    return messages.poll(seconds, TimeUnit.SECONDS);
  }

  /** Datagrams until one contains {@code line} (as a whole line); those before it included. Throws on timeout. */
  public List<String> until(String line, long seconds) throws InterruptedException {
    List<String> seen = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      String m = messages.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (m == null) break;
      seen.add(m);
      if (m.lines().anyMatch(line::equals)) return seen;
    }
    throw new AssertionError("no notification with " + line + " within " + seconds + " s; got " + seen);
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    process.waitFor(5, TimeUnit.SECONDS);
  }
}
