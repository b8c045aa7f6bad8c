/**
 * What Berth is doing, in numbers: Prometheus metrics (Micrometer), metering for billing, and the recent history
 * the status commands and the dashboard show. {@link berth.metrics.Metrics} is told of requests by the router
 * ({@link berth.router.Traffic}: per-app counters resolved when the route table is built, a few increments per
 * request) and of instances by the pool ({@link berth.pool.PoolEvents}); it reads the pool's state, instances'
 * cgroups and the router's connection count when scraped or sampled.
 *
 * <p>Threads: counters are updated on router event loops and supervisor threads (lock-free adders); one {@code
 * berth-metrics} thread samples instances' CPU and memory every {@code sample_interval}, rolls the sparklines and
 * writes metering to the store once a minute. Imports pool, router, supervisor, store and apps.
 */
package berth.metrics;
