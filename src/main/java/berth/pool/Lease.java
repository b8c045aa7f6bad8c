package berth.pool;

import berth.supervisor.Instance;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One request's hold on a ready instance: while any lease is held the instance counts as busy and is not stopped
 * for idleness. {@link #release()} must be called exactly once when the exchange ends, however it ends; extra
 * calls are ignored. Thread-safe.
 */
public final class Lease {
  private final AppPool pool;
  private final Instance instance;
  private final AtomicBoolean released = new AtomicBoolean();

  Lease(AppPool pool, Instance instance) {
    this.pool = pool;
    this.instance = instance;
  }

  public Instance instance() {
    return instance;
  }

  public int port() {
    return instance.port();
  }

  public void release() {
    if (released.compareAndSet(false, true)) pool.release(this);
  }
}
