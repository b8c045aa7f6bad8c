package berth.router;

import berth.cluster.Node;
import berth.pool.Lease;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * Where an {@link Exchange} sends its request: an instance of the app on this node, held by a lease from its
 * pool, or the router of another node of the cluster that owns the app. Both are spoken to the same way (HTTP/1.1
 * over this event loop's pooled connections, {@link AppConnections}); they differ in what the connections are
 * kept by, whether a new connection must be checked before use, and what the exchange holds meanwhile.
 */
sealed interface Upstream {
  CompletableFuture<Void> NOTHING_TO_CHECK = CompletableFuture.completedFuture(null);

  /** What idle connections are kept by: the instance (a port a later instance reuses gets none of them), or the node's address. */
  Object key();

  InetSocketAddress address();

  /** Completes when a request may be sent over a new connection; fails when it must not be. */
  CompletableFuture<?> verified();

  /** The exchange is over; called once. */
  void release();

  /** For the access log: {@code i3} (instance 3 of the app), or {@code @web2} (forwarded to node web2). */
  String label();

  /** An instance here: the lease keeps it busy (not idle-stopped) until released; a new one's port is checked first. */
  record Local(Lease lease) implements Upstream {
    @Override
    public Object key() {
      return lease.instance();
    }

    @Override
    public InetSocketAddress address() {
      return lease.address();
    }

    @Override
    public CompletableFuture<?> verified() {
      return lease.verified();
    }

    @Override
    public void release() {
      lease.release();
    }

    @Override
    public String label() {
      return "i" + lease.instance().id();
    }
  }

  /** Another node's router, which serves the request itself (it never forwards a request a node forwarded). */
  record Peer(Node node) implements Upstream {
    @Override
    public Object key() {
      return node.address();
    }

    @Override
    public InetSocketAddress address() {
      return node.address();
    }

    @Override
    public CompletableFuture<?> verified() {
      return NOTHING_TO_CHECK;
    }

    @Override
    public void release() {
      // nothing held here: the owner's router holds its instance
    }

    @Override
    public String label() {
      return "@" + node.name();
    }
  }
}
