package berth.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code berth apply} changes, and in which order, from the apps wanted and the apps stored. */
class PlanTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, JsonNode> DEFAULTS = Map.of("idle_timeout", JSON.getNodeFactory().textNode("5m"));

  private static ObjectNode app(String name, String... domains) {
    ObjectNode o = JSON.createObjectNode().put("name", name);
    var d = o.putArray("domains");
    for (String s : domains) d.add(s);
    o.put("idle_timeout", "5m");
    o.putNull("max_requests");
    return o;
  }

  private static Map<String, ObjectNode> wanted(ObjectNode... apps) {
    Map<String, ObjectNode> m = new LinkedHashMap<>();
    for (ObjectNode a : apps) m.put(a.path("name").asText(), a);
    return m;
  }

  private static Map<String, Plan.Current> current(ObjectNode... apps) {
    Map<String, Plan.Current> m = new LinkedHashMap<>();
    long v = 1;
    for (ObjectNode a : apps) m.put(a.path("name").asText(), new Plan.Current(v++, a));
    return m;
  }

  private static List<String> steps(Plan p) {
    return p.changes().stream().map(c -> c.action().name().toLowerCase() + " " + c.name()).toList();
  }

  @Test
  void equalAppsAreUnchangedAndOthersAreKeptUnlessPruned() {
    Plan p = Plan.of(wanted(app("a", "a.test")), current(app("a", "a.test"), app("b", "b.test")), false, DEFAULTS);
    assertThat(p.isEmpty()).isTrue();
    assertThat(p.unchanged()).containsExactly("a");
    assertThat(p.notInFile()).containsExactly("b");
    Plan pruned = Plan.of(wanted(app("a", "a.test")), current(app("a", "a.test"), app("b", "b.test")), true, DEFAULTS);
    assertThat(steps(pruned)).containsExactly("delete b");
    assertThat(pruned.changes().getFirst().version()).isEqualTo(2);
  }

  @Test
  void anUpdateListsTheKeysThatDifferAndACreateWhatItSets() {
    ObjectNode changed = app("a", "a.test").put("idle_timeout", "15m").put("max_requests", 10);
    Plan p = Plan.of(wanted(changed, app("n", "n.test")), current(app("a", "a.test")), false, DEFAULTS);
    assertThat(steps(p)).containsExactly("update a", "create n");
    assertThat(p.changes().get(0).diff()).containsExactly("idle_timeout: \"5m\" -> \"15m\"", "max_requests: none -> 10");
    assertThat(p.changes().get(1).diff()).containsExactly("domains = [\"n.test\"]");
  }

  @Test
  void aDomainMovesBetweenAppsOfTheFile() {
    // b takes x.test from a: both changes go in one batch (one transaction)
    Plan p = Plan.of(wanted(app("b", "b.test", "x.test"), app("a", "a.test")), current(app("a", "a.test", "x.test"), app("b", "b.test")), false, DEFAULTS);
    assertThat(steps(p)).containsExactlyInAnyOrder("update a", "update b");
    // a new app takes the domain of an app being deleted
    Plan q = Plan.of(wanted(app("c", "x.test")), current(app("a", "x.test")), true, DEFAULTS);
    assertThat(steps(q)).containsExactly("delete a", "create c");
  }

  @Test
  void swappedDomainsAreOneBatchButADomainOfAnAppNotInTheFileIsRefusedBeforeAnyChange() {
    Plan swap = Plan.of(wanted(app("a", "y.test"), app("b", "x.test")), current(app("a", "x.test"), app("b", "y.test")), false, DEFAULTS);
    assertThat(steps(swap)).containsExactly("update a", "update b");
    assertThatThrownBy(() -> Plan.of(wanted(app("a", "x.test")), current(app("a", "a.test"), app("z", "x.test")), false, DEFAULTS))
        .isInstanceOf(CliFailure.class)
        .hasMessageContaining("nothing was changed")
        .hasMessageContaining("\"x.test\" is a domain of app z (which the file does not change; add --prune or give the domain up there first)")
        .satisfies(e -> assertThat(((CliFailure) e).exitCode()).isEqualTo(ExitCode.CONFLICT));
  }
}
