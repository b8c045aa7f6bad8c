package berth.pool;

import berth.supervisor.Instance;

/**
 * What the pool decides about instances, for whoever counts (metrics): an instance started, an instance being
 * recycled. What happens to an instance after its start (ready, with its {@link Instance#startTimes()}; did not
 * start; crashed, OOM-killed or not; gone) is on the {@link Instance} itself ({@link Instance#ready()}, {@link
 * Instance#gone()}, {@link Instance#endReason()}, {@link Instance#oomKilled()}), which a listener watches from
 * {@link #started} on: the pool reports only what only it knows.
 *
 * <p>Called under the app's pool lock, from event loops, supervisor and timer threads: an implementation must
 * only count or hand off, never block, and never call back into the pool.
 */
public interface PoolEvents {
  /** Nobody listens. */
  PoolEvents NONE = new PoolEvents() {};

  /**
   * {@code instance} was just asked of the supervisor ({@code supervisor.start} returned it; it may have failed
   * already). {@code forRequests}: requests are held for it (a cold start), not an operator's start or a
   * replacement.
   */
  default void started(Instance instance, boolean forRequests) {}

  /** {@code old} is being recycled ({@code max_requests}, {@code max_lifetime}, {@code memory_recycle}): its replacement starts now. */
  default void recycled(Instance old, String why) {}
}
