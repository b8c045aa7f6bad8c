package berth.config;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * How the router treats clients: the {@code [router]} table of the node config, read once at start. Each
 * component is one key of {@link #KEYS} (docs/CONFIG.md lists them).
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
    int maxHeaderSize,
    Transport transport) {

  public enum AccessLog { OFF, COMMON, COMBINED, JSON }

  public enum Transport { AUTO, IO_URING, EPOLL, NIO }

  public static final Key<List<String>> TRUSTED_PROXIES = Key.described("trusted_proxies",
      Kind.list("list of IP addresses or blocks", t -> Cidr.parse(t).toString()), "none", "",
      "clients (e.g. a load balancer, `10.0.0.0/8`) whose `X-Forwarded-*`, `Forwarded` and `X-Forwarded-Prefix` headers are believed and extended; from anyone else they are replaced");
  public static final Key<AccessLog> ACCESS_LOG = Key.of("access_log", Kind.text("off, common, combined or json", RouterConfig::accessLogFormat,
      f -> f.name().toLowerCase(Locale.ROOT)), AccessLog.COMBINED, "",
      "one line per request in `DATA/logs/access.log` (rotated at 64 MiB, 5 kept): the common or combined format followed by host, app, instance, time waiting for the app and total time, request id; or one JSON object per line");
  public static final Key<Duration> HEADER_TIMEOUT = Key.of("header_timeout", Kind.duration(Duration.ofMillis(100)), Duration.ofSeconds(10), "",
      "a request's head (line and headers) must arrive whole within this, counted from the connection's start or the request's first byte; else 408 and the connection is closed (slowloris)");
  public static final Key<Duration> BODY_TIMEOUT = Key.of("body_timeout", Kind.duration(Duration.ofMillis(100)), Duration.ofSeconds(60), "",
      "a request body that stops arriving for this long gets 408");
  public static final Key<Duration> KEEPALIVE_TIMEOUT = Key.of("keepalive_timeout", Kind.duration(Duration.ofMillis(100)), Duration.ofSeconds(75), "",
      "a client connection with no request for this long is closed");
  public static final Key<Duration> CONNECT_TIMEOUT = Key.of("connect_timeout", Kind.duration(Duration.ofMillis(10)), Duration.ofSeconds(5), "",
      "opening a connection to an instance; then 502");
  public static final Key<Duration> REQUEST_TIMEOUT = Key.of("request_timeout", Kind.duration(Duration.ofMillis(10)), Duration.ofSeconds(60), "",
      "how long an app may take to begin its answer once it has the whole request; then 504");
  public static final Key<Integer> MAX_CONNECTIONS = Key.of("max_connections", Kind.whole(1, 10_000_000), 20_000, "connections",
      "client connections held at once; more are closed as they come (each costs a file descriptor: see `ulimit -n`)");
  public static final Key<Long> MAX_REQUEST_LINE = Key.of("max_request_line", Kind.size(256), 8L << 10, "",
      "a longer request line gets 414");
  public static final Key<Long> MAX_HEADER_SIZE = Key.of("max_header_size", Kind.size(1 << 10), 32L << 10, "",
      "a larger header section gets 431");

  public static final Key<Transport> TRANSPORT = Key.of("transport", Kind.text("auto, io_uring, epoll or nio", RouterConfig::transport,
      t -> t.name().toLowerCase(Locale.ROOT)), Transport.AUTO, "",
      "the kernel interface under the router's event loops: `auto` is io_uring where the kernel allows it (it needs fewer system calls), else epoll; "
          + "`nio` is Java's selector. An unavailable explicit choice stops the start, saying why");

  /** Every router key, in the order docs show them. */
  public static final List<Key<?>> KEYS = List.of(TRUSTED_PROXIES, ACCESS_LOG, HEADER_TIMEOUT, BODY_TIMEOUT, KEEPALIVE_TIMEOUT, CONNECT_TIMEOUT,
      REQUEST_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_LINE, MAX_HEADER_SIZE, TRANSPORT);

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
    List<String> trusted = TRUSTED_PROXIES.read(c);
    long maxLine = MAX_REQUEST_LINE.read(c);
    long maxHeader = MAX_HEADER_SIZE.read(c);
    if (maxLine > (1 << 20)) c.problem(MAX_REQUEST_LINE.name(), Sizes.format(maxLine) + " is too large (expected at most 1M)");
    if (maxHeader > (16 << 20)) c.problem(MAX_HEADER_SIZE.name(), Sizes.format(maxHeader) + " is too large (expected at most 16M)");
    RouterConfig r = new RouterConfig(trusted == null ? List.of() : trusted.stream().map(Cidr::parse).toList(), ACCESS_LOG.read(c),
        HEADER_TIMEOUT.read(c), BODY_TIMEOUT.read(c), KEEPALIVE_TIMEOUT.read(c), CONNECT_TIMEOUT.read(c), REQUEST_TIMEOUT.read(c),
        MAX_CONNECTIONS.read(c), (int) Math.min(maxLine, 1 << 20), (int) Math.min(maxHeader, 16 << 20), TRANSPORT.read(c));
    c.rejectUnknownKeys();
    return r;
  }

  private static Transport transport(String text) {
    return named(Transport.class, text, "a transport (expected auto, io_uring, epoll or nio)");
  }

  private static AccessLog accessLogFormat(String text) {
    return named(AccessLog.class, text, "a log format (expected off, common, combined or json)");
  }

  /** The constant of {@code type} that {@code text} names in any case; else the error says it is not {@code what}. */
  private static <E extends Enum<E>> E named(Class<E> type, String text, String what) {
    try {
      return Enum.valueOf(type, text.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(Durations.quote(text) + " is not " + what);
    }
  }
}
