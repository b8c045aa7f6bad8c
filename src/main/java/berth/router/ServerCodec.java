package berth.router;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.ArrayDeque;
import java.util.List;

/**
 * HTTP/1.x on a client connection: Netty's request decoder and response encoder (as in its
 * {@code HttpServerCodec}: responses to HEAD have no body), made stricter where Netty is lenient and a lenient
 * proxy is a smuggling risk. Netty already rejects invalid Content-Length values and lists, unknown transfer
 * codings, bad chunks, bare CR, invalid header names and values, and over-long lines and header sections (as
 * failed messages the {@link Front} answers with 400/414/431). Here two more become failures:
 * <ul>
 *   <li>Content-Length together with Transfer-Encoding (Netty would drop the Content-Length and go on);
 *   <li>obs-fold, a header line continued on the next line (Netty would unfold it). Found by looking at the raw
 *       bytes of each header section before the decoder reads them.
 * </ul>
 */
final class ServerCodec extends CombinedChannelDuplexHandler<ServerCodec.Decoder, ServerCodec.Encoder> {
  /** Fired (as a user event) when the first bytes of a request arrive: its head must now arrive in time. */
  static final Object HEAD_STARTED = new Object();

  private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);

  ServerCodec(HttpDecoderConfig config) {
    init(new Decoder(config), new Encoder());
  }

  final class Decoder extends HttpRequestDecoder {
    /** The decoder is reading a message head (request line and headers), not a body. */
    private boolean inHead = true;
    /** Nothing of the current message has been consumed yet. */
    private boolean messageStart = true;
    private String problem;

    Decoder(HttpDecoderConfig config) {
      super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      if (inHead && problem == null) {
        if (messageStart && in.isReadable()) ctx.fireUserEventTriggered(HEAD_STARTED);
        problem = obsFold(in, !messageStart);
        int before = in.readerIndex();
        int size = out.size();
        super.decode(ctx, in, out);
        if (in.readerIndex() != before) messageStart = false;
        seen(out, size);
      } else {
        int size = out.size();
        super.decode(ctx, in, out);
        seen(out, size);
      }
    }

    private void seen(List<Object> out, int from) {
      for (int i = from; i < out.size(); i++) {
        Object msg = out.get(i);
        if (msg instanceof HttpRequest request) {
          methods.add(request.method());
          if (problem != null && request.decoderResult().isSuccess()) {
            request.setDecoderResult(DecoderResult.failure(new IllegalArgumentException(problem)));
          }
          problem = null;
          inHead = false;
        }
        if (msg instanceof LastHttpContent) {
          inHead = true;
          messageStart = true;
        }
      }
    }

    @Override
    protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
      message.setDecoderResult(DecoderResult.failure(
          new IllegalArgumentException("it has both Content-Length and Transfer-Encoding")));
      super.handleTransferEncodingChunkedWithContentLength(message);
    }
  }

  /**
   * The reason if the message head in {@code in} (from the reader index: a line start when
   * {@code pastRequestLine}, else the message's start) folds a header line onto the next; null if not, as far
   * as the bytes go. Stops at the empty line that ends the head: a body is never looked at.
   */
  static String obsFold(ByteBuf in, boolean pastRequestLine) {
    boolean headerLines = pastRequestLine; // lines from here on are header lines
    boolean lineStart = pastRequestLine;
    boolean content = false; // the current line has a byte other than CR
    for (int i = in.readerIndex(), end = in.writerIndex(); i < end; i++) {
      byte b = in.getByte(i);
      if (b == '\n') {
        if (content) headerLines = true; // the request line or a header ended
        else if (headerLines) return null; // the empty line: end of the head
        // else an empty line before the request line, which the decoder skips
        lineStart = true;
        content = false;
        continue;
      }
      if (lineStart && headerLines && (b == ' ' || b == '\t')) return "a header line is folded onto the next line (obs-fold)";
      lineStart = false;
      if (b != '\r') content = true;
    }
    return null;
  }

  /** A final response goes to the client as bytes, past the encoder: its request is answered all the same. */
  void answeredRaw() {
    methods.poll();
  }

  final class Encoder extends HttpResponseEncoder {
    @Override
    protected boolean isContentAlwaysEmpty(HttpResponse msg) {
      if (msg.status().code() < 200) return super.isContentAlwaysEmpty(msg); // interim: the method stays queued
      HttpMethod method = methods.poll();
      return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
    }
  }
}
