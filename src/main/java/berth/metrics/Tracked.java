package berth.metrics;

import berth.supervisor.Instance;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One instance from its start until it is gone, as metrics follow it: which app counts it, whether it was a cold
 * start and its first answer already counted, and what metering last read of it. Metering state guarded by this.
 */
final class Tracked {
  final Instance instance;
  final AppMeters meters;
  final Metering.Account account;
  /** Started for held requests (a cold start), not by an operator or as a replacement. */
  final boolean cold;
  final Instant startedAt;
  final AtomicBoolean responded = new AtomicBoolean();

  // metering, guarded by this
  /** CPU time of its tree as last read, nanoseconds (0 at its start: a new cgroup has used none). */
  long cpuNanos;
  /** Memory as last read, bytes. */
  long memoryBytes;
  /** When it was last sampled, epoch milliseconds. */
  long sampledAt;
  /** Its final sample was taken: nothing more is added for it. */
  boolean done;

  Tracked(Instance instance, AppMeters meters, Metering.Account account, boolean cold, Instant startedAt) {
    this.instance = instance;
    this.meters = meters;
    this.account = account;
    this.cold = cold;
    this.startedAt = startedAt;
    this.sampledAt = startedAt.toEpochMilli();
  }

  synchronized double cpuSeconds() {
    return cpuNanos / 1e9;
  }
}
