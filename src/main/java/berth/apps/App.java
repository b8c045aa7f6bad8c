package berth.apps;

import java.time.Duration;
import java.util.List;

/**
 * One app as configured: what a tenant deploys. Immutable; a change makes a new {@code App}.
 *
 * <p>Each component is one key, spelled the same in TOML files and (later) the REST API:
 *
 * @param name the key of {@code [apps.NAME]}: lowercase letters, digits and {@code -}, at most 63
 * @param domains {@code domains}: host names routed to this app, lowercase, matched exactly (port ignored)
 * @param launch {@code command}, {@code directory} and {@code env}
 * @param idleTimeout {@code idle_timeout} (default 5m): stop the instance after this long without requests
 * @param startTimeout {@code start_timeout} (default 60s): how long a starting instance may take to answer
 * @param stopTimeout {@code stop_timeout} (default 10s): after {@code stop_signal}, how long before SIGKILL
 * @param stopSignal {@code stop_signal} (default TERM): the signal that asks the app to stop
 * @param maxQueue {@code max_queue} (default 100): requests held while the app starts; more get 503
 * @param memoryLimit {@code memory_limit} (default none, 0): bytes of memory for each instance's whole process
 *     tree; above it the kernel kills a process, which Berth reports as "out of memory"
 * @param pidsLimit {@code pids_limit} (default none, 0): processes and threads per instance
 * @param cpuWeight {@code cpu_weight} (default 100): share of CPU under contention, 1 to 10000
 * @param memoryRecycle {@code memory_recycle} (default none, 0): above this many bytes an instance is replaced
 *     gracefully (a new one starts and takes the traffic, the old one drains and stops)
 * @param maxRequests {@code max_requests} (default none, 0): replace an instance gracefully after this many
 * @param maxLifetime {@code max_lifetime} (default none, zero): replace an instance gracefully after this long
 * @param user {@code user} (default: Berth's own user): the Unix user the app runs as, with its groups and HOME
 * @param group {@code group} (default: the user's primary group)
 * @param readyPath {@code ready_path} (default none, null): ready means {@code GET ready_path} answers with a
 *     status below 500, not just that the port accepts connections
 */
public record App(
    String name,
    List<String> domains,
    Launch launch,
    Duration idleTimeout,
    Duration startTimeout,
    Duration stopTimeout,
    StopSignal stopSignal,
    int maxQueue,
    long memoryLimit,
    int pidsLimit,
    int cpuWeight,
    long memoryRecycle,
    long maxRequests,
    Duration maxLifetime,
    String readyPath,
    String user,
    String group) {

  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
  public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(10);
  public static final int DEFAULT_MAX_QUEUE = 100;
  public static final int DEFAULT_CPU_WEIGHT = 100;

  /** Whether this app asks for limits (or memory accounting) that only cgroups can give. */
  public boolean limited() {
    return memoryLimit > 0 || memoryRecycle > 0 || pidsLimit > 0 || cpuWeight != DEFAULT_CPU_WEIGHT;
  }

  public App {
    domains = List.copyOf(domains);
  }
}
