/**
 * Which instance serves a request: per app, the instance, the requests held while it starts, idle stop, and
 * changed settings applied to what runs (disturbing only what must be), plus the operations the admin API offers.
 * Called from event loops, so nothing here blocks; each {@link berth.pool.AppPool} guards its own state.
 */
package berth.pool;
