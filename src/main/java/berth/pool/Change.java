package berth.pool;

import java.time.Instant;
import java.util.List;

/**
 * An app's latest change of settings and what became of it, for status pages and the API: a change that
 * cannot be applied leaves the previous instance serving, and this says why.
 *
 * @param at when the pool received it
 * @param keys the keys that changed, e.g. {@code [command, env]}
 * @param outcome where applying it stands
 * @param detail what happened, in words, e.g. {@code i2 replaced by i3} or {@code i3 did not start: exited with
 *     status 3; i2 keeps serving with the previous settings}
 */
public record Change(Instant at, List<String> keys, Outcome outcome, String detail) {
  /** Where applying a change stands. */
  public enum Outcome {
    /** In force: applied to the running instance, or to the instance that replaced it, or none runs. */
    APPLIED,
    /** Under way: a replacement is starting, or new limits are being written. */
    PENDING,
    /** Not applied: the replacement did not start; the previous instance keeps serving. */
    FAILED
  }

  public Change {
    keys = List.copyOf(keys);
  }

  Change with(Outcome next, String why) {
    return new Change(at, keys, next, why);
  }
}
