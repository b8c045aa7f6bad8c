package berth.router;

import berth.cluster.Node;
import berth.pool.AppPool;
import berth.pool.Lease;
import berth.pool.Unavailable;
import berth.supervisor.Instance;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request and its response, in order: client request → upstream (a lease on an instance here, or the router of
 * the node that owns the app) → connection → request out (head, then the body as it arrives) → response back
 * (head, then the body) → end.
 *
 * <p>Confined to the client connection's event loop; the app connection is on the same loop. Nothing blocks: a
 * request waiting for its app to start holds only this object, and the completion of the lease is handed back to
 * the loop. Bodies stream with backpressure both ways: the side that reads stops reading while the side that
 * writes is not writable (Netty's write-buffer water marks), so memory per exchange is bounded whatever the
 * body size.
 *
 * <p>Every way an exchange ends goes through {@link #finish()}, {@link #fail} or {@link #clientClosed()}, each of
 * which releases the lease exactly once and either returns the app connection to the pool (only when both
 * messages were complete and the app keeps it open) or closes it.
 */
final class Exchange {
  private static final Logger LOG = LoggerFactory.getLogger(Exchange.class);
  /** Request body held while no app connection exists yet (the app is starting); beyond it the client waits. */
  private static final int MAX_EARLY_BYTES = 64 * 1024;
  /** Owners of the app tried in turn when their routers cannot be connected to, before the request fails. */
  private static final int MAX_PEER_FAILURES = 2;

  private final Front front;
  private final Channel client;
  private final AppConnections connections;
  private final HttpRequest request;
  private final RouteTable.Route route;
  private final String appName;
  private final String prefix;
  private final AppTraffic traffic;
  /** Body bytes from the client (a tunnel's too): for max_body_size and the app's counters. */
  private long bodyBytes;
  /** When it began to wait for an instance (0: it did not wait); its answer then completes a cold start. */
  private long waitingSince;
  private Lease waitedFor;
  private AppPool pool;
  /** The one retry was used: connecting failed, or the app closed before answering a request safe to repeat. */
  private boolean retried;
  private final boolean repeatable;
  private boolean prepared;
  private final boolean keepAlive;
  private final boolean http10;
  private final boolean head;

  /** Where the request goes; null until decided (and between a failed attempt and the next). */
  private Upstream upstream;
  /** The request comes from another node, which placed it here: served here, its forwarding headers kept. */
  private final boolean hop;
  private int peerFailures;
  private Channel app;
  private ArrayDeque<HttpContent> early;
  private int earlyBytes;
  /** The client's whole request has arrived (its last content). */
  boolean requestRead;
  private boolean headSent;
  private final boolean expectContinue;
  /** The client asked to switch protocols (WebSocket...): the Upgrade header is passed on, not dropped. */
  private final String upgrade;
  /** The app agreed (101); its empty last content that follows starts the tunnel. */
  private boolean switching;
  /** Both connections now carry raw bytes, relayed as they come, until either side closes. */
  private boolean tunnel;
  private boolean requestSent;
  private boolean responseStarted;
  /** The app sent a 1xx head: the empty last content that follows it does not end the response. */
  private boolean informational;
  private boolean appKeepAlive;
  private boolean closeClient;
  private boolean done;
  // for the access log
  private final long started;
  private final String originalUri;
  private final String protocol;
  private long answered = -1;
  private int status;
  private long bytesOut;
  private boolean logged;

  /**
   * Armed once the whole request is with the app, until its answer begins (router.request_timeout): a deadline
   * its {@link Front} keeps, with no timer of its own per request.
   */
  private boolean answerArmed;
  private long answerTimeoutMs;

  /**
   * @param route where it goes: the app, and the path prefix matched (the app sees the path below it)
   * @param hop the request was forwarded by another node of the cluster (its marker checked and removed)
   */
  Exchange(Front front, Channel client, AppConnections connections, HttpRequest request, RouteTable.Route route, boolean hop) {
    this.hop = hop;
    this.started = System.nanoTime();
    this.originalUri = request.uri();
    this.protocol = request.protocolVersion().text();
    this.front = front;
    this.client = client;
    this.connections = connections;
    this.request = request;
    this.route = route;
    this.appName = route.app();
    this.prefix = route.prefix();
    this.traffic = route.traffic();
    traffic.begun();
    this.keepAlive = HttpUtil.isKeepAlive(request);
    this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
    this.head = request.method().equals(HttpMethod.HEAD);
    this.expectContinue = HttpUtil.is100ContinueExpected(request);
    // safe to send twice (RFC 9110 idempotent methods) and nothing to keep for a second sending (no body)
    HttpMethod m = request.method();
    this.repeatable = (m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD) || m.equals(HttpMethod.OPTIONS) || m.equals(HttpMethod.DELETE)
        || m.equals(HttpMethod.PUT) || m.equals(HttpMethod.TRACE))
        && !HttpUtil.isTransferEncodingChunked(request) && HttpUtil.getContentLength(request, 0L) == 0
        && !request.headers().contains(HttpHeaderNames.UPGRADE);
    this.upgrade = request.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)
        ? request.headers().get(HttpHeaderNames.UPGRADE) : null;
  }

  // ---- 1. upstream: another node that owns the app, or a lease on an instance here (at once if one is ready,
  //         else when the app has started)

  void begin(AppPool pool) {
    begin(pool, null);
  }

  /** {@code avoid}: the instance a retry failed on (another one is leased if the app has several). */
  private void begin(AppPool pool, Instance avoid) {
    this.pool = pool;
    Node owner = hop ? null : front.placement().forwardTo(appName);
    if (owner != null) {
      upstream = new Upstream.Peer(owner);
      connect();
      return;
    }
    CompletableFuture<Lease> pending = pool.acquire(avoid);
    if (pending.isDone()) {
      leased(pending);
    } else {
      waitingSince = System.nanoTime();
      pending.whenComplete((l, e) -> client.eventLoop().execute(() -> leased(pending)));
    }
  }

  private void leased(CompletableFuture<Lease> pending) {
    boolean waited = waitingSince != 0;
    if (waited) {
      traffic.waited(System.nanoTime() - waitingSince);
      waitingSince = 0;
    }
    Lease l;
    try {
      l = pending.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof Unavailable u) {
        fail(ErrorPages.unavailable(u));
      } else {
        LOG.atError().addKeyValue("app", appName).setCause(e.getCause()).log("{}: no instance", appName);
        fail(ErrorPages.badGateway(appName, "could not be reached"));
      }
      return;
    }
    if (done) { // the client left while the app started
      l.release();
      return;
    }
    upstream = new Upstream.Local(l);
    if (waited) waitedFor = l;
    connect();
  }

  // ---- 2. connection: a pooled one, or a new one (always new for a retry)

  private void connect() {
    Channel pooled = retried ? null : connections.take(upstream);
    if (pooled != null) {
      send(pooled);
    } else {
      connections.connect(upstream).addListener((ChannelFuture f) -> connected(f));
    }
  }

  private void connected(ChannelFuture f) {
    if (done) {
      f.channel().close();
      return;
    }
    if (!f.isSuccess()) {
      String why = "refused the connection (" + f.cause().getMessage() + ")";
      if (upstream instanceof Upstream.Peer peer && peerFailures++ < MAX_PEER_FAILURES) {
        // an owner that takes no connection is left out of this node's placement: the request goes to the next one
        front.unreachable(peer.node());
        again("node " + peer.node().name() + " " + why);
        return;
      }
      if (!retried) retry(why); // nothing reached the app: any request may go again
      else fail(ErrorPages.badGateway(appName, why));
      return;
    }
    // connected, nothing sent: a new instance's port is first checked to be its own (see Lease.verified)
    CompletableFuture<?> verified = upstream.verified();
    if (verified.isDone()) {
      verified(f.channel(), verified);
    } else {
      verified.whenComplete((v, e) -> client.eventLoop().execute(() -> verified(f.channel(), verified)));
    }
  }

  private void verified(Channel ch, CompletableFuture<?> verified) {
    if (done) {
      ch.close();
      return;
    }
    if (verified.isCompletedExceptionally()) {
      // the port is not the instance's: close this connection rather than pool it, so nothing ever goes over it
      ch.close();
      try {
        verified.join();
      } catch (CompletionException e) {
        fail(ErrorPages.unavailable(Unavailable.of(appName, e.getCause())));
      }
      return;
    }
    if (!ch.isActive()) { // made while another process held the port, which has let go since: nothing was sent
      if (!retried) retry("its connection closed before the instance was ready");
      else fail(ErrorPages.badGateway(appName, "closed the connection before the instance was ready"));
      return;
    }
    send(ch);
  }

  // ---- 3. request out: the head, what arrived of the body, then the rest as it comes

  private void send(Channel ch) {
    app = ch;
    AppConnections.attach(ch, this);
    if (mayStartSending()) sendHead();
    else front.updateReading();
  }

  /**
   * The head goes out once the whole request has arrived (and passed the decoder), or 64 KiB of its body, or at
   * once when the client waits for 100 Continue: a small request with a malformed body never reaches the app at
   * all, and a large one is cut off (its app connection closed) where it goes wrong.
   */
  private boolean mayStartSending() {
    return requestRead || earlyBytes >= MAX_EARLY_BYTES || expectContinue;
  }

  private void sendHead() {
    Channel ch = app;
    headSent = true;
    prepareRequest();
    aimRequest();
    // the answer may come as bytes when they can go to the client as they are: HTTP/1.1 kept alive, no upgrade
    AppConnections.codec(ch).expect(head, front.takesRaw() && keepAlive && !http10 && upgrade == null);
    ch.write(request, ch.voidPromise());
    if (early != null) {
      for (HttpContent c; (c = early.poll()) != null; ) ch.write(c, ch.voidPromise());
      early = null;
    }
    requestSent = requestRead;
    connections.flushSoon(ch);
    if (requestSent) armAnswerTimer();
    front.updateReading();
  }

  /** What any upstream gets, done once (a retry sends the request as prepared the first time). */
  private void prepareRequest() {
    if (prepared) return;
    prepared = true;
    HttpHeaders h = request.headers();
    boolean chunked = HttpUtil.isTransferEncodingChunked(request);
    HopHeaders.strip(h);
    if (chunked) h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    if (upgrade != null) {
      h.set(HttpHeaderNames.UPGRADE, upgrade);
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    }
    if (!hop) { // a node that forwarded the request told the app about the client already
      Forwarding.apply(h, front.remoteIp(), front.localPort(), front.trustedClient(), front.tls());
      if (!front.trustedClient()) h.remove(Forwarding.PREFIX);
    }
    request.setProtocolVersion(HttpVersion.HTTP_1_1); // keep-alive to the app whatever the client speaks
  }

  /**
   * What depends on the upstream, set for each attempt (a retry may go elsewhere): another node gets the path
   * whole (it routes the request again) and the marker that it comes from a node; an instance gets the path
   * below the route's prefix, and never the marker.
   */
  private void aimRequest() {
    HttpHeaders h = request.headers();
    if (upstream instanceof Upstream.Peer) {
      request.setUri(originalUri);
      h.set(Forwarding.HOP, front.placement().hopMarker());
      return;
    }
    h.remove(Forwarding.HOP);
    if (!prefix.isEmpty()) {
      // "/blog/x?y" reaches the app as "/x?y", and X-Forwarded-Prefix tells it where it is mounted
      String rest = originalUri.substring(prefix.length());
      request.setUri(rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest);
      h.set(Forwarding.PREFIX, prefix);
    }
  }

  /** A part of the request body, from the client. */
  void fromClient(HttpContent c) {
    if (done) {
      c.release();
      return;
    }
    if (c.decoderResult().isFailure()) { // e.g. an invalid chunk: the request cannot be delimited
      c.release();
      requestRead = false;
      fail(ErrorPages.badRequest(400, "its body is malformed (" + c.decoderResult().cause().getMessage() + ")"));
      return;
    }
    boolean last = c instanceof LastHttpContent;
    bodyBytes += c.content().readableBytes();
    if (route.maxBodySize() > 0 && bodyBytes > route.maxBodySize()) {
      c.release();
      requestRead = false; // the rest is not read: the connection closes after the answer
      fail(ErrorPages.badRequest(413, "its body is larger than app " + appName + " accepts (max_body_size "
          + berth.config.Sizes.format(route.maxBodySize()) + ")"));
      return;
    }
    if (last) requestRead = true;
    if (!headSent) {
      if (early == null) early = new ArrayDeque<>(2);
      early.add(c);
      earlyBytes += c.content().readableBytes();
      if (app != null && mayStartSending()) sendHead();
      else if (earlyBytes >= MAX_EARLY_BYTES) front.updateReading();
    } else {
      app.write(c, app.voidPromise());
      if (last) {
        requestSent = true;
        armAnswerTimer();
      }
      if (!app.isWritable()) front.updateReading();
    }
  }

  private void armAnswerTimer() {
    if (answerArmed || responseStarted || tunnel) return;
    // another node may have to start the app first: it answers 503 itself if the start fails
    answerTimeoutMs = (route.requestTimeout() != null ? route.requestTimeout() : front.config().requestTimeout()).toMillis()
        + (upstream instanceof Upstream.Peer ? route.startTimeout().toMillis() : 0);
    answerArmed = true;
    front.awaitAnswer(this, java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(answerTimeoutMs));
  }

  /** Its request has been with the app for request_timeout and no answer began ({@link Front#awaitAnswer}). */
  void answerTimedOut() {
    answerArmed = false;
    if (!done && !responseStarted) {
      fail(ErrorPages.gatewayTimeout(appName, "did not answer within " + answerTimeoutMs / 1000.0 + " s (request_timeout)"));
    }
  }

  private void cancelAnswerTimer() {
    if (answerArmed) {
      answerArmed = false;
      front.answered(this);
    }
  }

  /** The client stopped sending its request body (router.body_timeout). */
  void bodyTimedOut() {
    fail(ErrorPages.badRequest(408, "its body stopped arriving for " + front.config().bodyTimeout().toMillis() / 1000.0 + " s (router.body_timeout)"));
  }

  void flushToApp() {
    if (headSent && app != null) connections.flushSoon(app);
  }

  /** Whether the client connection should be read now (its data has somewhere to go). */
  boolean wantsClientData() {
    return headSent ? app.isWritable() : earlyBytes < MAX_EARLY_BYTES;
  }

  void appWritabilityChanged() {
    front.updateReading();
  }

  // ---- 4. response back: the head, then the body as it comes

  void fromApp(Object msg) {
    if (done) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (tunnel) {
      if (msg instanceof io.netty.buffer.ByteBuf b) bytesOut += b.readableBytes();
      relay(msg, client, app);
      return;
    }
    if (msg instanceof AppCodec.RawHead raw) {
      rawResponse(raw);
      return;
    }
    if (msg instanceof io.netty.buffer.ByteBuf part) { // of a raw response's body
      bytesOut += part.readableBytes();
      front.writeRaw(part, false);
      if (!client.isWritable()) app.config().setAutoRead(false);
      return;
    }
    if (msg == AppCodec.RAW_END) {
      finish();
      return;
    }
    if (msg instanceof HttpResponse response) {
      if (response.decoderResult().isFailure()) {
        ReferenceCountUtil.release(msg);
        appBroken("sent a response Berth cannot read (" + response.decoderResult().cause().getMessage() + ")");
        return;
      }
      int code = response.status().code();
      if (code < 200 && code != 101) { // 100 Continue, 103 Early Hints: passed on, the real response follows
        informational = true;
        FullHttpResponse interim = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, response.status());
        interim.headers().set(response.headers());
        HopHeaders.strip(interim.headers());
        client.writeAndFlush(interim);
        ReferenceCountUtil.release(msg);
        return;
      }
      if (code == 101) {
        if (upgrade == null) {
          ReferenceCountUtil.release(msg);
          appBroken("switched protocols without being asked to");
          return;
        }
        String to = response.headers().get(HttpHeaderNames.UPGRADE);
        HopHeaders.strip(response.headers());
        if (to != null) response.headers().set(HttpHeaderNames.UPGRADE, to);
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        responseStarted = true;
        cancelAnswerTimer();
        answered = System.nanoTime();
        status = 101;
        switching = true;
        client.writeAndFlush(response);
        return;
      }
      appKeepAlive = HttpUtil.isKeepAlive(response);
      prepareResponse(response);
      responseStarted = true;
      answered = System.nanoTime();
      status = code;
      if (waitedFor != null && upstream instanceof Upstream.Local(Lease l) && l == waitedFor) traffic.firstResponse(l.instance(), answered);
      cancelAnswerTimer();
      client.write(response, client.voidPromise());
      if (!(msg instanceof HttpContent)) return;
    }
    if (msg instanceof HttpContent c) {
      boolean last = c instanceof LastHttpContent;
      if (informational && last) {
        informational = false;
        c.release();
        return;
      }
      if (switching && last) {
        c.release();
        startTunnel();
        return;
      }
      if (c.decoderResult().isFailure()) {
        c.release();
        appBroken("closed the connection in the middle of its response");
        return;
      }
      bytesOut += c.content().readableBytes();
      client.write(c, client.voidPromise());
      if (last) {
        finish();
      } else if (!client.isWritable()) {
        app.config().setAutoRead(false);
      }
    }
  }

  /** A plain response, as bytes (see {@link AppCodec}): the head (with the body, if it came whole) goes out as it is. */
  private void rawResponse(AppCodec.RawHead raw) {
    appKeepAlive = !raw.close;
    responseStarted = true;
    answered = System.nanoTime();
    status = raw.status;
    if (waitedFor != null && upstream instanceof Upstream.Local(Lease l) && l == waitedFor) traffic.firstResponse(l.instance(), answered);
    cancelAnswerTimer();
    front.writeRaw(raw.content(), true);
    if (raw.complete) {
      bytesOut += raw.bodyLength;
      finish();
    } else if (!client.isWritable()) {
      app.config().setAutoRead(false);
    }
  }

  /**
   * From here both connections carry the new protocol's bytes: the HTTP codecs leave both pipelines (what
   * they had read but not decoded is passed on as bytes), and so does the app connection's idle timer (a quiet
   * WebSocket is not an idle connection; the client's idle sweep passes over tunnels). The lease is held until
   * either side closes: an open tunnel is activity.
   */
  private void startTunnel() {
    tunnel = true;
    client.pipeline().remove(ServerCodec.class);
    app.pipeline().remove(AppCodec.class);
    app.pipeline().remove(io.netty.handler.timeout.IdleStateHandler.class);
    front.updateReading();
  }

  boolean tunneling() {
    return tunnel;
  }

  /** Raw bytes of the tunnel, from the client. */
  void tunnelFromClient(Object msg) {
    if (done) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof io.netty.buffer.ByteBuf b) bodyBytes += b.readableBytes();
    relay(msg, app, client);
  }

  /** The client half-closed the tunnel: so does Berth towards the app, once all the client sent is written. */
  void clientDoneSending() {
    if (done || !(app instanceof io.netty.channel.socket.DuplexChannel to)) return;
    to.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(f -> {
      if (f.isSuccess()) to.shutdownOutput();
    });
  }

  /** Writes tunnel bytes to {@code to}; stops reading {@code from} while {@code to} is not writable. */
  private static void relay(Object msg, Channel to, Channel from) {
    if (!(msg instanceof io.netty.buffer.ByteBuf)) { // an HTTP object decoded before the switch: not tunnel data
      ReferenceCountUtil.release(msg);
      return;
    }
    to.write(msg, to.voidPromise());
    if (!to.isWritable()) from.config().setAutoRead(false);
  }

  private void prepareResponse(HttpResponse response) {
    HttpHeaders h = response.headers();
    int code = response.status().code();
    boolean chunked = HttpUtil.isTransferEncodingChunked(response);
    boolean length = !chunked && h.contains(HttpHeaderNames.CONTENT_LENGTH);
    HopHeaders.strip(h);
    boolean bodyless = head || code == 204 || code == 304;
    if (!length && !(bodyless && !chunked)) {
      // delimited by chunks (from the app, or because the app closes its connection at the end): HTTP/1.0
      // clients know no chunks, so for them the end is the close
      if (http10) closeClient = true;
      else h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    }
    if (!keepAlive || closeClient || front.draining()) {
      closeClient = true;
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (http10) {
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    response.setProtocolVersion(HttpVersion.HTTP_1_1);
  }

  void flushToClient() {
    connections.flushSoon(client);
  }

  void clientWritabilityChanged() {
    if (app != null && app.config().isAutoRead() != client.isWritable()) app.config().setAutoRead(client.isWritable());
  }

  // ---- 5. the end, however it comes

  private void finish() {
    done = true;
    cancelAnswerTimer();
    log();
    upstream.release();
    Channel a = app;
    app = null;
    AppConnections.attach(a, null);
    if (requestSent && appKeepAlive && a.isActive()) {
      a.config().setAutoRead(true);
      connections.give(a);
    } else {
      a.close();
    }
    front.exchangeDone(closeClient || !requestRead);
  }

  /** The app connection closed before the response ended. */
  void appClosed() {
    if (done) return;
    if (tunnel) { // the app ended the tunnel: so does the client, once it has what the app sent
      end();
      front.exchangeDone(true);
      return;
    }
    app = null;
    if (!responseStarted && !retried && (repeatable || !headSent)) {
      // a kept-alive connection the app closed as it was reused, or an instance that died: once more, fresh
      retry("closed the connection before answering");
      return;
    }
    appBroken(responseStarted ? "closed the connection in the middle of its response" : "closed the connection before answering");
  }

  /**
   * Sends the request once more, on a new connection to an instance leased again (another one if the app has
   * several), or to the app's owner node as placed now. Only before any answer, and only when the request cannot
   * have reached the app or is repeatable.
   */
  private void retry(String why) {
    retried = true;
    again(why);
  }

  /** Goes back to step 1: the upstream is decided again. */
  private void again(String why) {
    LOG.debug("{}: {}; sending {} {} again", appName, why, request.method(), originalUri);
    if (app != null) {
      AppConnections.attach(app, null);
      app.close();
      app = null;
    }
    cancelAnswerTimer();
    Instance failed = upstream instanceof Upstream.Local(Lease l) ? l.instance() : null;
    upstream.release();
    upstream = null;
    if (headSent) { // a repeatable request has no body: only its end to send again
      headSent = false;
      requestSent = false;
      early = new ArrayDeque<>(1);
      early.add(LastHttpContent.EMPTY_LAST_CONTENT);
    }
    begin(pool, failed);
  }

  private void appBroken(String why) {
    if (responseStarted) {
      // mid-body: cut the client's connection so it cannot take a truncated body for a whole one
      LOG.atWarn().addKeyValue("app", appName).log("{}: {}", appName, why); // "app" is a field of the JSON log
      end();
      front.exchangeDone(true);
    } else {
      fail(ErrorPages.badGateway(appName, why));
    }
  }

  /** Ends the exchange with Berth's own answer (or, if the app's answer has begun, by closing the client). */
  private void fail(ErrorPages.Page page) {
    if (done) return;
    end();
    if (responseStarted) {
      front.exchangeDone(true);
    } else {
      status = page.status();
      log();
      front.answer(request, page, !keepAlive || !requestRead);
    }
  }

  /** The client connection closed: nothing more to do for it, and the app connection cannot be reused. */
  void clientClosed() {
    if (done) return;
    if (!responseStarted) status = 499; // as nginx logs it: the client went away before the answer
    end();
    if (!logged) log();
  }

  /** The exchange's one record: the app's counters, and the access log's line when it is on. */
  private void log() {
    if (logged) return;
    logged = true;
    long now = System.nanoTime();
    traffic.ended(status, now - started, bodyBytes, bytesOut);
    if (!front.accessLog().enabled()) return;
    HttpHeaders h = request.headers();
    front.accessLog().add(new AccessLog.Entry(System.currentTimeMillis(), front.remoteIp(), request.method().name(), originalUri,
        protocol, status, bytesOut, h.get(HttpHeaderNames.HOST), h.get(HttpHeaderNames.REFERER), h.get(HttpHeaderNames.USER_AGENT),
        appName, upstream == null ? null : upstream.label(), answered < 0 ? -1 : answered - started, now - started,
        h.get("X-Request-Id")));
  }

  private void end() {
    done = true;
    cancelAnswerTimer();
    if (responseStarted) log(); // cut mid-answer, or a tunnel ended: logged with the status the app gave
    if (upstream != null) upstream.release();
    if (app != null) {
      AppConnections.attach(app, null);
      app.close();
      app = null;
    }
    if (early != null) {
      early.forEach(HttpContent::release);
      early = null;
    }
  }
}
