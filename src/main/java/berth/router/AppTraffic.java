package berth.router;

import berth.supervisor.Instance;

/**
 * One app's request counters, called by {@link Exchange} on the client connection's event loop, several loops at
 * once: implementations must be thread-safe, never block, and cost no more than a few increments. For every
 * {@link #begun} there is exactly one {@link #ended}.
 */
public interface AppTraffic {
  /** Nobody counts. */
  AppTraffic NONE = new AppTraffic() {
    @Override
    public void begun() {}

    @Override
    public void waited(long nanos) {}

    @Override
    public void firstResponse(Instance instance, long nanoTime) {}

    @Override
    public void ended(int status, long nanos, long bytesIn, long bytesOut) {}
  };

  /** A request was routed to the app: it is in flight until {@link #ended}. */
  void begun();

  /** The request waited {@code nanos} for an instance (queued while one started); not called when one was ready. */
  void waited(long nanos);

  /**
   * The head of the app's answer to a request that waited for {@code instance} arrived at {@code nanoTime}
   * ({@link System#nanoTime()}): with the instance's {@link Instance#startTimes()}, the whole of a cold start.
   * Called for each request that waited; the first for an instance is the one that counts.
   */
  void firstResponse(Instance instance, long nanoTime);

  /**
   * The exchange ended, however: {@code status} as the access log has it (the app's, Berth's own 502/503/504, 499
   * when the client left before an answer), {@code nanos} from its head's arrival to its end, and the body bytes
   * that went each way (a tunnel's bytes included).
   */
  void ended(int status, long nanos, long bytesIn, long bytesOut);
}
