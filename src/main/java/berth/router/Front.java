package berth.router;

import berth.cluster.Node;
import berth.cluster.Placement;
import berth.config.RouterConfig;
import berth.pool.AppPool;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: turns what the client sends into {@link Exchange}s, one at a time and in order, and
 * answers itself what no app should see (malformed requests, unknown hosts).
 *
 * <p>HTTP/1.1 lets a client send its next request before the answer to the last one (pipelining): messages that
 * arrive while an exchange is answering are queued, a few at most (then reading stops), and run after it.
 */
final class Front extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(Front.class);
  /** Pipelined messages held while an exchange answers; beyond it the client's connection is not read. */
  private static final int MAX_QUEUED = 8;

  private final Router router;
  private final AppConnections connections;
  private final boolean tls;
  private ChannelHandlerContext ctx;
  private Exchange current;
  private final ArrayDeque<Object> queued = new ArrayDeque<>(2);
  private boolean closing;
  private String remoteIp = "unknown";
  private String localPort = "";
  private boolean trustedClient;
  /** Bytes of a request head have arrived, and not yet the whole head. */
  private boolean headPending;
  private io.netty.util.concurrent.ScheduledFuture<?> headTimer;
  /**
   * The exchange whose request is with its app and not answered yet, and its deadline (System.nanoTime). One check
   * at a time is scheduled per connection and re-armed when it finds a later deadline, so a request costs two
   * field writes, not a timer scheduled and cancelled in the event loop's queue.
   */
  private Exchange awaitingAnswer;
  private long answerDeadline;
  private io.netty.util.concurrent.ScheduledFuture<?> answerCheck;
  private long answerCheckAt;
  private long lastRead = System.nanoTime();
  /** HTTP/1.x: the codec, and its context, through which an app's response bytes go to the client as they are. */
  private ServerCodec codec;
  private ChannelHandlerContext rawOut;
  private boolean anyRequest;
  /** The loop's {@link IdleSweep} while this HTTP/1 connection is in it, and its neighbours there. */
  IdleSweep sweptBy;
  Front sweepPrev;
  Front sweepNext;

  /** {@code tls}: the client's connection is TLS (so what it asked for was {@code https}). */
  Front(Router router, AppConnections connections, boolean tls) {
    this.router = router;
    this.connections = connections;
    this.tls = tls;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    if (ctx.channel().remoteAddress() instanceof InetSocketAddress remote) {
      remoteIp = remote.getAddress().getHostAddress();
      trustedClient = router.config().trusted(remote.getAddress());
    }
    if (ctx.channel().localAddress() instanceof InetSocketAddress local) localPort = Integer.toString(local.getPort());
    codec = ctx.pipeline().get(ServerCodec.class); // none on an HTTP/2 stream
    rawOut = codec == null ? null : ctx.pipeline().context(codec);
    // a new connection owes its first request head within header_timeout: its first bytes arm the head timer (see
    // channelReadComplete), and one that sends nothing at all is closed by the loop's idle sweep (no timer per
    // connection). An HTTP/2 stream has none: its connection is watched as a whole (Http2Front).
    if (codec != null) router.idleSweep(ctx.channel().eventLoop()).add(this);
    ctx.fireChannelActive();
  }

  /** Whether an app's response may be written to this client as bytes ({@link #writeRaw}): HTTP/1.x. */
  boolean takesRaw() {
    return rawOut != null;
  }

  /** Writes bytes of an app's response past the HTTP encoder; {@code head}: they begin a final response. */
  void writeRaw(Object bytes, boolean head) {
    if (head) codec.answeredRaw();
    rawOut.write(bytes, rawOut.voidPromise());
  }

  AccessLog accessLog() {
    return router.accessLog();
  }

  /** Whether this client's X-Forwarded-* and Forwarded headers are believed (router.trusted_proxies). */
  boolean trustedClient() {
    return trustedClient;
  }

  RouterConfig config() {
    return router.config();
  }

  private void armHeadTimer() {
    if (headTimer != null) return;
    long ms = router.config().headerTimeout().toMillis();
    headTimer = ctx.executor().schedule(this::headTimedOut, ms, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private void headTimedOut() {
    headTimer = null;
    if (closing || current != null) return;
    if (headPending) {
      answer(null, ErrorPages.badRequest(408, "its head did not arrive within " + router.config().headerTimeout().toMillis() / 1000.0 + " s (router.header_timeout)"), true);
    } else if (queued.isEmpty()) {
      ctx.close(); // connected, and said nothing
    }
  }

  /** {@code exchange}'s request is with its app: its answer must begin within {@code nanos} ({@link Exchange#answerTimedOut}). */
  void awaitAnswer(Exchange exchange, long nanos) {
    awaitingAnswer = exchange;
    answerDeadline = System.nanoTime() + nanos;
    if (answerCheck != null && answerCheckAt - answerDeadline > 0) { // a shorter request_timeout than the last one's
      answerCheck.cancel(false);
      answerCheck = null;
    }
    if (answerCheck == null) scheduleAnswerCheck(nanos);
  }

  /** {@code exchange}'s answer began, or it ended: no deadline now. The check under way, if any, finds none. */
  void answered(Exchange exchange) {
    if (awaitingAnswer == exchange) awaitingAnswer = null;
  }

  private void scheduleAnswerCheck(long nanos) {
    answerCheckAt = System.nanoTime() + nanos;
    answerCheck = ctx.executor().schedule(this::checkAnswer, nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private void checkAnswer() {
    answerCheck = null;
    Exchange x = awaitingAnswer;
    if (x == null) return; // the next request's arms a new check
    long left = answerDeadline - System.nanoTime();
    if (left > 0) {
      scheduleAnswerCheck(left);
      return;
    }
    awaitingAnswer = null;
    x.answerTimedOut();
  }

  private void cancelHeadTimer() {
    headPending = false;
    if (headTimer != null) {
      headTimer.cancel(false);
      headTimer = null;
    }
  }

  String remoteIp() {
    return remoteIp;
  }

  String localPort() {
    return localPort;
  }

  /** Whether the client came over TLS. */
  boolean tls() {
    return tls;
  }

  boolean draining() {
    return router.draining();
  }

  Placement placement() {
    return router.placement();
  }

  void unreachable(Node node) {
    router.unreachable(node);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (current != null && current.tunneling()) {
      current.tunnelFromClient(msg);
    } else if (closing) {
      ReferenceCountUtil.release(msg);
    } else if (busy() || !queued.isEmpty()) {
      queued.add(msg);
      updateReading();
    } else {
      dispatch(msg);
    }
  }

  /** The current exchange has its whole request: what arrives now belongs to the next one. */
  private boolean busy() {
    return current != null && current.requestRead && !current.tunneling();
  }

  private void dispatch(Object msg) {
    if (msg instanceof HttpRequest request) {
      begin(request);
    } else if (msg instanceof HttpContent content) {
      if (current != null) current.fromClient(content);
      else content.release(); // the body of a request answered here
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  /** Route: Host (port ignored) to app, then an exchange with it; or Berth's own answer. */
  private void begin(HttpRequest request) {
    cancelHeadTimer();
    anyRequest = true;
    if (request.decoderResult().isFailure()) {
      Throwable cause = request.decoderResult().cause();
      int status = cause instanceof TooLongHttpLineException ? 414 : cause instanceof TooLongHttpHeaderException ? 431 : 400;
      ReferenceCountUtil.release(request);
      answer(request, ErrorPages.badRequest(status, String.valueOf(cause.getMessage())), true);
      return;
    }
    String problem = RequestChecks.problem(request);
    if (problem != null) {
      answer(request, ErrorPages.badRequest(problem.startsWith("HTTP version") ? 505 : 400, problem), true);
      return;
    }
    String host = request.headers().get(HttpHeaderNames.HOST);
    boolean hasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
    String marker = request.headers().get(Forwarding.HOP);
    boolean hop = marker != null;
    if (hop) {
      if (!router.placement().fromNode(marker)) {
        answer(request, ErrorPages.badRequest(403, "its " + Forwarding.HOP + " header is for the nodes of a Berth cluster only"), true);
        return;
      }
      request.headers().remove(Forwarding.HOP);
    }
    RouteTable.Route route = router.routes().route(host, request.uri());
    String appName = route == null ? null : route.app();
    AppPool pool = appName == null ? null : router.pool().get(appName);
    if (pool == null) {
      answer(request, ErrorPages.notFound(host), hasBody || !HttpUtil.isKeepAlive(request));
      return;
    }
    if (route.maxBodySize() > 0 && HttpUtil.getContentLength(request, 0L) > route.maxBodySize()) {
      answer(request, ErrorPages.badRequest(413, "its body (" + HttpUtil.getContentLength(request, 0L) + " bytes) is larger than app "
          + appName + " accepts (max_body_size " + berth.config.Sizes.format(route.maxBodySize()) + ")"), true);
      return;
    }
    current = new Exchange(this, ctx.channel(), connections, request, route, hop);
    current.begin(pool);
  }

  /**
   * Berth's own answer to the current request (null if none was read); then the next request, or the close.
   * Logged here when no exchange began; an exchange logs its own.
   */
  void answer(HttpRequest request, ErrorPages.Page error, boolean close) {
    if (current == null) {
      router.traffic().answered(error.status());
      if (router.accessLog().enabled()) router.accessLog().add(AccessLog.local(request, remoteIp, error.status()));
    }
    current = null;
    FullHttpResponse page = error.render(ErrorPages.wantsJson(request));
    if (close || router.draining()) {
      page.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      closing = true;
      ctx.writeAndFlush(page).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    ctx.writeAndFlush(page);
    next();
  }

  /** The current exchange has ended; the app's answer is written (not yet flushed). */
  void exchangeDone(boolean close) {
    current = null;
    if (close || router.draining()) {
      closing = true;
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    connections.flushSoon(ctx.channel());
    next();
  }

  private void next() {
    while (!closing && !busy() && !queued.isEmpty()) dispatch(queued.poll());
    updateReading();
  }

  /**
   * The client's FIN. In a tunnel it is a half-close, passed on to the app, which may still answer. Otherwise, as
   * nginx takes it, the client is gone: the exchange under way ends (499: its lease is released, its app
   * connection closed), and so does the connection.
   */
  private void inputShutdown() {
    if (current != null && current.tunneling()) current.clientDoneSending();
    else ctx.close();
  }

  /** Reads the client only while what it sends has somewhere to go. */
  void updateReading() {
    boolean want = !closing && queued.size() < MAX_QUEUED && (current == null || busy() || current.wantsClientData());
    if (ctx.channel().config().isAutoRead() != want) ctx.channel().config().setAutoRead(want);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    lastRead = System.nanoTime();
    if (current != null) current.flushToApp();
    // a head that did not come whole in one read: from now on it must be complete within header_timeout (the
    // timer costs nothing for the usual head that arrives in one piece)
    if (headPending && headTimer == null) armHeadTimer();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (current != null) current.clientWritabilityChanged();
  }

  /** Leaving the pipeline: the connection closed, or turned into HTTP/2. */
  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (sweptBy != null) sweptBy.remove(this);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (sweptBy != null) sweptBy.remove(this);
    closing = true;
    cancelHeadTimer();
    awaitingAnswer = null;
    if (answerCheck != null) answerCheck.cancel(false);
    answerCheck = null;
    if (current != null) {
      current.clientClosed();
      current = null;
    }
    queued.forEach(ReferenceCountUtil::release);
    queued.clear();
  }

  /** Closes the connection if no exchange is under way (keep-alive idle, or Berth draining). */
  void closeIfIdle() {
    if (current == null && queued.isEmpty() && !headPending) ctx.close();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == ServerCodec.HEAD_STARTED) headPending = true;
    else if (evt instanceof ChannelInputShutdownEvent) inputShutdown();
    else ctx.fireUserEventTriggered(evt);
  }

  /** The idle sweep's check, every quarter of the shortest timeout ({@link Router#idleCheckNanos}). */
  void checkIdle(long now) {
    long idle = now - lastRead;
    if (current == null) {
      // connected and silent past header_timeout (slowloris without a byte), or kept alive past its timeout
      long limit = anyRequest || headPending ? router.config().keepAliveTimeout().toNanos() : router.config().headerTimeout().toNanos();
      if (idle >= limit) closeIfIdle();
    } else if (!current.requestRead && !current.tunneling() && ctx.channel().config().isAutoRead()
        && idle >= router.config().bodyTimeout().toNanos()) {
      // a body that stopped arriving, while Berth was reading (not holding back for a slow app)
      current.bodyTimedOut();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.debug("client connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }
}
