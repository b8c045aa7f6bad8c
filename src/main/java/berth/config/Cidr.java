package berth.config;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An address block such as {@code 10.0.0.0/8}, {@code 192.168.1.7} (one address) or {@code fd00::/8}.
 *
 * @param network the block's first address, as bytes (4 or 16)
 * @param prefix how many leading bits must match
 */
public record Cidr(byte[] network, int prefix) {
  public static Cidr parse(String text) {
    String t = text.strip();
    int slash = t.indexOf('/');
    String addr = slash < 0 ? t : t.substring(0, slash);
    if (!addr.matches("[0-9a-fA-F:.]+")) throw new IllegalArgumentException(Durations.quote(text) + " is not an IP address or block (expected e.g. 10.0.0.0/8)");
    byte[] bytes;
    try {
      bytes = InetAddress.getByName(addr).getAddress(); // a literal: no name lookup for these characters
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(Durations.quote(text) + " is not an IP address or block (expected e.g. 10.0.0.0/8)");
    }
    int prefix = bytes.length * 8;
    if (slash >= 0) {
      try {
        prefix = Integer.parseInt(t.substring(slash + 1));
      } catch (NumberFormatException e) {
        prefix = -1;
      }
      if (prefix < 0 || prefix > bytes.length * 8) {
        throw new IllegalArgumentException(Durations.quote(text) + " has an invalid prefix length (expected /0 to /" + bytes.length * 8 + ")");
      }
    }
    return new Cidr(bytes, prefix);
  }

  public boolean contains(InetAddress address) {
    byte[] a = address.getAddress();
    if (a.length != network.length) return false;
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (a[i] != network[i]) return false;
    }
    int rest = prefix % 8;
    if (rest == 0) return true;
    int mask = 0xFF << (8 - rest);
    return (a[full] & mask) == (network[full] & mask);
  }

  @Override
  public String toString() {
    try {
      return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }
}
