package berth.pool;

import berth.supervisor.Instance;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One request's hold on a ready instance: while any lease is held the instance counts as busy and is not stopped
 * for idleness (a retiring instance is stopped when its last lease is released). {@link #release()} must be
 * called exactly once when the exchange ends, however it ends; extra calls are ignored. Thread-safe.
 */
public final class Lease {
  private final AppPool pool;
  private final AppPool.Slot slot;
  private final AtomicBoolean released = new AtomicBoolean();

  Lease(AppPool pool, AppPool.Slot slot) {
    this.pool = pool;
    this.slot = slot;
  }

  AppPool.Slot slot() {
    return slot;
  }

  public Instance instance() {
    return slot.instance;
  }

  public int port() {
    return slot.instance.port();
  }

  /** Where the instance listens, already resolved (no name lookup on the request path). */
  public java.net.InetSocketAddress address() {
    return slot.instance.address();
  }

  /**
   * Completes when the instance may be sent this request: at once for a ready instance; for one just started,
   * once Berth has checked that the socket answering on its port is the instance's own. The router connects
   * meanwhile and sends nothing before this completes; it fails if the check failed.
   */
  public java.util.concurrent.CompletableFuture<?> verified() {
    return slot.instance.ready();
  }

  public void release() {
    if (released.compareAndSet(false, true)) pool.release(this);
  }
}
