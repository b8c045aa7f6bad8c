package berth.router;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
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
    if (headers.contains(HttpHeaderNames.CONNECTION)) { // the many messages without one pay for no list
      for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) removeNamed(headers, value);
    }
    for (CharSequence name : FIXED) headers.remove(name);
  }

  /** Removes each header a Connection value names (a comma-separated list of tokens; {@code keep-alive} is in FIXED). */
  private static void removeNamed(HttpHeaders headers, String value) {
    int n = value.length();
    for (int i = 0; i < n; ) {
      int end = value.indexOf(',', i);
      if (end < 0) end = n;
      int from = i;
      int to = end;
      while (from < to && isSpace(value.charAt(from))) from++;
      while (to > from && isSpace(value.charAt(to - 1))) to--;
      boolean keepAlive = to - from == 10 && value.regionMatches(true, from, "keep-alive", 0, 10);
      if (to > from && !keepAlive) headers.remove(value.substring(from, to));
      i = end + 1;
    }
  }

  private static boolean isSpace(char c) {
    return c == ' ' || c == '\t';
  }
}
