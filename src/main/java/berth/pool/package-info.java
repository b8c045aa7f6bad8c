/**
 * Which instance serves a request: per app, the instance, the requests held while it starts, and idle stop.
 * Called from event loops, so nothing here blocks; each {@link berth.pool.AppPool} guards its own state.
 */
package berth.pool;
