package berth.store;

/** A write the store refused; the message says why in words a user can act on. */
public sealed class StoreException extends RuntimeException {
  StoreException(String message) {
    super(message);
  }

  StoreException(String message, Throwable cause) {
    super(message, cause);
  }

  /** No app of that name. */
  public static final class NotFound extends StoreException {
    public NotFound(String app) {
      super("no app named " + app);
    }
  }

  /** The app changed since the writer read it. */
  public static final class VersionMismatch extends StoreException {
    private final long current;

    public VersionMismatch(String app, long expected, long current) {
      super("app " + app + " is at version " + current + ", not " + expected + " (someone else changed it; read it again)");
      this.current = current;
    }

    public long current() {
      return current;
    }
  }

  /** The name or a domain is already taken. */
  public static final class Conflict extends StoreException {
    private final String field;

    public Conflict(String field, String message) {
      super(message);
      this.field = field;
    }

    /** The key the conflict is about, e.g. {@code name} or {@code domains}. */
    public String field() {
      return field;
    }
  }

  /** The database failed (unreachable, full, corrupt); nothing was written. */
  public static final class Unavailable extends StoreException {
    public Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
