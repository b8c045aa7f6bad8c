package berth.testing;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.spi.InetAddressResolver;
import java.net.spi.InetAddressResolverProvider;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Name resolution for the test JVM (installed through {@code META-INF/services}): every name under {@code .test}
 * (RFC 2606: never a real domain) is loopback, everything else goes to the system's resolver. So a test can
 * connect to {@code https://a.test:PORT/} and the client sends exactly what it would to a real site: the name
 * as SNI, in Host or {@code :authority}, checked against the certificate.
 */
public final class TestResolver extends InetAddressResolverProvider {
  @Override
  public InetAddressResolver get(Configuration configuration) {
    InetAddressResolver system = configuration.builtinResolver();
    return new InetAddressResolver() {
      @Override
      public Stream<InetAddress> lookupByName(String host, LookupPolicy policy) throws UnknownHostException {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.endsWith(".test") || h.equals("test")) {
          return Stream.of(InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1}));
        }
        return system.lookupByName(host, policy);
      }

      @Override
      public String lookupByAddress(byte[] addr) throws UnknownHostException {
        return system.lookupByAddress(addr);
      }
    };
  }

  @Override
  public String name() {
    return "berth-test";
  }
}
