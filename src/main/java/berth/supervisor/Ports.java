package berth.supervisor;

import berth.config.PortRange;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.BitSet;

/**
 * Hands out ports from the configured range so that no two live instances share one. A port is handed out in two
 * steps: {@link #take()} picks one no live instance has, without a system call, so that the thread asking (a
 * router event loop, on a cold start) never waits for the kernel; {@link #confirm} then checks, on the start
 * thread just before the spawn, that nothing else on the machine holds it, and trades it for another if something
 * does. A port returns to the range when its instance is gone entirely. Ports are handed out in turn around the
 * range, so a port just given back is the last to be reused.
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

  /** A port no live instance has, or -1 when every port of the range is taken. No system call. */
  public synchronized int take() {
    for (int tried = 0; tried < range.size(); tried++) {
      int port = next;
      next = port == range.to() ? range.from() : port + 1;
      if (used.get(port - range.from())) continue;
      used.set(port - range.from());
      return port;
    }
    return -1;
  }

  /**
   * {@code port} (from {@link #take()}) if nothing on the machine holds it now; else another taken port that
   * nothing holds, {@code port} going back to the range; -1 (and nothing taken) when no port of the range is free.
   * Binds a socket to each port it checks: call it from a thread that may block.
   */
  public int confirm(int port) {
    int p = port;
    for (int tried = 0; tried < range.size(); tried++) {
      if (bindable(p)) return p;
      int other = take();
      release(p);
      if (other < 0) return -1;
      p = other;
    }
    release(p);
    return -1;
  }

  public synchronized void release(int port) {
    if (port >= range.from() && port <= range.to()) used.clear(port - range.from());
  }

  public synchronized int inUse() {
    return used.cardinality();
  }

  /** Whether a socket could listen on 127.0.0.1:{@code port} now; port 0 only runs the code (see {@link Warmup}). */
  static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
