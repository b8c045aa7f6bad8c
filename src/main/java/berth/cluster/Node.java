package berth.cluster;

import berth.config.HostPort;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;

/**
 * One Berth process in a cluster, as the others see it: its name, where its router is reached, and its weight in
 * placement. The address is resolved once, when the node is read from the database, never on the request path.
 *
 * @param address the router's plain HTTP listener, as another node connects to it
 * @param capacity {@code node_capacity}: a node with twice the capacity is the owner of about twice the apps
 */
public record Node(String name, InetSocketAddress address, int capacity) {

  /** {@code host:port} as the nodes table keeps it. */
  public String addressText() {
    String host = address.getHostString();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
  }

  /** {@code text} ({@code host:port}, {@code [v6]:port}) resolved now. */
  static InetSocketAddress resolve(String text) {
    HostPort hp = HostPort.parse(text);
    return new InetSocketAddress(hp.host(), hp.port());
  }

  /**
   * Where the other nodes reach this node's router when the node config does not say ({@code node_address}): the
   * {@code listen} host if it is one address, else the address this machine sends from toward the database (the
   * network the nodes share), with the port the router is bound to. A connected UDP socket asks the kernel for
   * that route without sending anything.
   */
  static String advertised(HostPort listen, int boundPort, String jdbcUrl) {
    String host = listen.host();
    if (!host.equals("0.0.0.0") && !host.equals("::") && !host.isEmpty()) return new HostPort(host, boundPort).toString();
    URI db = URI.create(jdbcUrl.substring("jdbc:".length()));
    String dbHost = db.getHost() == null ? "127.0.0.1" : db.getHost();
    try (DatagramSocket probe = new DatagramSocket()) {
      probe.connect(InetAddress.getByName(dbHost), db.getPort() < 0 ? 5432 : db.getPort());
      InetAddress local = probe.getLocalAddress();
      if (local == null || local.isAnyLocalAddress()) local = InetAddress.getLocalHost();
      return new HostPort(local.getHostAddress(), boundPort).toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot tell this machine's address toward the database " + dbHost + " (set node_address)", e);
    }
  }
}
