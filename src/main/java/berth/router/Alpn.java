package berth.router;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After the TLS handshake: the protocol the client and Berth agreed on (ALPN). The HTTP/1.1 handlers are in the
 * pipeline from the start (so {@link Front} sees the connection open like any other); {@code h2} swaps them for
 * HTTP/2's ({@link Http2Front}). A client that offered no ALPN gets HTTP/1.1.
 */
final class Alpn extends ApplicationProtocolNegotiationHandler {
  private static final Logger LOG = LoggerFactory.getLogger(Alpn.class);
  private final Router router;

  Alpn(Router router) {
    super(ApplicationProtocolNames.HTTP_1_1);
    this.router = router;
  }

  @Override
  protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
    if (protocol.equals(ApplicationProtocolNames.HTTP_2)) Http2Front.replaceHttp1(ctx.pipeline(), router, /* tls= */ true);
  }

  /** Before the protocol is agreed: a client gone mid-handshake is routine, not worth a warning. */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.debug("TLS connection from {} failed before ALPN: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }

  @Override
  protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
    // scanners, expired client trust stores, plain HTTP sent to the TLS port: the client's problem, not Berth's
    LOG.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }
}
