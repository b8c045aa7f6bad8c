/**
 * The HTTP front on Vert.x: route by host, hold while the app starts, proxy with backpressure, answer failures
 * with pages that say why. Runs on event loops only and never blocks.
 */
package berth.router;
