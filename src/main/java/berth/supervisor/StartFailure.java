package berth.supervisor;

import java.time.Duration;
import java.util.List;

/**
 * Why an instance did not become ready, or stopped serving on its own: one record that feeds the 503 page, the app's log and (later) the API.
 *
 * @param app the app
 * @param step what Berth was doing when it failed
 * @param reason one sentence for people, e.g. {@code exited with status 3 before answering on port 20001}
 * @param after time from the start to the failure
 * @param lastLines the instance's last lines of output, oldest first
 */
public record StartFailure(String app, Step step, String reason, Duration after, List<String> lastLines) {
  public enum Step {
    /** Choosing a port or creating the process. */
    SPAWN,
    /** The process runs; Berth waits for it to answer on its port. */
    WAIT_READY,
    /** It was ready and serving, then ended on its own (crashed, was OOM-killed). */
    RUNNING
  }

  public StartFailure {
    lastLines = List.copyOf(lastLines);
  }
}
