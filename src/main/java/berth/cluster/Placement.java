package berth.cluster;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Which nodes own which app, as this node sees the cluster now: an immutable snapshot (live nodes, each app's
 * {@code nodes} count, the cluster's secret), replaced whole when a node comes or goes or the catalog changes. The
 * router asks it per request ({@link #forwardTo}): one map probe once an app's owners are known.
 *
 * <p><b>Rendezvous hashing, weighted.</b> For an app every candidate node gets a score from a hash of (node name,
 * app name) and its capacity, {@code -capacity / ln(u)} with {@code u} the hash mapped into (0, 1); the {@code n}
 * highest scores own the app (Schindelhauer and Schomaker, "Weighted distributed hash tables", 2005: each node
 * is first with probability {@code capacity / total}). Every node computes the same owners from the same live
 * nodes, with no coordination; a node joining takes from each other node only the apps it now scores highest on,
 * and a node leaving hands only its own apps to their runners-up: nothing else moves.
 *
 * <p>Thread-safe: immutable but for a memo of owners per app, filled on first use.
 */
public final class Placement {
  /** No cluster: every app is served here, and no request may claim to come from a node. */
  public static final Placement SOLO = new Placement(null, List.of(), Map.of(), null);

  private final String self;
  private final List<Node> candidates;
  private final Map<String, Integer> replicas;
  private final byte[] secret;
  private final ConcurrentHashMap<String, Node[]> owners = new ConcurrentHashMap<>();

  /**
   * @param self this node's name
   * @param candidates the nodes that may own apps: live, not suspected; this node among them unless it left
   * @param replicas each app's {@code nodes} key where it is not 1
   * @param secret the cluster's secret, which marks requests forwarded by a node
   */
  Placement(String self, List<Node> candidates, Map<String, Integer> replicas, String secret) {
    this.self = self;
    this.candidates = List.copyOf(candidates);
    this.replicas = Map.copyOf(replicas);
    this.secret = secret == null ? null : secret.getBytes(StandardCharsets.US_ASCII);
  }

  /** Whether this is a cluster (else every app is here). */
  public boolean clustered() {
    return self != null;
  }

  /** The nodes apps are placed on, by name. */
  public List<Node> candidates() {
    return candidates;
  }

  /** The {@code nodes} count of each app placed on more or fewer than one node. */
  Map<String, Integer> replicas() {
    return replicas;
  }

  /**
   * Where a request for {@code app} goes from this node: null to serve it here (this node is an owner, or there
   * is no cluster, or no node at all), else the owner to forward it to (one of them at random when several).
   */
  public Node forwardTo(String app) {
    if (self == null) return null;
    Node[] o = ownersOf(app);
    if (o.length == 0) return null;
    for (Node n : o) {
      if (n.name().equals(self)) return null;
    }
    return o.length == 1 ? o[0] : o[ThreadLocalRandom.current().nextInt(o.length)];
  }

  /** Whether this node is an owner of {@code app}: it runs it (always true without a cluster). */
  public boolean owns(String app) {
    if (self == null) return true;
    for (Node n : ownersOf(app)) {
      if (n.name().equals(self)) return true;
    }
    return false;
  }

  /** The owners of {@code app}, best first. */
  public List<Node> owners(String app) {
    return List.of(ownersOf(app));
  }

  private Node[] ownersOf(String app) {
    Node[] o = owners.get(app);
    if (o == null) {
      o = rank(app, candidates, replicas.getOrDefault(app, 1));
      owners.put(app, o);
    }
    return o;
  }

  /** The {@code count} nodes of {@code nodes} with the highest scores for {@code app}, best first. */
  static Node[] rank(String app, List<Node> nodes, int count) {
    if (nodes.isEmpty()) return new Node[0];
    if (nodes.size() == 1) return new Node[] {nodes.get(0)};
    List<Node> sorted = new ArrayList<>(nodes);
    // ties (practically impossible) go to the smaller name, so every node still agrees
    sorted.sort(Comparator.comparingDouble((Node n) -> -score(n.name(), app, n.capacity())).thenComparing(Node::name));
    return sorted.subList(0, Math.min(count, sorted.size())).toArray(Node[]::new);
  }

  /** The weighted rendezvous score of {@code node} for {@code app}: {@code -capacity / ln(u)}, u in (0, 1). */
  static double score(String node, String app, int capacity) {
    long h = hash(node, app);
    double u = ((h >>> 11) + 0.5) / (double) (1L << 53); // 53 random bits, never 0 or 1
    return -capacity / Math.log(u);
  }

  /**
   * 64 bits from (node, app), the same in every JVM: FNV-1a over both names' UTF-16 units (a 0 between them),
   * then the SplitMix64 finalizer so that names differing in one letter get unrelated scores.
   */
  static long hash(String node, String app) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < node.length(); i++) h = (h ^ node.charAt(i)) * 0x100000001b3L;
    h = (h ^ 0) * 0x100000001b3L;
    for (int i = 0; i < app.length(); i++) h = (h ^ app.charAt(i)) * 0x100000001b3L;
    h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
    h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
    return h ^ (h >>> 31);
  }

  /** The value of the marker this node puts in a request it forwards; null without a cluster. */
  public String hopMarker() {
    return secret == null ? null : new String(secret, StandardCharsets.US_ASCII);
  }

  /** Whether {@code marker} (the value of a request's forwarding marker) says a node sent it; in constant time. */
  public boolean fromNode(String marker) {
    return secret != null && marker != null && MessageDigest.isEqual(secret, marker.getBytes(StandardCharsets.US_ASCII));
  }

  @Override
  public String toString() {
    return self == null ? "no cluster" : "placement over " + Arrays.toString(candidates.stream().map(Node::name).toArray());
  }
}
