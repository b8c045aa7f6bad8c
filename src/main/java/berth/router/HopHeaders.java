package berth.router;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;

/**
 * Headers that describe one connection, not the message (RFC 9110 section 7.6.1), so a proxy must not forward
 * them: the fixed set below plus every header named in {@code Connection}. The one home of that rule.
 */
final class HopHeaders {
  private static final List<CharSequence> FIXED = List.of(HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
      io.netty.util.AsciiString.cached("proxy-connection"), HttpHeaderNames.TE, HttpHeaderNames.TRAILER, HttpHeaderNames.TRANSFER_ENCODING,
      HttpHeaderNames.UPGRADE, HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.PROXY_AUTHORIZATION);

  private HopHeaders() {}

  /** Removes the hop-by-hop headers from {@code headers}, in place. */
  static void strip(HttpHeaders headers) {
    if (headers.contains(HttpHeaderNames.CONNECTION)) { // no list to build for the many messages without one
      List<String> connection = headers.getAll(HttpHeaderNames.CONNECTION);
      List<String> named = new ArrayList<>(2);
      for (String value : connection) {
        for (String token : value.split(",")) {
          String t = token.strip();
          if (!t.isEmpty()) named.add(t);
        }
      }
      named.forEach(headers::remove);
    }
    for (CharSequence name : FIXED) headers.remove(name);
  }
}
