package berth.supervisor;

/**
 * When an instance's start passed each step, as {@link System#nanoTime()} marks; 0 for a step not reached (yet).
 * A cold start's phases are the differences: queued ({@code asked} to {@code spawning}), spawning ({@code
 * spawning} to {@code spawned}), booting ({@code spawned} to {@code ready}); the router adds the first response.
 *
 * @param asked the instance was asked for: by the first request held for it, an operator's start, a replacement
 * @param spawning a supervisor thread took up its start (cgroup, user, then {@code posix_spawn})
 * @param spawned {@code posix_spawn} returned: the command runs
 * @param ready it was ready: its own socket listened on its port (and {@code ready_path} answered)
 */
public record StartTimes(long asked, long spawning, long spawned, long ready) {}
