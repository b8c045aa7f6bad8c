package berth.router;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the app is told about the client: X-Forwarded-For/Proto/Host/Port, Forwarded (RFC 7239) and
 * X-Request-Id. From a trusted proxy ({@code router.trusted_proxies}) the incoming values are believed and
 * extended; from anyone else they are replaced, so an app can rely on them.
 */
final class Forwarding {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private Forwarding() {}

  static void apply(HttpHeaders h, String clientIp, String localPort, boolean trusted, boolean tls) {
    String proto = tls ? "https" : "http";
    String host = h.get(HttpHeaderNames.HOST);
    String forwardedFor = trusted ? h.get("X-Forwarded-For") : null;
    h.set("X-Forwarded-For", forwardedFor == null ? clientIp : forwardedFor + ", " + clientIp);
    if (!trusted || !h.contains("X-Forwarded-Proto")) h.set("X-Forwarded-Proto", proto);
    if (!trusted || !h.contains("X-Forwarded-Host")) {
      if (host != null) h.set("X-Forwarded-Host", host);
      else h.remove("X-Forwarded-Host");
    }
    if (!trusted || !h.contains("X-Forwarded-Port")) h.set("X-Forwarded-Port", localPort);
    String element = "for=" + node(clientIp) + ";proto=" + proto + (host == null ? "" : ";host=" + quoted(host));
    String forwarded = trusted ? h.get("Forwarded") : null;
    h.set("Forwarded", forwarded == null ? element : forwarded + ", " + element);
    if (!h.contains("X-Request-Id")) h.set("X-Request-Id", requestId());
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
  static String requestId() {
    long v = ThreadLocalRandom.current().nextLong();
    char[] out = new char[16];
    for (int i = 15; i >= 0; i--) {
      out[i] = HEX[(int) (v & 0xF)];
      v >>>= 4;
    }
    return new String(out);
  }
}
