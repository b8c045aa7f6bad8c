package berth.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A small HTTP/2 client over clear text with prior knowledge (the JDK's client does h2c only through Upgrade):
 * one connection, a stream per request, and what each stream received, frame by frame as HTTP/2 carries it.
 */
public final class H2cClient implements AutoCloseable {
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final Channel connection;
  /** Completes when the server sends GOAWAY. */
  public final CompletableFuture<Void> goAway = new CompletableFuture<>();

  private H2cClient(int port) throws InterruptedException {
    connection = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .handler(new io.netty.channel.ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()),
                new ChannelInboundHandlerAdapter() {
                  @Override
                  public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    if (msg instanceof Http2GoAwayFrame) goAway.complete(null);
                    ReferenceCountUtil.release(msg);
                  }
                });
          }
        })
        .connect("127.0.0.1", port).sync().channel();
  }

  public static H2cClient connect(int port) {
    try {
      return new H2cClient(port);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public boolean isOpen() {
    return connection.isActive();
  }

  /** Completes when the connection is closed (by either side). */
  public io.netty.channel.ChannelFuture closeFuture() {
    return connection.closeFuture();
  }

  /** Sends {@code GET path} with {@code :authority} {@code authority} on a new stream. */
  public Stream get(String authority, String path) {
    Http2Headers h = new DefaultHttp2Headers().method("GET").scheme("http").authority(authority).path(path);
    Stream s = new Stream();
    try {
      Http2StreamChannel ch = new Http2StreamChannelBootstrap(connection).handler(s).open().sync().getNow();
      s.channel = ch;
      ch.writeAndFlush(new DefaultHttp2HeadersFrame(h, true)).sync();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    return s;
  }

  /**
   * Sends {@code POST path} with a body of {@code size} zero bytes on a new stream, without waiting: what the
   * server's flow control does not let through yet waits in this client.
   */
  public Stream post(String authority, String path, int size) {
    Http2Headers h = new DefaultHttp2Headers().method("POST").scheme("http").authority(authority).path(path)
        .setInt("content-length", size);
    Stream s = new Stream();
    try {
      Http2StreamChannel ch = new Http2StreamChannelBootstrap(connection).handler(s).open().sync().getNow();
      s.channel = ch;
      ch.write(new DefaultHttp2HeadersFrame(h, false));
      for (int sent = 0; sent < size; sent += 16384) {
        int n = Math.min(16384, size - sent);
        ch.write(new io.netty.handler.codec.http2.DefaultHttp2DataFrame(ch.alloc().buffer(n).writeZero(n), sent + n == size));
      }
      ch.flush();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    return s;
  }

  /** One stream: the response's headers, its body (kept only up to 1 MiB, counted in full), and how it ended. */
  public static final class Stream extends ChannelInboundHandlerAdapter {
    public final CompletableFuture<Http2Headers> headers = new CompletableFuture<>();
    /** Completes with the body's length when the stream ends normally, exceptionally on a reset. */
    public final CompletableFuture<Long> done = new CompletableFuture<>();
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private volatile long bytes;
    private Http2StreamChannel channel;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2HeadersFrame h) {
          if (!headers.isDone()) headers.complete(h.headers());
          if (h.isEndStream()) done.complete(bytes);
        } else if (msg instanceof Http2DataFrame d) {
          bytes += d.content().readableBytes();
          if (body.size() < (1 << 20)) d.content().readBytes(body, Math.min(d.content().readableBytes(), (1 << 20) - body.size()));
          if (d.isEndStream()) done.complete(bytes);
        } else if (msg instanceof Http2ResetFrame r) {
          done.completeExceptionally(new IllegalStateException("stream reset by the server: " + r.errorCode()));
        }
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      done.completeExceptionally(new IllegalStateException("stream closed before its end"));
      headers.completeExceptionally(new IllegalStateException("stream closed before a response"));
    }

    public String body() {
      return body.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Cancels the stream, as a browser does when the user navigates away (RST_STREAM CANCEL). */
    public void reset() {
      channel.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
    }
  }

  @Override
  public void close() {
    connection.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
