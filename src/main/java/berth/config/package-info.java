/**
 * Node configuration and the value syntax shared by every config surface: durations, addresses, port ranges,
 * and {@link berth.config.ConfigNode}, which reads a TOML or JSON table key by key and reports each problem with
 * its key path. Immutable values; no threads. Imports nothing else of Berth.
 */
package berth.config;
