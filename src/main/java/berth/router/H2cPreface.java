package berth.router;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import java.util.List;

/**
 * On the plain listener, the first bytes of a connection: the HTTP/2 connection preface
 * ({@code PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n}, RFC 9113 section 3.3: "h2c with prior knowledge") switches the
 * connection to HTTP/2; anything else is HTTP/1.x and passes on untouched. Either way this handler then leaves
 * the pipeline, handing on what it read. An HTTP/1 method differs from {@code PRI} by its second byte at the
 * latest, so HTTP/1 requests are not held back.
 */
final class H2cPreface extends ByteToMessageDecoder {
  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
  private final Router router;

  H2cPreface(Router router) {
    this.router = router;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
    if (!ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n)) {
      ctx.pipeline().remove(this); // HTTP/1: the bytes read go on to the HTTP/1 codec
    } else if (n == PREFACE.readableBytes()) {
      Http2Front.replaceHttp1(ctx.pipeline(), router, /* tls= */ false);
      ctx.pipeline().remove(this); // the preface goes on to the HTTP/2 codec, which expects it
    }
    // else: a prefix of the preface so far; wait for more
  }
}
