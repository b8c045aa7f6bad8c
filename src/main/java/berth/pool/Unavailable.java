package berth.pool;

import berth.supervisor.StartFailure;
import java.time.Duration;

/**
 * Why no instance can take a request now; the router answers each kind with 503 and a page that says why.
 * Failures the user must see are values: {@link #reason()} is matched, never the message.
 */
public final class Unavailable extends RuntimeException {
  /** The kinds of "no instance for you". */
  public sealed interface Reason {}

  /** The instance this request waited for did not start; no new start for {@code retryIn}. */
  public record StartFailed(StartFailure failure, Duration retryIn) implements Reason {}

  /** The app failed {@code failures} times in a row; Berth waits {@code retryIn} before starting it again. */
  public record BackingOff(StartFailure last, Duration retryIn) implements Reason {}

  /** {@code max_queue} requests already wait for this app. */
  public record QueueFull(int limit) implements Reason {}

  /** The node's budget had no room for an instance within {@code start_timeout}; {@code why} says what is full. */
  public record NoRoom(String why) implements Reason {}

  /** Berth is stopping, or the app was removed. */
  public record Closing(String why) implements Reason {}

  private final String app;
  private final Reason reason;

  public Unavailable(String app, Reason reason) {
    super(null, null, false, false);
    this.app = app;
    this.reason = reason;
  }

  /** The instance did not pass its last checks after answering: {@code cause} should carry its StartFailure. */
  public static Unavailable of(String app, Throwable cause) {
    if (cause instanceof Unavailable u) return u;
    StartFailure f = cause instanceof berth.supervisor.StartFailedException s ? s.failure()
        : new StartFailure(app, StartFailure.Step.WAIT_READY, String.valueOf(cause), Duration.ZERO, java.util.List.of());
    return new Unavailable(app, new StartFailed(f, Duration.ofSeconds(1)));
  }

  public String app() {
    return app;
  }

  public Reason reason() {
    return reason;
  }

  /** What to put in {@code Retry-After}. */
  public Duration retryAfter() {
    return switch (reason) {
      case QueueFull q -> Duration.ofSeconds(1);
      case StartFailed f -> f.retryIn();
      case BackingOff b -> b.retryIn();
      case Closing c -> Duration.ofSeconds(5);
      case NoRoom n -> Duration.ofSeconds(5);
    };
  }

  @Override
  public String getMessage() {
    return app + ": " + switch (reason) {
      case StartFailed f -> "did not start: " + f.failure().reason();
      case BackingOff b -> "backing off after failing: " + b.last().reason();
      case QueueFull q -> q.limit() + " requests already wait for it to start (max_queue)";
      case Closing c -> c.why();
      case NoRoom n -> "no room to start it: " + n.why();
    };
  }
}
