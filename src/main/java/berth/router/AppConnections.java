package berth.router;

import berth.supervisor.Instance;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One event loop's keep-alive connections to upstreams: app instances, and the routers of other nodes. Confined to
 * that loop's thread: a client connection and the app connections it uses live on the same loop, so the data path
 * takes no lock and never hops threads.
 *
 * <p>Idle connections are kept per {@link Upstream#key()}: per {@link Instance} for an instance (not per address:
 * a port reused by a later instance is never served a connection of the earlier one), per address for a node;
 * most recently used first, and closed after {@link #IDLE_SECONDS} or as soon as the other side closes them.
 */
final class AppConnections {
  static final int IDLE_SECONDS = 30;
  private static final AttributeKey<Object> KEY = AttributeKey.valueOf("berth.upstream");

  private final Bootstrap bootstrap;
  private final Map<Object, ArrayDeque<Channel>> idle = new HashMap<>();
  private final EventLoop loop;
  /** Channels with writes to flush once the loop has handled every connection that was ready (see {@link #flushSoon}). */
  private ArrayList<Channel> toFlush = new ArrayList<>();
  private ArrayList<Channel> flushing = new ArrayList<>();
  private final Runnable flushAll = this::flushAll;
  private final boolean deferFlushes;

  /** {@code deferFlushes}: each write is its own system call (epoll, NIO), so flushes wait for the end of the pass. */
  AppConnections(EventLoop loop, Class<? extends Channel> channelClass, int connectTimeoutMillis, boolean deferFlushes) {
    this.loop = loop;
    this.deferFlushes = deferFlushes;
    this.bootstrap = new Bootstrap()
        .group(loop)
        .channel(channelClass)
        // TCP_NODELAY: Netty's socket channels set it themselves (setting it here too is a second system call)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
        .handler(new ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(
                new IdleStateHandler(IDLE_SECONDS, 0, 0, TimeUnit.SECONDS), // read idle: no promise per write
                new AppCodec(new HttpDecoderConfig().setMaxHeaderSize(64 * 1024).setMaxChunkSize(64 * 1024)),
                new Back());
          }
        });
  }

  /**
   * Flushes {@code ch} after the event loop has handled all the connections that were ready with it, so a
   * burst of requests reaches the apps (and a burst of answers the clients) as one burst, waking each reader
   * once rather than once per message. Over io_uring a flush is at once: it only queues the write, and the
   * queue goes to the kernel once per pass anyway (deferring it cost a task, requests/s and p99 there).
   */
  void flushSoon(Channel ch) {
    if (!deferFlushes) {
      ch.flush();
      return;
    }
    if (toFlush.isEmpty()) loop.execute(flushAll);
    toFlush.add(ch);
  }

  private void flushAll() {
    ArrayList<Channel> now = toFlush;
    toFlush = flushing;
    flushing = now;
    for (int i = 0; i < now.size(); i++) now.get(i).flush();
    now.clear();
  }

  /** A pooled connection to {@code upstream}, or null. */
  Channel take(Upstream upstream) {
    Object key = upstream.key();
    ArrayDeque<Channel> q = idle.get(key);
    if (q == null) return null;
    Channel ch;
    while ((ch = q.pollFirst()) != null) {
      if (ch.isActive()) break;
    }
    if (q.isEmpty()) idle.remove(key);
    return ch;
  }

  ChannelFuture connect(Upstream upstream) {
    ChannelFuture f = bootstrap.connect(upstream.address());
    f.channel().attr(KEY).set(upstream.key());
    return f;
  }

  /** Keeps {@code ch}, whose exchange ended cleanly, for the next request to the same instance. */
  void give(Channel ch) {
    Back back = ch.pipeline().get(Back.class);
    back.exchange = null;
    Object key = ch.attr(KEY).get();
    idle.computeIfAbsent(key, i -> new ArrayDeque<>(4)).addFirst(ch);
  }

  private void forget(Channel ch) {
    Object key = ch.attr(KEY).get();
    ArrayDeque<Channel> q = key == null ? null : idle.get(key);
    if (q != null && q.remove(ch) && q.isEmpty()) idle.remove(key);
  }

  static void attach(Channel ch, Exchange exchange) {
    ch.pipeline().get(Back.class).exchange = exchange;
  }

  static AppCodec codec(Channel ch) {
    return ch.pipeline().get(AppCodec.class);
  }

  /** The app side of one connection: hands what the app sends to the exchange using the connection. */
  private final class Back extends ChannelInboundHandlerAdapter {
    Exchange exchange;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (exchange != null) {
        exchange.fromApp(msg);
      } else {
        // an idle connection has nothing to say; if the app says something anyway, the connection is not usable
        ReferenceCountUtil.release(msg);
        ctx.close();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (exchange != null) exchange.flushToClient();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (exchange != null) exchange.appWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (exchange != null) {
        Exchange e = exchange;
        exchange = null;
        e.appClosed();
      } else {
        forget(ctx.channel());
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof IdleStateEvent && exchange == null) ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // channelInactive follows and tells the exchange
    }
  }
}
