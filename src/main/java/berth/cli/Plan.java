package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What {@code berth apply} changes to make Berth's apps those of a file: the diff, key by key, and an order in
 * which the changes can be made one app at a time. Pure: no I/O; both sides are apps in canonical JSON (every
 * key), so equal apps compare equal and the plan of an applied file is empty.
 *
 * <p>The changes are sent as one batch ({@code POST /v1/batch}, one transaction): domains may move or swap between
 * apps of the file; a domain held by an app the file does not change is refused before anything changes.
 */
record Plan(List<Change> changes, List<String> unchanged, List<String> notInFile) {

  enum Action { CREATE, UPDATE, DELETE }

  /**
   * One app's change.
   *
   * @param version the version it had when read (If-Match of the write); 0 for a create
   * @param app the wanted app (null for a delete)
   * @param diff {@code key: old -> new} lines, or {@code key = value} for a create
   */
  record Change(Action action, String name, long version, ObjectNode app, List<String> diff) {}

  /** A stored app: its version and canonical JSON. */
  record Current(long version, ObjectNode app) {}

  /**
   * The changes that make {@code current} equal to {@code wanted}, ordered so that every domain is released before
   * it is taken; apps not in {@code wanted} are deleted only if {@code prune}. {@code defaults} are the canonical
   * values of keys with defaults, to show a create by what it sets.
   */
  static Plan of(Map<String, ObjectNode> wanted, Map<String, Current> current, boolean prune, Map<String, JsonNode> defaults) {
    List<Change> changes = new ArrayList<>();
    List<String> unchanged = new ArrayList<>();
    List<String> notInFile = new ArrayList<>();
    for (var e : wanted.entrySet()) {
      Current c = current.get(e.getKey());
      if (c == null) {
        List<String> diff = new ArrayList<>();
        e.getValue().properties().forEach(kv -> {
          if (!kv.getKey().equals("name") && !kv.getValue().isNull() && !kv.getValue().equals(defaults.get(kv.getKey()))) {
            diff.add(kv.getKey() + " = " + kv.getValue());
          }
        });
        changes.add(new Change(Action.CREATE, e.getKey(), 0, e.getValue(), diff));
      } else {
        List<String> diff = diff(c.app(), e.getValue());
        if (diff.isEmpty()) unchanged.add(e.getKey());
        else changes.add(new Change(Action.UPDATE, e.getKey(), c.version(), e.getValue(), diff));
      }
    }
    for (var e : new TreeMap<>(current).entrySet()) {
      if (wanted.containsKey(e.getKey())) continue;
      if (prune) changes.add(new Change(Action.DELETE, e.getKey(), e.getValue().version(), null, List.of()));
      else notInFile.add(e.getKey());
    }
    return new Plan(order(changes, current), unchanged, notInFile);
  }

  boolean isEmpty() {
    return changes.isEmpty();
  }

  long count(Action a) {
    return changes.stream().filter(c -> c.action() == a).count();
  }

  /** Keys whose values differ, as {@code key: old -> new} (JSON values, so "5m" and 5 are told apart). */
  static List<String> diff(ObjectNode before, ObjectNode after) {
    Set<String> keys = new LinkedHashSet<>();
    before.fieldNames().forEachRemaining(keys::add);
    after.fieldNames().forEachRemaining(keys::add);
    List<String> out = new ArrayList<>();
    for (String k : keys) {
      JsonNode b = before.path(k);
      JsonNode a = after.path(k);
      boolean bNone = b.isMissingNode() || b.isNull();
      boolean aNone = a.isMissingNode() || a.isNull();
      if (bNone && aNone) continue;
      if (!b.equals(a)) out.add(k + ": " + (bNone ? "none" : b.toString()) + " -> " + (aNone ? "none" : a.toString()));
    }
    return out;
  }

  /**
   * The changes, checked: they go to Berth as one transaction (all domains of the apps changed or deleted are
   * released before any is taken), so domains may move or even swap between apps of the plan; a domain held by
   * an app the plan does not touch is refused here, before anything changes. Listed deletes first, then the rest.
   */
  private static List<Change> order(List<Change> changes, Map<String, Current> current) {
    Map<String, String> owner = new HashMap<>();
    current.forEach((name, c) -> c.app().path("domains").forEach(d -> owner.put(d.asText(), name)));
    Set<String> touched = new java.util.HashSet<>();
    changes.forEach(c -> touched.add(c.name()));
    List<String> why = new ArrayList<>();
    for (Change c : changes) {
      blockers(c, owner).forEach((d, other) -> {
        if (!touched.contains(other)) {
          why.add("apps." + c.name() + ".domains: \"" + d + "\" is a domain of app " + other
              + " (which the file does not change; add --prune or give the domain up there first)");
        }
      });
    }
    if (!why.isEmpty()) throw new CliFailure(ExitCode.CONFLICT, "cannot apply the file, nothing was changed:\n  " + String.join("\n  ", why));
    List<Change> ordered = new ArrayList<>();
    changes.stream().filter(c -> c.action() == Action.DELETE).forEach(ordered::add);
    changes.stream().filter(c -> c.action() != Action.DELETE).forEach(ordered::add);
    return ordered;
  }

  /** The domains {@code c} wants that another app holds now, with that app. */
  private static Map<String, String> blockers(Change c, Map<String, String> owner) {
    Map<String, String> out = new TreeMap<>();
    if (c.app() == null) return out;
    for (JsonNode d : c.app().path("domains")) {
      String other = owner.get(d.asText());
      if (other != null && !other.equals(c.name())) out.put(d.asText(), other);
    }
    return out;
  }
}
