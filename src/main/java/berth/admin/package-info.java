/**
 * The admin listener (default 127.0.0.1:8081): {@code GET /health} for anyone, and the REST API under {@code /v1}
 * for whoever has the token of {@code DATA/admin.token}. Routes are matched on a Vert.x event loop; handlers that
 * may block (the store, an instance starting) run on virtual threads and send their reply back on the event loop.
 * Imports store, pool, supervisor, cluster, logs, apps and config.
 */
package berth.admin;
