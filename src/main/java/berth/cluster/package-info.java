/**
 * Berth nodes sharing one PostgreSQL database: membership ({@link berth.cluster.Cluster}: register, heartbeat, who
 * is live, suspicion), placement ({@link berth.cluster.Placement}: each app's owner nodes by weighted rendezvous
 * hashing) and the node's view of both for status pages. The router asks the current placement, per request,
 * whether this node owns the app or which owner to forward it to; Berth stops the instances of apps this node no
 * longer owns. The apps themselves reach every node through the store's change feed, not through this package.
 *
 * <p>Threading: one {@code berth-cluster} thread for the heartbeats; placements are immutable and published
 * through a volatile field. Imports {@code store} (the nodes table), {@code apps} and {@code config}.
 */
package berth.cluster;
