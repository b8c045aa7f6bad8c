package berth.router;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;

/**
 * What Berth checks of a request head after Netty's decoder has accepted it, before routing, so that no app
 * ever receives a request it could read differently from Berth: one Host, a valid one, agreeing with an
 * absolute-form target; HTTP/1.0 or 1.1 only. An absolute-form target is rewritten to origin form (the app sees
 * the path, and the Host, as Berth routed it).
 */
final class RequestChecks {
  private RequestChecks() {}

  /** Null if {@code request} may go on (it may have been normalized in place), else the reason to refuse it. */
  static String problem(HttpRequest request) {
    HttpVersion v = request.protocolVersion();
    if (v.majorVersion() != 1 || v.minorVersion() > 1) return "HTTP version " + v.text() + " is not supported (HTTP/1.0 and HTTP/1.1 are)";
    boolean http11 = v.minorVersion() == 1;
    List<String> hosts = request.headers().getAll(HttpHeaderNames.HOST);
    if (hosts.size() > 1) return "it has more than one Host header";
    String host = hosts.isEmpty() ? null : hosts.getFirst();
    if (host == null && http11) return "an HTTP/1.1 request must have a Host header";
    if (host != null && !validHost(host)) return "its Host header is not a host name";
    String uri = request.uri();
    if (!uri.startsWith("/")) {
      int scheme = uri.regionMatches(true, 0, "http://", 0, 7) ? 7 : uri.regionMatches(true, 0, "https://", 0, 8) ? 8 : -1;
      if (scheme < 0) {
        if (uri.equals("*") && request.method().name().equals("OPTIONS")) return null;
        return "its target is neither a path nor an absolute http URL";
      }
      int end = scheme;
      while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) end++;
      String authority = uri.substring(scheme, end);
      if (authority.isEmpty() || authority.indexOf('@') >= 0 || !validHost(authority)) return "its target has no valid host";
      if (host != null && !sameHost(host, authority)) return "its target names host " + authority + " but its Host header says " + host;
      request.headers().set(HttpHeaderNames.HOST, authority);
      String rest = uri.substring(end);
      request.setUri(rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest);
    }
    return null;
  }

  private static boolean sameHost(String a, String b) {
    return stripDefaultPort(a).equalsIgnoreCase(stripDefaultPort(b));
  }

  private static String stripDefaultPort(String h) {
    return h.endsWith(":80") || h.endsWith(":443") ? h.substring(0, h.lastIndexOf(':')) : h;
  }

  /** RFC 3986 host (reg-name, IPv4 or [IP-literal]) with an optional port; empty is allowed (no host). */
  static boolean validHost(String h) {
    int i = 0;
    int n = h.length();
    if (n > 0 && h.charAt(0) == '[') {
      int close = h.indexOf(']');
      if (close < 0) return false;
      for (int k = 1; k < close; k++) {
        char c = h.charAt(k);
        if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.')) return false;
      }
      i = close + 1;
    } else {
      for (; i < n && h.charAt(i) != ':'; i++) {
        char c = h.charAt(i);
        boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~!$&'()*+,;=%".indexOf(c) >= 0;
        if (!ok) return false;
      }
    }
    if (i == n) return true;
    if (h.charAt(i) != ':' || i + 1 == n || n - i - 1 > 5) return i + 1 == n && h.charAt(i) == ':' ; // "host:" is allowed (empty port)
    for (int k = i + 1; k < n; k++) {
      if (h.charAt(k) < '0' || h.charAt(k) > '9') return false;
    }
    return true;
  }
}
