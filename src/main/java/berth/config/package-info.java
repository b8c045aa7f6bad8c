/**
 * Node configuration and what every config surface shares: {@link berth.config.Key} and {@link
 * berth.config.Kind} (a key defined once: type, default, unit, meaning, parser, canonical form), the value syntax
 * (durations, sizes, addresses, port ranges), and {@link berth.config.ConfigNode}, which reads a TOML or JSON table
 * key by key and reports each problem with its key path. Immutable values; no threads. Imports nothing else of
 * Berth.
 */
package berth.config;
