package berth.pool;

/** An operation named an app the pool does not have (never created, or deleted). */
public final class NoSuchApp extends RuntimeException {
  private final String app;

  public NoSuchApp(String app) {
    super("no app named " + app, null, false, false);
    this.app = app;
  }

  public String app() {
    return app;
  }
}
