package berth.router;

import berth.apps.Catalog;
import berth.cluster.Node;
import berth.cluster.Placement;
import berth.config.HostPort;
import berth.config.RouterConfig;
import berth.pool.Pool;
import berth.tls.CertificateStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpDecoderConfig;

import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The HTTP front, on Netty directly: a few event loops over io_uring or epoll ({@link Transport}), each accepting
 * client connections (one listen socket per loop on the same port, SO_REUSEPORT, so the kernel spreads them) and holding the app
 * connections those clients use. A client connection and its app connections stay on one loop: the proxy path
 * never hops threads or takes a lock.
 *
 * <p>The route table is an immutable snapshot in a volatile field: {@link #update} builds the new one and swaps
 * it whole; a request uses the one it looked up.
 */
public final class Router {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Router.class);

  private final Pool pool;
  private final Traffic traffic;
  private final RouterConfig config;
  private final AccessLog accessLog;
  private final java.util.concurrent.atomic.AtomicInteger connectionCount = new java.util.concurrent.atomic.AtomicInteger();
  private volatile long lastRefusalLog;
  private final EventLoopGroup loops;
  private final Transport transport;
  private final ChannelGroup clients = new DefaultChannelGroup("berth-clients", GlobalEventExecutor.INSTANCE);
  private final List<Channel> listeners = new ArrayList<>();
  private final FastThreadLocal<AppConnections> connections = new FastThreadLocal<>();
  private final FastThreadLocal<IdleSweep> sweeps = new FastThreadLocal<>();
  private volatile RouteTable routes = RouteTable.EMPTY;
  private volatile Placement placement = Placement.SOLO;
  private volatile Consumer<Node> unreachable = n -> { };
  private volatile boolean draining;

  /**
   * {@code transport}: {@link Transport#of} the config's {@code transport}. {@code traffic}: who counts requests (see
   * {@link Traffic}); its per-app counters are resolved at each {@link #update}.
   */
  public Router(Pool pool, Transport transport, int eventLoops, RouterConfig config, java.nio.file.Path logDir, Traffic traffic) {
    this.traffic = traffic;
    this.pool = pool;
    this.config = config;
    this.accessLog = new AccessLog(config.accessLog(), logDir.resolve("access.log"));
    this.transport = transport;
    this.loops = new MultiThreadIoEventLoopGroup(eventLoops, new DefaultThreadFactory("berth-router", true), transport.handlers());
  }

  public void update(Catalog catalog) {
    routes = RouteTable.of(catalog, traffic);
  }

  /** Client connections open now (HTTP/2 streams not counted apart). */
  public int connections() {
    return connectionCount.get();
  }

  Traffic traffic() {
    return traffic;
  }

  public RouteTable routes() {
    return routes;
  }

  /**
   * Which apps this node serves and where the others go (a cluster's placement; {@link Placement#SOLO} without
   * one), swapped whole like the route table. Requests already forwarded by a node are served here whatever it says.
   */
  public void place(Placement placement) {
    this.placement = placement;
  }

  Placement placement() {
    return placement;
  }

  /** Called (on an event loop; must not block) when another node's router cannot be connected to. */
  public void onUnreachable(Consumer<Node> listener) {
    this.unreachable = listener;
  }

  void unreachable(Node node) {
    unreachable.accept(node);
  }

  Pool pool() {
    return pool;
  }

  RouterConfig config() {
    return config;
  }

  AccessLog accessLog() {
    return accessLog;
  }

  boolean draining() {
    return draining;
  }

  /** "io_uring", "epoll" or "nio". */
  public String transport() {
    return transport.name();
  }

  /**
   * Binds {@code address} for HTTP: HTTP/1.x, or HTTP/2 in clear text when the client starts with its preface
   * (prior knowledge). Returns the bound port.
   */
  public int listen(HostPort address) throws InterruptedException {
    return bind(address, ch -> {
      // a client's FIN reaches Front as an event, not as a close: in a tunnel it is passed on as a half-close
      ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
      ch.pipeline().addLast(new H2cPreface(this)); // idleness: the loop's IdleSweep (HTTP/1), idleTimers() (HTTP/2)
      http1(ch.pipeline(), /* tls= */ false);
    });
  }

  /**
   * Binds {@code address} for HTTPS: the certificate chosen by the name the client asks for (SNI) among
   * {@code certificates}, then HTTP/2 or HTTP/1.1 as agreed by ALPN. Returns the bound port.
   */
  public int listenTls(HostPort address, CertificateStore certificates) throws InterruptedException {
    return bind(address, ch -> {
      ch.pipeline().addLast(new SniSelector(certificates), new Alpn(this));
      http1(ch.pipeline(), /* tls= */ true);
    });
  }

  /**
   * An HTTP/2 connection's read idleness, checked every quarter of the shortest of header_timeout, body_timeout and
   * keepalive_timeout. (Watching writes too would cost a promise and a listener on every write.) HTTP/1 connections
   * are checked by their loop's {@link IdleSweep} instead.
   */
  IdleStateHandler idleTimers() {
    return new IdleStateHandler(idleCheckNanos(), 0, 0, TimeUnit.NANOSECONDS);
  }

  long idleCheckNanos() {
    long shortest = Math.min(config.headerTimeout().toNanos(), Math.min(config.bodyTimeout().toNanos(), config.keepAliveTimeout().toNanos()));
    return Math.max(1_000_000, shortest / 4);
  }

  /** The HTTP/1.x handlers that end every client connection's pipeline (until HTTP/2 replaces them). */
  private void http1(ChannelPipeline p, boolean tls) {
    p.addLast(
        new ServerCodec(new HttpDecoderConfig()
            .setMaxInitialLineLength(config.maxRequestLine())
            .setMaxHeaderSize(config.maxHeaderSize())
            .setMaxChunkSize(64 * 1024) // bodies pass in fewer, larger pieces (Netty's default: 8 KiB)
            .setStrictLineParsing(true)),
        new Front(this, connections(p.channel().eventLoop()), tls));
  }

  /** Binds {@code address} (one socket per event loop where the transport allows it), each accepted connection set up by {@code init}. */
  private int bind(HostPort address, Consumer<Channel> init) throws InterruptedException {
    int port = address.port();
    List<EventLoopGroup> acceptors = new ArrayList<>();
    if (transport.reusePort() != null) loops.forEach(e -> acceptors.add((EventLoop) e));
    else acceptors.add(loops);
    for (EventLoopGroup group : acceptors) {
      ServerBootstrap b = new ServerBootstrap()
          .group(group, group)
          .channel(transport.serverChannel())
          .option(ChannelOption.SO_BACKLOG, 4096)
          .option(ChannelOption.SO_REUSEADDR, true)
          // no TCP_NODELAY child option: Netty's socket channels set it on every accepted socket already
          .childHandler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
              if (connectionCount.incrementAndGet() > config.maxConnections()) {
                connectionCount.decrementAndGet();
                refused();
                ch.close();
                return;
              }
              ch.closeFuture().addListener(f -> connectionCount.decrementAndGet());
              clients.add(ch);
              init.accept(ch);
            }
          });
      if (transport.reusePort() != null) b.option(transport.reusePort(), true);
      // a connection reaches its loop with its first request (as with nginx's "deferred", HAProxy's "defer-accept"):
      // one wake-up for both, 6-17 % less CPU per request with a new connection each (bench/RESULTS.md). One that
      // stays silent is handed over after a second or so, and header_timeout applies from there
      if (transport.deferAccept() != null) b.option(transport.deferAccept(), 1);
      Channel listener = b.bind(address.host(), port).sync().channel();
      listeners.add(listener);
      port = ((InetSocketAddress) listener.localAddress()).getPort(); // the others bind the same port
    }
    return port;
  }

  private void refused() {
    long now = System.nanoTime();
    if (now - lastRefusalLog > TimeUnit.SECONDS.toNanos(10)) {
      lastRefusalLog = now;
      LOG.warn("refusing client connections: {} are open (router.max_connections)", config.maxConnections());
    }
  }

  /** This event loop's idle sweep ({@code loop} is the calling thread's). */
  IdleSweep idleSweep(EventLoop loop) {
    IdleSweep s = sweeps.get();
    if (s == null) {
      s = new IdleSweep(loop, idleCheckNanos());
      sweeps.set(s);
    }
    return s;
  }

  /** This event loop's app connections ({@code loop} is the calling thread's). */
  AppConnections connections(EventLoop loop) {
    AppConnections c = connections.get();
    if (c == null) {
      c = new AppConnections(loop, transport.socketChannel(), (int) config.connectTimeout().toMillis(), !transport.submitsInBatches());
      connections.set(c);
    }
    return c;
  }

  /**
   * Stops accepting connections; idle client connections close now, the others after their current exchange.
   * Completes when all are closed, or after {@code grace} (when the rest are closed).
   */
  public CompletableFuture<Void> shutdown(Duration grace) {
    draining = true;
    listeners.forEach(Channel::close);
    for (Channel ch : clients) {
      ch.eventLoop().execute(() -> {
        Front front = ch.pipeline().get(Front.class);
        if (front != null) front.closeIfIdle();
        else Http2Front.drain(ch, grace); // HTTP/2: GOAWAY, the streams in flight finish
      });
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    long deadline = System.nanoTime() + grace.toNanos();
    Thread.ofVirtual().name("berth-router-drain").start(() -> {
      try {
        while (!clients.isEmpty() && System.nanoTime() < deadline) Thread.sleep(10);
        clients.close().await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      done.complete(null);
    });
    return done;
  }

  /** Stops the event loops (after {@link #shutdown}). */
  public void close() {
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    accessLog.close();
  }
}
