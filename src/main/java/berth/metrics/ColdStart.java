package berth.metrics;

import java.time.Duration;
import java.time.Instant;

/**
 * One cold start as the request that waited for it saw it, in consecutive phases that add up to {@link #total()}:
 *
 * <pre>
 *  asked ──queued──► spawning ──spawning──► spawned ──booting──► ready ──responding──► first response head
 * </pre>
 *
 * @param at when it was asked for (the first held request arrived)
 * @param instance the instance's number within the app
 * @param queued until a supervisor thread took up the start
 * @param spawning cgroup, user and {@code posix_spawn}
 * @param booting from the spawn until the app's own socket listened (and {@code ready_path} answered)
 * @param responding from ready until the head of the app's first answer reached Berth
 */
public record ColdStart(Instant at, int instance, Duration queued, Duration spawning, Duration booting, Duration responding) {
  /** From the request's arrival to its answer's head: what the client waited beyond a warm request. */
  public Duration total() {
    return queued.plus(spawning).plus(booting).plus(responding);
  }
}
