package berth.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Weighted rendezvous placement: every node agrees, shares follow capacity, and a change moves only what it must. */
class PlacementTest {
  private static final int APPS = 20_000;

  private static Node node(String name, int capacity) {
    return new Node(name, InetSocketAddress.createUnresolved("10.0.0." + (name.hashCode() & 0x7f), 8080), capacity);
  }

  private static Placement placement(String self, Map<String, Integer> replicas, Node... nodes) {
    return new Placement(self, List.of(nodes), replicas, "s3cret");
  }

  private static Map<String, String> firstOwners(Placement p) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < APPS; i++) out.put("app" + i, p.owners("app" + i).getFirst().name());
    return out;
  }

  @Test
  void everyNodeComputesTheSameOwnersWhateverOrderItListsTheNodesIn() {
    Node a = node("a", 100), b = node("b", 100), c = node("c", 300);
    List<Node> shuffled = new ArrayList<>(List.of(a, b, c));
    Collections.shuffle(shuffled, new java.util.Random(7));
    Placement fromA = placement("a", Map.of("wide", 2), a, b, c);
    Placement fromC = new Placement("c", shuffled, Map.of("wide", 2), "s3cret");
    for (String app : List.of("blog", "shop", "wide", "x", "app-17")) {
      assertThat(fromC.owners(app)).as(app).isEqualTo(fromA.owners(app));
    }
    // pinned: nodes of two versions of Berth must place alike, so the hash may never change unnoticed
    assertThat(Placement.hash("web1", "blog")).isEqualTo(2600599076618603185L);
    assertThat(Placement.hash("web2", "blog")).isEqualTo(7884526303365123632L);
  }

  @Test
  void appsAreSharedInProportionToCapacity() {
    Placement p = placement("a", Map.of(), node("a", 100), node("b", 200), node("c", 100));
    Map<String, Integer> count = new HashMap<>();
    firstOwners(p).values().forEach(n -> count.merge(n, 1, Integer::sum));
    assertThat(count.get("a") / (double) APPS).isCloseTo(0.25, within(0.015));
    assertThat(count.get("b") / (double) APPS).isCloseTo(0.50, within(0.015));
    assertThat(count.get("c") / (double) APPS).isCloseTo(0.25, within(0.015));
  }

  @Test
  void aNodeJoiningTakesOnlyAppsItNowOwnsAndFromEveryoneInProportion() {
    Node a = node("a", 100), b = node("b", 100), c = node("c", 100), d = node("d", 100);
    Map<String, String> before = firstOwners(placement("a", Map.of(), a, b, c));
    Map<String, String> after = firstOwners(placement("a", Map.of(), a, b, c, d));
    int moved = 0;
    for (var e : before.entrySet()) {
      String now = after.get(e.getKey());
      if (!now.equals(e.getValue())) {
        moved++;
        assertThat(now).as("an app that moved went to the new node").isEqualTo("d");
      }
    }
    assertThat(moved / (double) APPS).isCloseTo(0.25, within(0.015));
  }

  @Test
  void aNodeLeavingHandsOnlyItsOwnAppsToTheirRunnersUp() {
    Node a = node("a", 100), b = node("b", 300), c = node("c", 100);
    Placement all = placement("a", Map.of(), a, b, c);
    Map<String, String> before = firstOwners(all);
    Map<String, String> after = firstOwners(placement("a", Map.of(), a, c));
    for (var e : before.entrySet()) {
      if (!e.getValue().equals("b")) assertThat(after.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
    }
    // and b's apps go to the node that came second for each of them
    for (int i = 0; i < 200; i++) {
      String app = "app" + i;
      if (before.get(app).equals("b")) {
        assertThat(after.get(app)).isEqualTo(Placement.rank(app, List.of(a, b, c), 2)[1].name());
      }
    }
  }

  @Test
  void anAppOnSeveralNodesHasThatManyDistinctOwnersAndAllNodesWhenFewerAreLive() {
    Node a = node("a", 100), b = node("b", 100), c = node("c", 100);
    Placement p = placement("a", Map.of("two", 2, "many", 5), a, b, c);
    assertThat(p.owners("two")).hasSize(2).doesNotHaveDuplicates();
    assertThat(p.owners("many")).containsExactlyInAnyOrder(a, b, c);
    assertThat(p.owners("one")).hasSize(1);
  }

  @Test
  void aRequestIsServedHereOnlyOnAnOwnerAndElseGoesToAnOwner() {
    Node a = node("a", 100), b = node("b", 100), c = node("c", 100);
    Placement fromA = placement("a", Map.of("two", 2), a, b, c);
    for (int i = 0; i < 300; i++) {
      String app = "app" + i;
      Node owner = fromA.owners(app).getFirst();
      if (owner.name().equals("a")) {
        assertThat(fromA.owns(app)).isTrue();
        assertThat(fromA.forwardTo(app)).isNull();
      } else {
        assertThat(fromA.owns(app)).isFalse();
        assertThat(fromA.forwardTo(app)).isEqualTo(owner);
      }
    }
    List<Node> owners = fromA.owners("two");
    if (!owners.contains(a)) {
      for (int i = 0; i < 50; i++) assertThat(owners).contains(fromA.forwardTo("two"));
    }
    // a node that left owns nothing and forwards everything; with no node at all, it serves what comes
    Placement left = placement("a", Map.of(), b, c);
    assertThat(left.owns("app1")).isFalse();
    assertThat(left.forwardTo("app1")).isIn(b, c);
    assertThat(placement("a", Map.of()).forwardTo("app1")).isNull();
  }

  @Test
  void withoutAClusterEveryAppIsHereAndNoRequestComesFromANode() {
    assertThat(Placement.SOLO.forwardTo("blog")).isNull();
    assertThat(Placement.SOLO.owns("blog")).isTrue();
    assertThat(Placement.SOLO.fromNode("anything")).isFalse();
    assertThat(Placement.SOLO.hopMarker()).isNull();
  }

  @Test
  void onlyTheClusterSecretMarksARequestAsComingFromANode() {
    Placement p = placement("a", Map.of(), node("a", 100));
    assertThat(p.fromNode(p.hopMarker())).isTrue();
    assertThat(p.fromNode("s3cret")).isTrue();
    assertThat(p.fromNode("s3cres")).isFalse();
    assertThat(p.fromNode("")).isFalse();
    assertThat(p.fromNode(null)).isFalse();
  }
}
