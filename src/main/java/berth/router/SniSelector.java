package berth.router;

import berth.tls.CertificateStore;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first handler of a TLS connection: reads the client's hello, asks the {@link CertificateStore} for the
 * certificate of the name it sent (SNI), and replaces itself with the {@code SslHandler} for it. With no
 * certificate for the name (and no default), the client gets a fatal {@code unrecognized_name} alert (RFC 6066
 * section 3) and the connection is closed: it learns why, instead of seeing a reset.
 */
final class SniSelector extends SniHandler {
  private static final Logger LOG = LoggerFactory.getLogger(SniSelector.class);
  /** Longest client hello read (one with many extensions and a post-quantum key share is about 2 KB). */
  private static final int MAX_CLIENT_HELLO = 16 * 1024;
  /** The whole handshake, from the first byte of the hello. */
  static final long HANDSHAKE_TIMEOUT_MS = 10_000;
  /** A TLS record: alert (21), version 3.3, length 2, fatal (2), unrecognized_name (112). */
  private static final byte[] UNRECOGNIZED_NAME = {21, 3, 3, 0, 2, 2, 112};

  SniSelector(CertificateStore certificates) {
    super(certificates, MAX_CLIENT_HELLO, HANDSHAKE_TIMEOUT_MS);
  }

  @Override
  protected void replaceHandler(ChannelHandlerContext ctx, String hostname, SslContext context) throws Exception {
    if (context != null) {
      super.replaceHandler(ctx, hostname, context);
      return;
    }
    LOG.debug("TLS from {}: no certificate for {}; handshake refused", ctx.channel().remoteAddress(),
        hostname == null ? "a client that sent no name" : hostname);
    ctx.writeAndFlush(Unpooled.wrappedBuffer(UNRECOGNIZED_NAME)).addListener(ChannelFutureListener.CLOSE);
  }
}
