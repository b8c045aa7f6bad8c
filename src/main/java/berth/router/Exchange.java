package berth.router;

import berth.pool.AppPool;
import berth.pool.Lease;
import berth.pool.Unavailable;
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
 * One request and its response, in order: client request → app (lease on an instance) → app connection →
 * request out (head, then the body as it arrives) → response back (head, then the body) → end.
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

  private final Front front;
  private final Channel client;
  private final AppConnections connections;
  private final HttpRequest request;
  private final String appName;
  private final boolean keepAlive;
  private final boolean http10;
  private final boolean head;

  private Lease lease;
  private Channel app;
  private ArrayDeque<HttpContent> early;
  private int earlyBytes;
  /** The client's whole request has arrived (its last content). */
  boolean requestRead;
  private boolean requestSent;
  private boolean responseStarted;
  /** The app sent a 1xx head: the empty last content that follows it does not end the response. */
  private boolean informational;
  private boolean appKeepAlive;
  private boolean closeClient;
  private boolean done;

  Exchange(Front front, Channel client, AppConnections connections, HttpRequest request, String appName) {
    this.front = front;
    this.client = client;
    this.connections = connections;
    this.request = request;
    this.appName = appName;
    this.keepAlive = HttpUtil.isKeepAlive(request);
    this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
    this.head = request.method().equals(HttpMethod.HEAD);
  }

  // ---- 1. instance: a lease at once if one is ready, else when the app has started

  void begin(AppPool pool) {
    CompletableFuture<Lease> pending = pool.acquire();
    if (pending.isDone()) {
      leased(pending);
    } else {
      pending.whenComplete((l, e) -> client.eventLoop().execute(() -> leased(pending)));
    }
  }

  private void leased(CompletableFuture<Lease> pending) {
    Lease l;
    try {
      l = pending.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof Unavailable u) {
        fail(ErrorPages.unavailable(u));
      } else {
        LOG.error("{}: no instance", appName, e.getCause());
        fail(ErrorPages.badGateway(appName, "could not be reached"));
      }
      return;
    }
    if (done) { // the client left while the app started
      l.release();
      return;
    }
    lease = l;
    // ---- 2. app connection: a pooled one, or a new one
    Channel pooled = connections.take(l.instance());
    if (pooled != null) {
      send(pooled);
    } else {
      connections.connect(l.instance()).addListener((ChannelFuture f) -> connected(f));
    }
  }

  private void connected(ChannelFuture f) {
    if (done) {
      f.channel().close();
      return;
    }
    if (!f.isSuccess()) {
      fail(ErrorPages.badGateway(appName, "refused the connection (" + f.cause().getMessage() + ")"));
      return;
    }
    // connected, nothing sent: a new instance's port is first checked to be its own (see Lease.verified)
    CompletableFuture<?> verified = lease.verified();
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
    send(ch);
  }

  // ---- 3. request out: the head, what arrived of the body, then the rest as it comes

  private void send(Channel ch) {
    app = ch;
    AppConnections.attach(ch, this);
    prepareRequest();
    ch.write(request);
    if (early != null) {
      for (HttpContent c; (c = early.poll()) != null; ) ch.write(c);
      early = null;
    }
    requestSent = requestRead;
    ch.flush();
    front.updateReading();
  }

  private void prepareRequest() {
    HttpHeaders h = request.headers();
    boolean chunked = HttpUtil.isTransferEncodingChunked(request);
    HopHeaders.strip(h);
    if (chunked) h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
    // no trusted proxies yet: what the client says about earlier hops is not believed, so set, don't append
    h.set("X-Forwarded-For", front.remoteIp());
    h.set("X-Forwarded-Proto", front.scheme());
    String host = h.get(HttpHeaderNames.HOST);
    if (host != null) h.set("X-Forwarded-Host", host);
    h.set("X-Forwarded-Port", front.localPort());
    request.setProtocolVersion(HttpVersion.HTTP_1_1); // keep-alive to the app whatever the client speaks
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
    if (last) requestRead = true;
    if (app == null) {
      if (early == null) early = new ArrayDeque<>();
      early.add(c);
      earlyBytes += c.content().readableBytes();
      if (earlyBytes >= MAX_EARLY_BYTES) front.updateReading();
    } else {
      app.write(c);
      if (last) requestSent = true;
      if (!app.isWritable()) front.updateReading();
    }
  }

  void flushToApp() {
    if (app != null) app.flush();
  }

  /** Whether the client connection should be read now (its data has somewhere to go). */
  boolean wantsClientData() {
    return app != null ? app.isWritable() : earlyBytes < MAX_EARLY_BYTES;
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
      appKeepAlive = HttpUtil.isKeepAlive(response);
      prepareResponse(response);
      responseStarted = true;
      client.write(response);
      if (!(msg instanceof HttpContent)) return;
    }
    if (msg instanceof HttpContent c) {
      boolean last = c instanceof LastHttpContent;
      if (informational && last) {
        informational = false;
        c.release();
        return;
      }
      if (c.decoderResult().isFailure()) {
        c.release();
        appBroken("closed the connection in the middle of its response");
        return;
      }
      client.write(c);
      if (last) {
        finish();
      } else if (!client.isWritable()) {
        app.config().setAutoRead(false);
      }
    }
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
    client.flush();
  }

  void clientWritabilityChanged() {
    if (app != null && app.config().isAutoRead() != client.isWritable()) app.config().setAutoRead(client.isWritable());
  }

  // ---- 5. the end, however it comes

  private void finish() {
    done = true;
    lease.release();
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
    app = null;
    appBroken(responseStarted ? "closed the connection in the middle of its response" : "closed the connection before answering");
  }

  private void appBroken(String why) {
    if (responseStarted) {
      // mid-body: cut the client's connection so it cannot take a truncated body for a whole one
      LOG.warn("{}: {}", appName, why);
      end();
      front.exchangeDone(true);
    } else {
      fail(ErrorPages.badGateway(appName, why));
    }
  }

  /** Ends the exchange with Berth's own answer (or, if the app's answer has begun, by closing the client). */
  private void fail(FullHttpResponse page) {
    if (done) {
      page.release();
      return;
    }
    end();
    if (responseStarted) {
      page.release();
      front.exchangeDone(true);
    } else {
      front.answer(page, !keepAlive || !requestRead);
    }
  }

  /** The client connection closed: nothing more to do for it, and the app connection cannot be reused. */
  void clientClosed() {
    if (!done) end();
  }

  private void end() {
    done = true;
    if (lease != null) lease.release();
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
