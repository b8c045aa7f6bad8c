package berth.supervisor;

import berth.config.PortRange;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.BitSet;

/**
 * Hands out ports from the configured range so that no two live instances share one. A port is handed out only
 * if nothing on the machine listens on it now; it returns to the range when its instance is gone entirely.
 *
 * <p>Thread-safe; state guarded by this.
 */
public final class Ports {
  private final PortRange range;
  private final BitSet used = new BitSet();
  private int next;

  public Ports(PortRange range) {
    this.range = range;
    this.next = range.from();
  }

  /** A free port, or -1 when every port of the range is taken. */
  public synchronized int allocate() {
    for (int tried = 0; tried < range.size(); tried++) {
      int port = next;
      next = port == range.to() ? range.from() : port + 1;
      if (used.get(port - range.from())) continue;
      if (!bindable(port)) continue;
      used.set(port - range.from());
      return port;
    }
    return -1;
  }

  public synchronized void release(int port) {
    if (port >= range.from() && port <= range.to()) used.clear(port - range.from());
  }

  public synchronized int inUse() {
    return used.cardinality();
  }

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
