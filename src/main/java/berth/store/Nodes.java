package berth.store;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The nodes of a cluster as the shared database has them ({@code nodes} table): each node registers itself,
 * writes a heartbeat every interval and reads everyone's. Times come from the database's clock, so machines whose
 * clocks disagree still agree on how old a heartbeat is. What a row means (live, gone) is the cluster's business,
 * not the store's.
 *
 * <p>Thread-safe; each call is one statement or one transaction; a failure of the database is a
 * {@link StoreException.Unavailable}.
 */
public interface Nodes {

  /**
   * One node as registered.
   *
   * @param address where its router is reached by the other nodes ({@code host:port})
   * @param incarnation one run of the node: a node started again under the same name has a new one
   * @param startedAt when it registered, milliseconds since the epoch by the database's clock
   * @param heartbeatAge how long ago its last heartbeat was written, by the database's clock
   * @param running the apps with a ready instance on it, as of its last heartbeat
   */
  record Row(String name, String address, int capacity, String incarnation, long startedAt, Duration heartbeatAge, List<String> running) {}

  /** The row of {@code name}, if it is registered. */
  Optional<Row> find(String name);

  /** Registers (or registers again) {@code name} as {@code incarnation}, with a heartbeat written now. */
  void register(String name, String address, int capacity, String incarnation);

  /**
   * Writes the heartbeat of {@code name} with the apps running on it; false when the row is not {@code
   * incarnation}'s any more (another node took the name, or it was removed as gone), and nothing was written.
   */
  boolean heartbeat(String name, String incarnation, List<String> running);

  /** Every registered node, by name. */
  List<Row> all();

  /** Removes the row of {@code name} if it is still {@code incarnation}'s: a clean leave. */
  void leave(String name, String incarnation);

  /** Removes the rows whose heartbeat is older than {@code age} (nodes gone long ago); returns how many. */
  int forget(Duration age);

  /**
   * The cluster's secret, made by the first node that asks and the same for every node after: a node puts it
   * in the marker of a request it forwards, so that only nodes can ask another node to serve without placing.
   */
  String secret();
}
