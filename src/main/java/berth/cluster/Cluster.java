package berth.cluster;

import berth.apps.App;
import berth.apps.Catalog;
import berth.config.ClusterConfig;
import berth.config.ConfigException;
import berth.config.Durations;
import berth.config.HostPort;
import berth.store.Nodes;
import berth.store.StoreException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's part in a cluster of Berth nodes sharing one PostgreSQL database: its membership (register,
 * heartbeat, read the others'), who is live, and the {@link Placement} that follows, handed to listeners (the
 * router, and Berth, which stops the instances of apps this node no longer owns) each time it changes.
 *
 * <pre>
 *   new Cluster(...)  reads the nodes and the cluster's secret, computes a first placement (before the router listens)
 *   join(address)     registers this node once its router is bound; the heartbeat thread starts
 *   leave()           at shutdown: removes its row, so the others place its apps elsewhere at their next heartbeat
 * </pre>
 *
 * <p><b>Who is live</b>, from the nodes table, every age by the database's clock:
 * <ul>
 *   <li>this node, until it leaves;
 *   <li>a node whose last heartbeat is at most {@code heartbeat_timeout} old;
 *   <li>a node that was live, for as long as this node has been in touch with the database for less than
 *       {@code heartbeat_timeout}: after the database was away nobody could write a heartbeat, so an old one
 *       proves nothing yet (without this rule every node would find every other gone when the database comes
 *       back, and move every app);
 *   <li>never a node without a row (it left, or was forgotten after {@link #FORGET_AFTER}).
 * </ul>
 * While the database cannot be reached the members stay as last seen: the nodes keep serving with the placement
 * they had, and {@link #status()} says since when this node is cut off.
 *
 * <p><b>Suspected</b>: a node whose router could not be connected to ({@link #suspect}) is left out of this
 * node's placement for {@code heartbeat_timeout}, so requests go to the next owner at once rather than failing
 * until its heartbeat times out. The others learn of it at their own first failed connection, or by its heartbeat.
 *
 * <p>Threading: one platform thread, {@code berth-cluster}, writes the heartbeat and reads the table every
 * {@code heartbeat_interval}; {@link #update} comes from the store's writer, {@link #suspect} from router event
 * loops. State guarded by this; listeners are called under it, in order, and must not block.
 */
public final class Cluster implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);
  /** Rows whose heartbeat is older than this are deleted (listed as gone until then). */
  static final Duration FORGET_AFTER = Duration.ofHours(1);

  private final Nodes nodes;
  private final ClusterConfig config;
  private final String jdbcUrl;
  private final String name;
  private final int capacity;
  private final Duration interval;
  private final Duration timeout;
  private final Supplier<List<String>> running;
  private final String incarnation;
  private final HostPort listen;
  private final String secret;
  private final List<Consumer<Placement>> listeners = new CopyOnWriteArrayList<>();
  private final Thread thread;
  private volatile boolean closed;
  private volatile Placement placement;

  // State guarded by this
  private Node self;
  private boolean joined;
  private boolean left;
  private final Map<String, Node> live = new TreeMap<>();
  private List<Nodes.Row> rows = List.of();
  /** When the rows were read (System.nanoTime). */
  private long rowsAt;
  /** Since when (System.nanoTime) every heartbeat has reached the database; null while it cannot be reached. */
  private Long connectedSince;
  private Instant lastContact;
  private Instant cutOffSince;
  private String cutOffReason;
  /** Suspected node name → until when (System.nanoTime). */
  private final Map<String, Long> suspects = new HashMap<>();
  private Map<String, Integer> replicas = Map.of();
  /** When the name clash was last logged (System.nanoTime); heartbeat thread only. */
  private long lastNameClash = System.nanoTime() - Duration.ofHours(1).toNanos();

  /**
   * Reads the nodes table and the cluster's secret (made now if this is the first node ever) and computes the first
   * placement: this node and the live nodes. Throws {@link StoreException.Unavailable} when the database cannot be
   * reached: a node joins only a cluster it can see.
   *
   * @param listen the router's {@code listen} address (its host is the advertised one when it is not a wildcard)
   * @param jdbcUrl the database's URL: without {@code node_address}, this node advertises its address toward it
   * @param running the apps with a ready instance on this node, for the heartbeat (called on the cluster thread)
   */
  public Cluster(Nodes nodes, ClusterConfig config, HostPort listen, String jdbcUrl, Supplier<List<String>> running) {
    this.nodes = nodes;
    this.config = config;
    this.jdbcUrl = jdbcUrl;
    this.listen = listen;
    this.name = config.nodeName();
    this.capacity = config.capacity();
    this.interval = config.heartbeatInterval();
    this.timeout = config.heartbeatTimeout();
    this.running = running;
    byte[] random = new byte[8];
    ThreadLocalRandom.current().nextBytes(random);
    this.incarnation = HexFormat.of().formatHex(random);
    this.secret = nodes.secret();
    this.thread = Thread.ofPlatform().daemon().name("berth-cluster").unstarted(this::heartbeats);
    synchronized (this) {
      self = new Node(name, InetSocketAddress.createUnresolved(listen.host(), listen.port()), capacity);
      List<Nodes.Row> all = nodes.all();
      seen(all, System.nanoTime());
      connectedSince = System.nanoTime() - timeout.toNanos(); // this read is as good as a settled view
      judge(System.nanoTime());
      placement = build();
    }
  }

  /** This node's name ({@code node_name}). */
  public String name() {
    return name;
  }

  /** The current placement (a volatile read). */
  public Placement placement() {
    return placement;
  }

  /** Calls {@code listener} with the current placement now, then with each new one. */
  public synchronized void onPlacement(Consumer<Placement> listener) {
    listeners.add(listener);
    listener.accept(placement);
  }

  /**
   * Registers this node, its router bound to {@code routerPort}, and starts the heartbeats. The others reach it at
   * {@code node_address} (a port 0 there meaning {@code routerPort}), else as {@link Node#advertised} finds. Throws a
   * {@link ConfigException} on {@code node_name} when another live node (elsewhere) has the name; a row of this
   * node's own earlier run (same address) is taken over. Returns the address registered.
   */
  public String join(int routerPort) {
    String address = config.nodeAddress()
        .map(a -> new HostPort(a.host(), a.port() == 0 ? routerPort : a.port()).toString())
        .orElseGet(() -> Node.advertised(listen, routerPort, jdbcUrl));
    InetSocketAddress resolved = Node.resolve(address);
    Optional<Nodes.Row> existing = nodes.find(name);
    if (existing.isPresent() && existing.get().heartbeatAge().compareTo(timeout) <= 0 && !existing.get().address().equals(address)) {
      throw ConfigException.at("node_name", "\"" + name + "\" is the name of another live node (its router at " + existing.get().address()
          + ", heartbeat " + existing.get().heartbeatAge().toMillis() + " ms ago); every node needs a name of its own");
    }
    nodes.register(name, address, capacity, incarnation);
    synchronized (this) {
      self = new Node(name, resolved, capacity);
      joined = true;
      refresh(nodes.all());
      LOG.info("cluster: joined as {} (router at {}, capacity {}); live: {}", name, address, capacity, String.join(", ", live.keySet()));
    }
    thread.start();
    return address;
  }

  /** Takes the catalog's {@code nodes} counts: apps placed on more (or fewer) nodes. From the store's writer. */
  public void update(Catalog catalog) {
    Map<String, Integer> r = new HashMap<>();
    for (App app : catalog.all()) {
      if (app.nodes() != 1) r.put(app.name(), app.nodes());
    }
    synchronized (this) {
      if (r.equals(replicas)) return;
      replicas = Map.copyOf(r);
      republish();
    }
  }

  /**
   * {@code node}'s router could not be connected to: leave it out of this node's placement for {@code
   * heartbeat_timeout} (its apps go to their next owners here at once). From a router event loop; cheap.
   */
  public void suspect(Node node) {
    synchronized (this) {
      if (node.name().equals(name) || suspects.containsKey(node.name())) return;
      suspects.put(node.name(), System.nanoTime() + timeout.toNanos());
      LOG.warn("cluster: node {} did not take a connection at {}; its apps are served elsewhere for {} unless its heartbeat says otherwise",
          node.name(), node.addressText(), Durations.format(timeout));
      republish();
    }
  }

  /**
   * Leaves the cluster (at shutdown): this node's row is removed, so the others place its apps elsewhere at their
   * next heartbeat, and this node forwards whatever still reaches it. Never throws.
   */
  public void leave() {
    synchronized (this) {
      if (left) return;
      left = true;
      republish();
    }
    close(); // no heartbeat may write the row again after it is removed
    try {
      if (joined) nodes.leave(name, incarnation);
      LOG.info("cluster: {} left", name);
    } catch (StoreException e) {
      LOG.warn("cluster: could not remove {} from the nodes table ({}); the others find it gone after {}", name, e.getMessage(), Durations.format(timeout));
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- the heartbeat thread

  private void heartbeats() {
    long next = System.nanoTime();
    long lastForget = System.nanoTime();
    while (!closed) {
      beat();
      long now = System.nanoTime();
      if (now - lastForget > Duration.ofMinutes(1).toNanos()) {
        lastForget = now;
        try {
          int n = nodes.forget(FORGET_AFTER);
          if (n > 0) LOG.info("cluster: forgot {} node(s) gone for more than {}", n, Durations.format(FORGET_AFTER));
        } catch (StoreException e) {
          // the next beat says so
        }
      }
      next += interval.toNanos();
      long wait = next - System.nanoTime();
      if (wait < 0) next = System.nanoTime(); // late (a slow database): no burst of catch-up beats
      else {
        try {
          Thread.sleep(Duration.ofNanos(wait));
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** One heartbeat: write ours, read everyone's, judge who is live; or, cut off, keep the members as they were. */
  private void beat() {
    List<Nodes.Row> all;
    try {
      if (!nodes.heartbeat(name, incarnation, running.get())) reclaim();
      all = nodes.all();
    } catch (StoreException e) {
      synchronized (this) {
        if (connectedSince != null || cutOffReason == null) {
          cutOffSince = Instant.now();
          LOG.warn("cluster: cut off from the database ({}); serving with the placement as of {}: {}", e.getMessage(), lastContact, placement);
        }
        connectedSince = null;
        cutOffReason = e.getMessage();
        expireSuspects(System.nanoTime());
      }
      return;
    }
    synchronized (this) {
      if (closed && left) return;
      if (connectedSince == null) {
        connectedSince = System.nanoTime();
        LOG.info("cluster: in touch with the database again (cut off since {}); nodes whose heartbeat looks old are kept for {} while they write again",
            cutOffSince, Durations.format(timeout));
        cutOffReason = null;
        cutOffSince = null;
      }
      refresh(all);
    }
  }

  /** Our row is not ours any more: removed while we were away (write it again), or another node took the name. */
  private void reclaim() {
    if (closed) return;
    Optional<Nodes.Row> row = nodes.find(name);
    if (row.isPresent() && !row.get().incarnation().equals(incarnation) && row.get().heartbeatAge().compareTo(timeout) <= 0) {
      long now = System.nanoTime();
      if (now - lastNameClash > Duration.ofMinutes(1).toNanos()) { // said once a minute, not at every heartbeat
        lastNameClash = now;
        LOG.error("cluster: another node registered as {} (router at {}); every node needs a name of its own (node_name). "
            + "This node does not heartbeat meanwhile: the others take it for gone", name, row.get().address());
      }
      return;
    }
    Node me;
    synchronized (this) {
      me = self;
    }
    nodes.register(name, me.addressText(), capacity, incarnation);
    LOG.info("cluster: registered {} again (its row was gone)", name);
  }

  /** New rows: who is live now, and the placement if that changed. Under the lock. */
  private void refresh(List<Nodes.Row> all) {
    long now = System.nanoTime();
    seen(all, now);
    lastContact = Instant.now();
    expireSuspects(now);
    judge(now);
    republish();
  }

  private void seen(List<Nodes.Row> all, long now) {
    rows = List.copyOf(all);
    rowsAt = now;
  }

  /** Applies the rules of the class comment to {@link #rows}. */
  private void judge(long now) {
    boolean settled = connectedSince != null && now - connectedSince >= timeout.toNanos();
    Map<String, Node> next = new TreeMap<>();
    for (Nodes.Row r : rows) {
      if (r.name().equals(name)) continue;
      boolean fresh = r.heartbeatAge().compareTo(timeout) <= 0;
      if (fresh || (!settled && live.containsKey(r.name()))) {
        Node known = live.get(r.name());
        if (known != null && known.addressText().equals(r.address()) && known.capacity() == r.capacity()) {
          next.put(r.name(), known);
        } else {
          try {
            next.put(r.name(), new Node(r.name(), Node.resolve(r.address()), r.capacity()));
          } catch (RuntimeException e) {
            LOG.warn("cluster: node {} registered an address this node cannot use ({}): {}", r.name(), r.address(), e.getMessage());
          }
        }
      }
    }
    if (!left) next.put(name, self);
    if (next.equals(live)) return;
    for (String n : next.keySet()) {
      if (!live.containsKey(n) && !n.equals(name)) LOG.info("cluster: node {} is live (router at {})", n, next.get(n).addressText());
    }
    for (String n : live.keySet()) {
      if (!next.containsKey(n) && !n.equals(name)) {
        String why = rows.stream().filter(r -> r.name().equals(n)).findFirst()
            .map(r -> "last heartbeat " + r.heartbeatAge().toMillis() + " ms ago").orElse("it left");
        LOG.warn("cluster: node {} is gone ({}); its apps move to the other nodes", n, why);
      }
    }
    live.clear();
    live.putAll(next);
  }

  private void expireSuspects(long now) {
    suspects.values().removeIf(until -> until - now <= 0);
  }

  /** Builds the placement from the live nodes less the suspects; gives it to the listeners if it differs. */
  private void republish() {
    Placement p = build();
    if (p.candidates().equals(placement.candidates()) && p.replicas().equals(placement.replicas())) return;
    placement = p;
    LOG.info("cluster: {}", p);
    for (Consumer<Placement> l : listeners) {
      try {
        l.accept(p);
      } catch (RuntimeException e) {
        LOG.error("a placement listener failed", e);
      }
    }
  }

  private Placement build() {
    List<Node> candidates = new ArrayList<>();
    for (Node n : live.values()) {
      if (!suspects.containsKey(n.name()) && !(left && n.name().equals(name))) candidates.add(n);
    }
    return new Placement(name, candidates, replicas, secret);
  }

  // ---- status

  /** One node as this node sees it. {@code state}: {@code live}, {@code suspected} or {@code gone}. */
  public record Member(String name, String address, int capacity, String state, Duration heartbeatAge, Instant started, List<String> running,
      boolean self) {}

  /**
   * This node's view of the cluster.
   *
   * @param lastContact the last heartbeat that reached the database
   * @param cutOffSince since when the database cannot be reached (null while it can), and {@code cutOffReason} why
   * @param nodes every registered node
   * @param placement the placement in force here
   */
  public record Status(String self, boolean joined, Instant lastContact, Instant cutOffSince, String cutOffReason, Duration heartbeatInterval,
      Duration heartbeatTimeout, List<Member> nodes, Placement placement) {}

  public synchronized Status status() {
    long sinceRead = Math.max(0, System.nanoTime() - rowsAt);
    Map<String, Member> out = new LinkedHashMap<>();
    for (Nodes.Row r : rows) {
      boolean me = r.name().equals(name);
      String state = live.containsKey(r.name()) ? (suspects.containsKey(r.name()) ? "suspected" : "live") : "gone";
      if (me) state = left ? "left" : "live";
      out.put(r.name(), new Member(r.name(), r.address(), r.capacity(), state, me ? Duration.ZERO : r.heartbeatAge().plusNanos(sinceRead),
          Instant.ofEpochMilli(r.startedAt()), me ? running.get() : r.running(), me));
    }
    if (!out.containsKey(name)) {
      out.put(name, new Member(name, self.addressText(), capacity, left ? "left" : joined ? "live" : "joining", Duration.ZERO, null, running.get(), true));
    }
    return new Status(name, joined, lastContact, cutOffSince, cutOffReason, interval, timeout, List.copyOf(out.values()), placement);
  }
}
