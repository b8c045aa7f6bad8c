package berth.router;

/**
 * Who counts the requests the router handles (metrics). Per app, its {@link AppTraffic} is asked for once when
 * the route table is built and kept in the route, so a request costs a few counter increments and no lookup.
 *
 * <p>{@link #app} runs on the thread that applies a catalog; {@link #answered} on event loops, and must not block.
 */
public interface Traffic {
  /** Nobody counts. */
  Traffic NONE = new Traffic() {
    @Override
    public AppTraffic app(String name) {
      return AppTraffic.NONE;
    }

    @Override
    public void answered(int status) {}
  };

  /** The counters of app {@code name}; the same object for the same name while the app exists. */
  AppTraffic app(String name);

  /** Berth answered a request itself, before any app: unknown host (404), malformed request (400, 414, 431, 505). */
  void answered(int status);
}
