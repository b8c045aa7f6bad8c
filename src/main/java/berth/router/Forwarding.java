package berth.router;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the app is told about the client: X-Forwarded-For/Proto/Host/Port, Forwarded (RFC 7239) and
 * X-Request-Id. From a trusted proxy ({@code router.trusted_proxies}) the incoming values are believed and
 * extended; from anyone else they are replaced, so an app can rely on them.
 */
final class Forwarding {
  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  // AsciiString names: their case-insensitive hash is computed once, not on every request
  private static final AsciiString FOR = AsciiString.cached("X-Forwarded-For");
  private static final AsciiString PROTO = AsciiString.cached("X-Forwarded-Proto");
  private static final AsciiString HOST = AsciiString.cached("X-Forwarded-Host");
  private static final AsciiString PORT = AsciiString.cached("X-Forwarded-Port");
  private static final AsciiString FORWARDED = AsciiString.cached("Forwarded");
  private static final AsciiString REQUEST_ID = AsciiString.cached("X-Request-Id");
  /** Where an app is mounted (a route's path prefix); believed only from trusted proxies. */
  static final AsciiString PREFIX = AsciiString.cached("X-Forwarded-Prefix");
  /**
   * The marker of a request one node of a cluster forwards to another, its value the cluster's secret: the node
   * that gets it serves the request itself, never forwards it again, and keeps the forwarding headers the first
   * node set. From anyone but a node it is refused (403); it never reaches an app.
   */
  static final AsciiString HOP = AsciiString.cached("Berth-Hop");

  private Forwarding() {}

  static void apply(HttpHeaders h, String clientIp, String localPort, boolean trusted, boolean tls) {
    String proto = tls ? "https" : "http";
    String host = h.get(HttpHeaderNames.HOST);
    String forwardedFor = trusted ? h.get(FOR) : null;
    h.set(FOR, forwardedFor == null ? clientIp : forwardedFor + ", " + clientIp);
    if (!trusted || !h.contains(PROTO)) h.set(PROTO, proto);
    if (!trusted || !h.contains(HOST)) {
      if (host != null) h.set(HOST, host);
      else h.remove(HOST);
    }
    if (!trusted || !h.contains(PORT)) h.set(PORT, localPort);
    String element = "for=" + node(clientIp) + ";proto=" + proto + (host == null ? "" : ";host=" + quoted(host));
    String forwarded = trusted ? h.get(FORWARDED) : null;
    h.set(FORWARDED, forwarded == null ? element : forwarded + ", " + element);
    if (!h.contains(REQUEST_ID)) h.set(REQUEST_ID, requestId());
  }

  /** An IPv6 address is quoted and bracketed (RFC 7239 section 6). */
  private static String node(String ip) {
    return ip.indexOf(':') >= 0 ? "\"[" + ip + "]\"" : ip;
  }

  private static String quoted(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (!(Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == '_')) {
        return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
      }
    }
    return value;
  }

  /** 16 random hex digits: unique enough to find one request in the logs, cheap enough for every request. */
  static AsciiString requestId() {
    long v = ThreadLocalRandom.current().nextLong();
    byte[] out = new byte[16];
    for (int i = 15; i >= 0; i--) {
      out[i] = HEX[(int) (v & 0xF)];
      v >>>= 4;
    }
    return new AsciiString(out, false); // the array is the string's own: no copy
  }
}
