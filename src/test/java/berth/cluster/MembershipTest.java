package berth.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import berth.config.ClusterConfig;
import berth.config.ConfigException;
import berth.config.HostPort;
import berth.store.SqlStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who is live, on a real database (an SQLite file shared by two stores, as two nodes would share PostgreSQL):
 * nodes see each other, a node that stops heartbeating is gone after the timeout, one that leaves is gone at once,
 * a name is one node's, and a suspected node is left out of placement for a while.
 */
class MembershipTest {
  private static final Duration INTERVAL = Duration.ofMillis(50);
  private static final Duration TIMEOUT = Duration.ofMillis(400);
  @TempDir Path dir;
  private final List<AutoCloseable> opened = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : opened.reversed()) c.close();
  }

  private Cluster node(String name, int port) {
    SqlStore store = SqlStore.open("jdbc:sqlite:" + dir.resolve("berth.db"));
    opened.add(store);
    ClusterConfig config = new ClusterConfig(true, name, Optional.of(new HostPort("127.0.0.1", port)), 100, INTERVAL, TIMEOUT);
    Cluster c = new Cluster(store.nodes(), config, new HostPort("127.0.0.1", port), "jdbc:sqlite:x", List::of);
    opened.add(c);
    return c;
  }

  private static List<String> candidates(Cluster c) {
    return c.placement().candidates().stream().map(Node::name).toList();
  }

  @Test
  void nodesSeeEachOtherAndANodeThatStopsHeartbeatingIsGoneAfterTheTimeout() {
    Cluster a = node("a", 18001);
    a.join(18001);
    Cluster b = node("b", 18002);
    assertThat(candidates(b)).as("b sees a as soon as it opens").containsExactly("a", "b");
    b.join(18002);
    await().atMost(Duration.ofSeconds(2)).until(() -> candidates(a).equals(List.of("a", "b")));
    assertThat(a.placement().candidates().get(1).address().getPort()).isEqualTo(18002);

    // b stops heartbeating, as if killed: gone for a after the timeout, not before
    long t0 = System.nanoTime();
    b.close();
    await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(10)).until(() -> candidates(a).equals(List.of("a")));
    long took = (System.nanoTime() - t0) / 1_000_000;
    assertThat(took).isBetween(TIMEOUT.toMillis() - 2 * INTERVAL.toMillis(), TIMEOUT.toMillis() + 10 * INTERVAL.toMillis());
    assertThat(a.status().nodes()).filteredOn(m -> m.name().equals("b")).extracting(Cluster.Member::state).containsExactly("gone");

    // b started again at the same address takes its row back, and is live again
    Cluster b2 = node("b", 18002);
    b2.join(18002);
    await().atMost(Duration.ofSeconds(2)).until(() -> candidates(a).equals(List.of("a", "b")));

    // a clean leave: gone at a's next heartbeat, well before the timeout
    t0 = System.nanoTime();
    b2.leave();
    await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10)).until(() -> candidates(a).equals(List.of("a")));
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(TIMEOUT.toMillis());
    assertThat(candidates(b2)).as("a node that left places nothing on itself").containsExactly("a");
  }

  @Test
  void aNameIsOneLiveNodesAndAnotherNodeClaimingItIsRefused() {
    Cluster a = node("web", 18011);
    a.join(18011);
    Cluster imposter = node("web", 18012);
    assertThatThrownBy(() -> imposter.join(18012)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("node_name: \"web\" is the name of another live node (its router at 127.0.0.1:18011");
  }

  @Test
  void aSuspectedNodeIsLeftOutOfPlacementForTheTimeoutThenComesBackWhileItHeartbeats() {
    Cluster a = node("a", 18021);
    a.join(18021);
    Cluster b = node("b", 18022);
    b.join(18022);
    await().atMost(Duration.ofSeconds(2)).until(() -> candidates(a).equals(List.of("a", "b")));
    List<Placement> seen = new ArrayList<>();
    a.onPlacement(seen::add);
    Node nodeB = a.placement().candidates().get(1);
    a.suspect(nodeB);
    assertThat(candidates(a)).as("at once, on the caller's thread").containsExactly("a");
    assertThat(seen.getLast().candidates()).extracting(Node::name).containsExactly("a");
    assertThat(a.status().nodes()).filteredOn(m -> m.name().equals("b")).extracting(Cluster.Member::state).containsExactly("suspected");
    await().atMost(Duration.ofSeconds(3)).until(() -> candidates(a).equals(List.of("a", "b")));
  }
}
