package berth.metrics;

import java.time.Instant;

/**
 * Something that went wrong with one instance, as the status and the dashboard list them.
 *
 * @param kind {@code start_failed} (never ready), {@code crashed} (ended on its own while serving) or {@code
 *     oom_killed} (the kernel killed it for want of memory while serving)
 * @param reason one sentence, as the app's log and the 503 page say it
 */
public record Failure(Instant at, int instance, String kind, String reason) {}
