package berth.config;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * How the router treats clients: the {@code [router]} table of the node config. Read once at start.
 *
 * @param trustedProxies {@code trusted_proxies} (default none): clients whose X-Forwarded-* and Forwarded
 *     headers are believed and extended; from anyone else they are replaced
 * @param accessLog {@code access_log} (default {@code combined}): {@code off}, {@code common}, {@code combined}
 *     or {@code json}, one line per request in {@code DATA/logs/access.log}
 * @param headerTimeout {@code header_timeout} (default 10s): a request head (line and headers) must arrive
 *     whole within this, from the connection's start or the first byte of the request; else 408
 * @param bodyTimeout {@code body_timeout} (default 60s): a request body that stops arriving for this long: 408
 * @param keepAliveTimeout {@code keepalive_timeout} (default 75s): an idle client connection is closed after this
 * @param connectTimeout {@code connect_timeout} (default 5s): opening a connection to an instance; then 502
 * @param requestTimeout {@code request_timeout} (default 60s): how long an app may take to begin its answer after
 *     it has the request; then 504. An app may set its own.
 * @param maxConnections {@code max_connections} (default 20000): client connections held at once; more are closed
 *     at once
 * @param maxRequestLine {@code max_request_line} (default 8K): longer request lines get 414
 * @param maxHeaderSize {@code max_header_size} (default 32K): larger header sections get 431
 */
public record RouterConfig(
    List<Cidr> trustedProxies,
    AccessLog accessLog,
    Duration headerTimeout,
    Duration bodyTimeout,
    Duration keepAliveTimeout,
    Duration connectTimeout,
    Duration requestTimeout,
    int maxConnections,
    int maxRequestLine,
    int maxHeaderSize) {

  public enum AccessLog { OFF, COMMON, COMBINED, JSON }

  public static final RouterConfig DEFAULTS = read(ConfigNode.root(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()));

  public RouterConfig {
    trustedProxies = List.copyOf(trustedProxies);
  }

  public boolean trusted(InetAddress client) {
    for (Cidr c : trustedProxies) {
      if (c.contains(client)) return true;
    }
    return false;
  }

  /** Reads the keys of {@code c} (the {@code [router]} table), recording problems in it. */
  public static RouterConfig read(ConfigNode c) {
    List<Cidr> trusted = c.stringList("trusted_proxies", List.of()).stream().map(t -> {
      try {
        return Cidr.parse(t);
      } catch (IllegalArgumentException e) {
        c.problem("trusted_proxies", e.getMessage());
        return null;
      }
    }).filter(java.util.Objects::nonNull).toList();
    AccessLog log = c.parsed("access_log", AccessLog.COMBINED, t -> {
      try {
        return AccessLog.valueOf(t.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(Durations.quote(t) + " is not a log format (expected off, common, combined or json)");
      }
    });
    Duration header = c.duration("header_timeout", Duration.ofSeconds(10), Duration.ofMillis(100));
    Duration body = c.duration("body_timeout", Duration.ofSeconds(60), Duration.ofMillis(100));
    Duration keepAlive = c.duration("keepalive_timeout", Duration.ofSeconds(75), Duration.ofMillis(100));
    Duration connect = c.duration("connect_timeout", Duration.ofSeconds(5), Duration.ofMillis(10));
    Duration request = c.duration("request_timeout", Duration.ofSeconds(60), Duration.ofMillis(10));
    int maxConnections = c.integer("max_connections", 20_000, 1, 10_000_000);
    int maxLine = (int) size(c, "max_request_line", 8 << 10, 256, 1 << 20);
    int maxHeader = (int) size(c, "max_header_size", 32 << 10, 1 << 10, 16 << 20);
    c.rejectUnknownKeys();
    return new RouterConfig(trusted, log, header, body, keepAlive, connect, request, maxConnections, maxLine, maxHeader);
  }

  private static long size(ConfigNode c, String key, long dflt, long min, long max) {
    return c.parsed(key, dflt, t -> {
      long v = Sizes.parse(t);
      if (v < min || v > max) {
        throw new IllegalArgumentException(Durations.quote(t) + " is out of range (expected " + Sizes.format(min) + " to " + Sizes.format(max) + ")");
      }
      return v;
    });
  }
}
