package berth.tls;

import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * How Berth speaks TLS, in one place: TLS 1.2 and 1.3 only, the cipher suites HTTP/2 allows (RFC 9113 section
 * 9.2.2, which leaves the modern AEAD suites only), and ALPN offering {@code h2} then {@code http/1.1} (a client
 * that offers neither gets HTTP/1.1).
 *
 * <p>The provider is BoringSSL (netty-tcnative) when its native library loads on this machine, else the JDK's
 * own; both do ALPN. The choice is made once, at the first use.
 */
public final class TlsContexts {
  private static final SslProvider PROVIDER = SslProvider.isAlpnSupported(SslProvider.OPENSSL) ? SslProvider.OPENSSL : SslProvider.JDK;
  private static final ApplicationProtocolConfig ALPN = new ApplicationProtocolConfig(Protocol.ALPN,
      SelectorFailureBehavior.NO_ADVERTISE, SelectedListenerFailureBehavior.ACCEPT,
      ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);

  private TlsContexts() {}

  /** "BoringSSL" or "JDK": for the log line at start. */
  public static String provider() {
    return PROVIDER == SslProvider.OPENSSL ? "BoringSSL" : "JDK";
  }

  static SslContext server(PrivateKey key, List<X509Certificate> chain) throws SSLException {
    return SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new))
        .sslProvider(PROVIDER)
        .protocols("TLSv1.3", "TLSv1.2")
        .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
        .applicationProtocolConfig(ALPN)
        // the key goes through an in-memory key store on its way to the TLS library: PKCS#12, the default,
        // encrypts it there with 10,000 rounds of PBKDF2 (tens of ms per certificate) for nothing
        .keyStoreType("JKS")
        .build();
  }
}
