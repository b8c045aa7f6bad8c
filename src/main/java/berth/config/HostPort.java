package berth.config;

/**
 * A listen address as users write it: {@code :8080} (all interfaces), {@code 127.0.0.1:8081}, {@code [::1]:8080}.
 *
 * @param host the address to bind; {@code 0.0.0.0} when the text gave none
 * @param port 0 to 65535; 0 lets the kernel choose (tests use it)
 */
public record HostPort(String host, int port) {
  public static HostPort parse(String text) {
    String t = text.strip();
    int colon = t.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException(Durations.quote(text) + " is not an address (expected e.g. :8080 or 127.0.0.1:8080)");
    }
    String host = t.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
    if (host.isEmpty()) host = "0.0.0.0";
    int port;
    try {
      port = Integer.parseInt(t.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(Durations.quote(text) + " has no valid port (expected 0 to 65535, e.g. :8080)");
    }
    return new HostPort(host, port);
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
