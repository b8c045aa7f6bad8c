package berth.router;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpRequest;

import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil.ExtensionHeaderNames;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/2 from clients (over TLS after ALPN {@code h2}, or in clear text with prior knowledge), proxied to apps
 * as HTTP/1.1 by the same code as every HTTP/1.1 request:
 *
 * <pre>
 *   client connection:  [SslHandler] → Http2FrameCodec → {@link StreamWatch} → Http2MultiplexHandler → {@link Connection}
 *   each stream:        Http2StreamChannel → Http2StreamFrameToHttpObjectCodec → {@link StreamRequest} → {@link Front}
 * </pre>
 *
 * A stream is a child channel on its connection's event loop, so its {@link Front} and {@link Exchange} use that
 * loop's app connections exactly as an HTTP/1.1 connection does: one request per stream, HTTP objects in and
 * out. What HTTP/2 changes is done around them:
 *
 * <ul>
 *   <li>Connection-specific headers never reach the client: the codec's conversion drops {@code Connection},
 *       {@code Keep-Alive}, {@code Proxy-Connection}, {@code Transfer-Encoding}, {@code Upgrade} and the headers
 *       {@code Connection} names from every response head it turns into HTTP/2 headers.
 *   <li>Backpressure is HTTP/2 flow control: a stream's channel is writable only while the client's window has
 *       room, so {@link Exchange} stops reading the app when the client stops reading; and when {@link Front} stops
 *       reading a stream (the app is not taking its upload), Berth stops granting it window, so the client stops
 *       sending. Memory per connection stays within the windows below.
 *   <li>A stream the client resets ends its exchange: the stream's channel closes, and {@link Front} ends the
 *       exchange as for a closed HTTP/1.1 connection (lease released, app connection closed, never reused).
 *       {@link StreamWatch} makes sure of it even while the stream is not being read (its upload held back).
 *   <li>Keep-alive idle and draining close the connection with GOAWAY, letting the streams in flight finish.
 * </ul>
 */
final class Http2Front {
  private static final Logger LOG = LoggerFactory.getLogger(Http2Front.class);
  /** Streams at once per connection (nginx: 128; the RFC's suggested minimum: 100). */
  static final int MAX_CONCURRENT_STREAMS = 128;
  /** What a client may send on one stream before Berth has passed it on (the stream's flow-control window). */
  static final int STREAM_WINDOW = 256 * 1024;
  /** What a client may send on all its streams before Berth has passed it on. */
  static final int CONNECTION_WINDOW = 1024 * 1024;
  /** Largest header section accepted (decoded size, as HTTP/2 counts it). */
  static final int MAX_HEADER_LIST = 64 * 1024;

  private Http2Front() {}

  /**
   * Switches a client connection whose pipeline ends with the HTTP/1.1 handlers to HTTP/2: removes them and adds
   * the HTTP/2 ones. Called before any request byte reached them.
   */
  static void replaceHttp1(ChannelPipeline p, Router router, boolean tls) {
    p.remove(ServerCodec.class);
    p.remove(Front.class); // and so from its loop's IdleSweep: the connection's idleness is watched here now
    p.addFirst(router.idleTimers());
    Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
        .initialSettings(Http2Settings.defaultSettings()
            .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
            .initialWindowSize(STREAM_WINDOW)
            .maxHeaderListSize(MAX_HEADER_LIST))
        .gracefulShutdownTimeoutMillis(Duration.ofSeconds(30).toMillis())
        .build();
    StreamWatch watch = new StreamWatch();
    p.addLast(codec, watch, new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
      @Override
      protected void initChannel(Http2StreamChannel stream) {
        watch.opened(stream);
        stream.pipeline().addLast(
            new Http2StreamFrameToHttpObjectCodec(/* isServer= */ true),
            new StreamRequest(),
            new Front(router, router.connections(stream.eventLoop()), tls));
      }
    }), new Connection(router.config().keepAliveTimeout().toNanos(), router.idleCheckNanos()));
  }

  /** Draining: GOAWAY now, streams in flight may finish within {@code grace}. For a connection without HTTP/2: close. */
  static void drain(Channel ch, Duration grace) {
    Http2FrameCodec codec = ch.pipeline().get(Http2FrameCodec.class);
    if (codec != null) codec.gracefulShutdownTimeoutMillis(grace.toMillis());
    ch.close();
  }

  /**
   * On a stream: the request as {@link Front} expects it from any client, a head and then body parts ending with
   * the last. Netty delivers a request without a body as one full message, and adds its own {@code x-http2-*}
   * headers, which are not the client's and so are not passed on.
   */
  static final class StreamRequest extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpRequest request) {
        for (ExtensionHeaderNames n : ExtensionHeaderNames.values()) request.headers().remove(n.text());
      }
      if (msg instanceof FullHttpRequest full) {
        ctx.fireChannelRead(new DefaultHttpRequest(full.protocolVersion(), full.method(), full.uri(), full.headers()));
        ctx.fireChannelRead(new DefaultLastHttpContent(full.content(), full.trailingHeaders()));
      } else {
        ctx.fireChannelRead(msg);
      }
    }
  }

  /**
   * Closes a stream's channel as soon as the stream is closed (reset by the client, or ended by GOAWAY). Netty
   * closes it only once everything queued for it has been read, and a stream whose upload is held back (the
   * app is not taking it) is not being read: without this its exchange would wait for the app, holding the
   * lease and the app connection, for a client that has gone. Sees the codec's stream events before the
   * multiplexer, and acts after it (so the stream's channel knows it is closed and sends no reset back).
   */
  static final class StreamWatch extends ChannelInboundHandlerAdapter {
    /** The open streams' channels. Confined to the connection's event loop. */
    private final Map<Http2FrameStream, Channel> channels = new HashMap<>();

    void opened(Http2StreamChannel ch) {
      Http2FrameStream stream = ch.stream();
      channels.put(stream, ch);
      ch.closeFuture().addListener(f -> channels.remove(stream));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      ctx.fireUserEventTriggered(evt);
      if (evt instanceof Http2FrameStreamEvent e && e.type() == Http2FrameStreamEvent.Type.State
          && e.stream().state() == Http2Stream.State.CLOSED) {
        Channel ch = channels.remove(e.stream());
        if (ch != null && ch.isOpen()) ch.close();
      }
    }
  }

  /** The connection itself: a larger window than HTTP/2's 64 KiB default, and closing when idle. */
  static final class Connection extends ChannelInboundHandlerAdapter {
    private final long keepAliveNanos;
    private final long checkNanos;
    private long idleSince = -1;

    Connection(long keepAliveNanos, long checkNanos) {
      this.keepAliveNanos = keepAliveNanos;
      this.checkNanos = checkNanos;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(CONNECTION_WINDOW - Http2CodecUtil.DEFAULT_WINDOW_SIZE));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent) {
        ctx.close(); // HTTP/2 ends with GOAWAY: a half-closed connection is a client gone
      } else if (evt instanceof IdleStateEvent idle) {
        // read-idle events come every quarter of the shorter timeout; the first of a run starts the clock
        long now = System.nanoTime();
        if (idle.isFirst() || idleSince < 0) idleSince = now;
        Http2FrameCodec codec = ctx.pipeline().get(Http2FrameCodec.class);
        boolean quiet = codec == null || codec.connection().numActiveStreams() == 0;
        // the first event of a run comes one check period after the last read
        if (quiet && now - idleSince + checkNanos >= keepAliveNanos) ctx.close(); // GOAWAY, then close
      }
      ReferenceCountUtil.release(evt);
    }

    /** What the HTTP/2 codec did not handle itself: the connection's own failures (a reset, a TLS error). */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.debug("HTTP/2 client connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
      ctx.close();
    }
  }
}
