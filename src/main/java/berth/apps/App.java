package berth.apps;

import java.time.Duration;
import java.util.List;

/**
 * One app as configured: what a tenant deploys. Immutable; a change makes a new {@code App}.
 *
 * <p>Each component is one key of {@link AppKeys}, which defines its name, type, default, unit and meaning once
 * for files, the API, the CLI and the database (and docs/CONFIG.md lists). "None" is 0 for numbers and sizes,
 * {@link Duration#ZERO} for {@code max_lifetime}, null for strings.
 *
 * @param name {@code name}
 * @param domains {@code domains}, normalized (lowercase, no trailing dot)
 * @param launch {@code command} (null: the Procfile's {@code web:} line), {@code directory} (absolute) and {@code env}
 * @param idleTimeout {@code idle_timeout}
 * @param startTimeout {@code start_timeout}
 * @param stopTimeout {@code stop_timeout}
 * @param stopSignal {@code stop_signal}
 * @param maxQueue {@code max_queue}
 * @param memoryLimit {@code memory_limit} in bytes
 * @param pidsLimit {@code pids_limit}
 * @param cpuWeight {@code cpu_weight}
 * @param memoryRecycle {@code memory_recycle} in bytes
 * @param maxRequests {@code max_requests}
 * @param maxLifetime {@code max_lifetime}
 * @param readyPath {@code ready_path}
 * @param user {@code user}
 * @param group {@code group}
 * @param requestTimeout {@code request_timeout}; null for the router's
 * @param maxBodySize {@code max_body_size} in bytes
 * @param minInstances {@code min_instances}
 * @param maxInstances {@code max_instances}
 * @param concurrency {@code concurrency}
 * @param nodes {@code nodes}: how many nodes of a cluster own the app (1 without a cluster)
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
    String group,
    Duration requestTimeout,
    long maxBodySize,
    int minInstances,
    int maxInstances,
    int concurrency,
    int nodes) {

  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
  public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(10);
  public static final int DEFAULT_MAX_QUEUE = 100;
  public static final int DEFAULT_CPU_WEIGHT = 100;
  public static final int DEFAULT_MAX_INSTANCES = 1;
  public static final int DEFAULT_CONCURRENCY = 10;
  public static final int DEFAULT_NODES = 1;

  /** Whether this app asks for limits (or memory accounting) that only cgroups can give. */
  public boolean limited() {
    return memoryLimit > 0 || memoryRecycle > 0 || pidsLimit > 0 || cpuWeight != DEFAULT_CPU_WEIGHT;
  }

  public App {
    domains = List.copyOf(domains);
  }

}
