/**
 * Where apps live: {@link berth.store.Store} (the contract) and {@link berth.store.SqlStore} (JDBC: the embedded
 * SQLite file by default, PostgreSQL when the node config names one; Flyway migrations run at open). Blocking
 * code, safe from any thread; writes of one process run one at a time, and {@code onChange} listeners run on the
 * writing thread after the commit, in revision order (on PostgreSQL also on the change feed's thread, for other
 * nodes' writes: {@link berth.store.ChangeFeed}). The cluster's {@code nodes} table is here too ({@link
 * berth.store.Nodes}): every line of SQL lives in this package. Imports {@code apps} and {@code config}.
 */
package berth.store;
