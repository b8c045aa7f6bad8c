package berth.config;

import java.time.Duration;
import java.util.Optional;

/**
 * How this node takes part in a cluster of Berth nodes sharing one PostgreSQL database: the cluster keys of
 * {@link NodeConfig#KEYS} ({@code cluster}, {@code node_name}, {@code node_address}, {@code node_capacity},
 * {@code heartbeat_interval}, {@code heartbeat_timeout}), read once at start.
 *
 * <p>Every machine may run the same node config: the name defaults to the machine's host name and the address
 * to the one it reaches the database from, so nothing in the file is per machine.
 *
 * @param enabled {@code cluster}; off: one node, every app served here
 * @param nodeName {@code node_name}, lowercase
 * @param nodeAddress {@code node_address}; empty: found at start (see {@code berth.cluster.Node})
 * @param capacity {@code node_capacity}: this node's weight in placement
 * @param heartbeatInterval {@code heartbeat_interval}
 * @param heartbeatTimeout {@code heartbeat_timeout}: a node whose heartbeat is older is gone
 */
public record ClusterConfig(boolean enabled, String nodeName, Optional<HostPort> nodeAddress, int capacity, Duration heartbeatInterval,
    Duration heartbeatTimeout) {

  /** One node, no cluster. */
  public static final ClusterConfig OFF = new ClusterConfig(false, "local", Optional.empty(), 100, Duration.ofSeconds(1), Duration.ofSeconds(5));
}
