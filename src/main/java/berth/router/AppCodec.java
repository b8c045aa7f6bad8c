package berth.router;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;

/**
 * HTTP/1.1 on an app connection: Netty's request encoder and response decoder (as in its {@code HttpClientCodec}),
 * and a shorter way for the common response. A response whose head is plain, and whose end its Content-Length
 * gives, passes as bytes: its head is checked byte by byte and copied without its hop-by-hop lines, its body is
 * sliced from what was read, and no header object is made or encoded again. Anything else goes to the decoder
 * and reaches the {@link Exchange} as Netty's HTTP objects.
 *
 * <p>Plain means: {@code HTTP/1.1}, a final status (200-599), every header name a token and every value free of
 * control characters, no obs-fold, one Content-Length of digits (or no body: 204, 304, an answer to HEAD), no
 * Transfer-Encoding, and a Connection header, if any, of {@code keep-alive} or {@code close} alone (one naming
 * other headers goes the long way). Whether the current request's answer may pass so is the {@link Exchange}'s
 * call ({@link #expect}): it must be able to write the app's head as it is (an HTTP/1.1 client on HTTP/1.1 that
 * keeps its connection).
 */
final class AppCodec extends CombinedChannelDuplexHandler<AppCodec.Decoder, HttpRequestEncoder> {
  /** After the last body part of a {@link RawHead} that did not hold its whole body. */
  static final Object RAW_END = new Object();
  /** The longest head that passes as bytes; a longer one goes to the decoder (which allows 64 KiB). */
  private static final int MAX_RAW_HEAD = 8 * 1024;
  /** A body up to this size that arrived with its head goes out in the head's buffer, one write. */
  private static final int MAX_INLINE_BODY = 16 * 1024;
  private static final int MAX_DROPPED = 8;

  AppCodec(HttpDecoderConfig config) {
    init(new Decoder(config), new HttpRequestEncoder());
  }

  /** Before a request is sent: whether it is HEAD (its answer has no body), and whether its answer may pass raw. */
  void expect(boolean head, boolean raw) {
    inboundHandler().head = head;
    inboundHandler().raw = raw;
  }

  /**
   * A response head as bytes for the client (with the body, when {@code complete}); its body, if not, follows as
   * {@link ByteBuf}s and then {@link #RAW_END}.
   *
   * @param close the app said {@code Connection: close}: its connection is not kept
   */
  static final class RawHead extends DefaultByteBufHolder {
    final int status;
    final boolean close;
    final long bodyLength;
    final boolean complete;

    RawHead(ByteBuf bytes, int status, boolean close, long bodyLength, boolean complete) {
      super(bytes);
      this.status = status;
      this.close = close;
      this.bodyLength = bodyLength;
      this.complete = complete;
    }
  }

  static final class Decoder extends HttpResponseDecoder {
    private boolean head;
    private boolean raw;
    /** The next byte begins a response. */
    private boolean atStart = true;
    /** Body bytes of a raw response still to pass; -1 when none is passing. */
    private long remaining = -1;
    /** Where the lines left out of the head being read begin and end (pairs). */
    private final int[] dropped = new int[2 * MAX_DROPPED];
    private int drops;

    Decoder(HttpDecoderConfig config) {
      super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      if (remaining >= 0) {
        passBody(in, out);
        return;
      }
      if (atStart && raw && in.isReadable()) {
        int taken = rawHead(ctx, in, out);
        if (taken != LONG_WAY) return; // passed, or waiting for the rest of the head
      }
      atStart = false;
      int from = out.size();
      super.decode(ctx, in, out);
      for (int i = from; i < out.size(); i++) {
        if (out.get(i) instanceof LastHttpContent) atStart = true;
      }
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
      if (msg instanceof HttpResponse r && r.status().code() < 200) return super.isContentAlwaysEmpty(msg);
      return head || super.isContentAlwaysEmpty(msg);
    }

    private void passBody(ByteBuf in, List<Object> out) {
      int n = (int) Math.min(in.readableBytes(), remaining);
      if (n > 0) {
        out.add(in.readRetainedSlice(n));
        remaining -= n;
      }
      if (remaining == 0) {
        remaining = -1;
        atStart = true;
        out.add(RAW_END);
      }
    }

    private static final int PASSED = 0;
    private static final int WAIT = 1;
    private static final int LONG_WAY = 2;

    /** Reads a plain response head from {@code in} as bytes, or says to wait for more of it, or to take the long way. */
    private int rawHead(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      int start = in.readerIndex();
      int end = in.writerIndex();
      int limit = Math.min(end, start + MAX_RAW_HEAD);
      boolean more = end - start < MAX_RAW_HEAD; // bytes still to come could complete the head
      int wait = more ? WAIT : LONG_WAY;
      if (limit - start < 13) return more && prefixOk(in, start, limit) ? WAIT : LONG_WAY;
      if (!prefixOk(in, start, start + 9)) return LONG_WAY;
      int d1 = in.getByte(start + 9) - '0', d2 = in.getByte(start + 10) - '0', d3 = in.getByte(start + 11) - '0';
      if (d1 < 2 || d1 > 5 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return LONG_WAY;
      int status = d1 * 100 + d2 * 10 + d3;
      byte sep = in.getByte(start + 12);
      if (sep != ' ' && sep != '\r') return LONG_WAY;
      int p = lineEnd(in, start + 12, limit);
      if (p < 0) return p == -1 ? wait : LONG_WAY;
      drops = 0;
      long length = -1;
      boolean close = false;
      while (true) {
        if (p >= limit) return wait;
        byte b = in.getByte(p);
        if (b == '\r') {
          if (p + 1 >= limit) return wait;
          if (in.getByte(p + 1) != '\n') return LONG_WAY;
          p += 2;
          break; // the empty line: the head ends
        }
        int nameStart = p;
        while (p < limit && isTchar(b = in.getByte(p))) p++;
        if (p >= limit) return wait;
        if (b != ':' || p == nameStart) return LONG_WAY; // obs-fold, a space before the colon, a bad name
        int nameLen = p - nameStart;
        int valueStart = p + 1;
        int next = lineEnd(in, valueStart, limit);
        if (next < 0) return next == -1 ? wait : LONG_WAY;
        int vs = valueStart;
        int ve = next - 1; // at the LF
        if (ve > vs && in.getByte(ve - 1) == '\r') ve--;
        while (vs < ve && isSpace(in.getByte(vs))) vs++;
        while (ve > vs && isSpace(in.getByte(ve - 1))) ve--;
        switch (hop(in, nameStart, nameLen)) {
          case CONTENT_LENGTH -> {
            if (length >= 0 || ve == vs || ve - vs > 18) return LONG_WAY;
            long v = 0;
            for (int i = vs; i < ve; i++) {
              int d = in.getByte(i) - '0';
              if (d < 0 || d > 9) return LONG_WAY;
              v = v * 10 + d;
            }
            length = v;
          }
          case TRANSFER_ENCODING -> {
            return LONG_WAY;
          }
          case CONNECTION -> {
            if (equalsIgnoreCase(in, vs, ve, "close")) close = true;
            else if (!equalsIgnoreCase(in, vs, ve, "keep-alive")) return LONG_WAY;
            if (!drop(nameStart, next)) return LONG_WAY;
          }
          case HOP -> {
            if (!drop(nameStart, next)) return LONG_WAY;
          }
          default -> { }
        }
        p = next;
      }
      boolean bodyless = head || status == 204 || status == 304;
      if (!bodyless && length < 0) return LONG_WAY; // chunked, or delimited by the close: the decoder knows those
      long body = bodyless ? 0 : length;
      int headEnd = p;
      boolean complete = end - headEnd >= body && body <= MAX_INLINE_BODY;
      int size = headEnd - start + (complete ? (int) body : 0);
      for (int i = 0; i < drops; i++) size -= dropped[2 * i + 1] - dropped[2 * i];
      ByteBuf bytes = ctx.alloc().directBuffer(size);
      int from = start;
      for (int i = 0; i < drops; i++) {
        bytes.writeBytes(in, from, dropped[2 * i] - from);
        from = dropped[2 * i + 1];
      }
      int through = complete ? headEnd + (int) body : headEnd;
      bytes.writeBytes(in, from, through - from);
      in.readerIndex(through);
      out.add(new RawHead(bytes, status, close, body, complete));
      if (!complete) remaining = body; // its parts follow (some may be in `in` already: decode is called again)
      return PASSED;
    }

    private boolean drop(int from, int to) {
      if (drops == MAX_DROPPED) return false;
      dropped[2 * drops] = from;
      dropped[2 * drops + 1] = to;
      drops++;
      return true;
    }
  }

  private static final int OTHER = 0;
  private static final int CONTENT_LENGTH = 1;
  private static final int TRANSFER_ENCODING = 2;
  private static final int CONNECTION = 3;
  private static final int HOP = 4;
  /** The hop-by-hop headers of {@link HopHeaders} besides Connection and Transfer-Encoding: left out of the head. */
  private static final String[] HOP_NAMES = {"keep-alive", "proxy-connection", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"};

  private static int hop(ByteBuf in, int at, int len) {
    switch (len) {
      case 14 -> { if (equalsIgnoreCase(in, at, at + len, "content-length")) return CONTENT_LENGTH; }
      case 17 -> { if (equalsIgnoreCase(in, at, at + len, "transfer-encoding")) return TRANSFER_ENCODING; }
      case 10 -> {
        if (equalsIgnoreCase(in, at, at + len, "connection")) return CONNECTION;
      }
      default -> { }
    }
    for (String name : HOP_NAMES) {
      if (name.length() == len && equalsIgnoreCase(in, at, at + len, name)) return HOP;
    }
    return OTHER;
  }

  /** Whether {@code in[from, to)} begins like {@code "HTTP/1.1 "} (as far as it goes). */
  private static boolean prefixOk(ByteBuf in, int from, int to) {
    String prefix = "HTTP/1.1 ";
    for (int i = from; i < to && i - from < prefix.length(); i++) {
      if (in.getByte(i) != prefix.charAt(i - from)) return false;
    }
    return true;
  }

  /**
   * The index after the LF that ends the line from {@code from}, checking its bytes: -1 if the line goes on past
   * {@code limit}, -2 if a byte would make the decoder's reading matter (a control character, a bare CR).
   */
  private static int lineEnd(ByteBuf in, int from, int limit) {
    for (int i = from; i < limit; i++) {
      int b = in.getByte(i) & 0xFF;
      if (b == '\n') return i + 1;
      if (b == '\r') {
        if (i + 1 >= limit) return -1;
        if (in.getByte(i + 1) != '\n') return -2;
        continue;
      }
      if ((b < 0x20 && b != '\t') || b == 0x7F) return -2;
    }
    return -1;
  }

  private static boolean equalsIgnoreCase(ByteBuf in, int from, int to, String lower) {
    if (to - from != lower.length()) return false;
    for (int i = 0; i < lower.length(); i++) {
      int b = in.getByte(from + i);
      if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
      if (b != lower.charAt(i)) return false;
    }
    return true;
  }

  private static boolean isSpace(byte b) {
    return b == ' ' || b == '\t';
  }

  /** RFC 9110 tchar. */
  private static boolean isTchar(byte b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || (b > ' ' && b < 0x7F && "!#$%&'*+-.^_`|~".indexOf(b) >= 0);
  }
}
