package berth.router;

import berth.pool.AppPool;
import berth.pool.Lease;
import berth.pool.Pool;
import berth.pool.Unavailable;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.HostAndPort;
import io.vertx.core.net.SocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data path, in order: client request → route → app → instance (lease) → app request → app response →
 * client response. {@link #handle} reads top to bottom in that order.
 *
 * <p>Runs on one Vert.x event loop per instance of this class and never blocks: a request waiting for its app to
 * start holds no thread, only its paused connection. Bodies stream both ways with backpressure (Vert.x pipes
 * pause the reading side while the writing side's queue is full), so memory per exchange is bounded whatever
 * the body size.
 *
 * <p>Names follow the legs: {@code clientRequest} (client → Berth), {@code appRequest} (Berth → app),
 * {@code appResponse}, {@code clientResponse}.
 */
final class ProxyHandler implements Handler<HttpServerRequest> {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyHandler.class);

  /** Bodies up to this size (known from Content-Length) are relayed in one write instead of streamed. */
  private static final int SMALL_BODY = 16 * 1024;

  private final Supplier<RouteTable> routes;
  private final Pool pool;
  private final HttpClient client;

  ProxyHandler(Supplier<RouteTable> routes, Pool pool, HttpClient client) {
    this.routes = routes;
    this.pool = pool;
    this.client = client;
  }

  @Override
  public void handle(HttpServerRequest clientRequest) {
    // 1. route: Host (port ignored) to app
    HostAndPort authority = clientRequest.authority();
    String host = authority == null ? null : authority.host();
    String appName = routes.get().lookup(host);
    AppPool app = appName == null ? null : pool.get(appName);
    if (app == null) {
      ErrorPages.notFound(clientRequest.response(), host);
      return;
    }
    // 2. instance: a lease at once if one is ready, else hold the request (paused, no thread) while it starts
    clientRequest.pause();
    CompletableFuture<Lease> lease = app.acquire();
    if (lease.isDone()) {
      proceed(clientRequest, appName, lease);
    } else {
      Context context = Vertx.currentContext();
      lease.whenComplete((l, err) -> context.runOnContext(v -> proceed(clientRequest, appName, lease)));
    }
  }

  private void proceed(HttpServerRequest clientRequest, String appName, CompletableFuture<Lease> pending) {
    Lease lease;
    try {
      lease = pending.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof Unavailable u) {
        ErrorPages.unavailable(clientRequest.response(), u);
      } else {
        LOG.error("{}: no instance", appName, e.getCause());
        ErrorPages.badGateway(clientRequest.response(), appName, "could not be reached");
      }
      clientRequest.resume();
      return;
    }
    HttpServerResponse clientResponse = clientRequest.response();
    if (clientResponse.closed()) { // the client left while the app started
      lease.release();
      return;
    }
    // 3. app request: same method, target and end-to-end headers, on a pooled keep-alive connection
    RequestOptions options = new RequestOptions()
        .setServer(SocketAddress.inetSocketAddress(lease.address()))
        .setMethod(clientRequest.method())
        .setURI(clientRequest.uri())
        .setHeaders(appHeaders(clientRequest));
    client.request(options).onComplete(ar -> {
      if (ar.failed()) {
        lease.release();
        ErrorPages.badGateway(clientResponse, appName, "refused the connection (" + ar.cause().getMessage() + ")");
        clientRequest.resume();
        return;
      }
      HttpClientRequest appRequest = ar.result();
      // connected, nothing sent yet: a new instance's port is first checked to be its own (see Lease.verified)
      CompletableFuture<?> verified = lease.verified();
      if (verified.isDone()) {
        send(clientRequest, appName, lease, appRequest);
      } else {
        Context context = Vertx.currentContext();
        verified.whenComplete((v, err) -> context.runOnContext(x -> send(clientRequest, appName, lease, appRequest)));
      }
    });
  }

  /** 4. The app request goes out (headers, then the body, streamed) and its response comes back. */
  private static void send(HttpServerRequest clientRequest, String appName, Lease lease, HttpClientRequest appRequest) {
    HttpServerResponse clientResponse = clientRequest.response();
    if (lease.verified().isCompletedExceptionally()) {
      // the port is not the instance's: close this connection rather than pool it, so nothing ever goes over it
      appRequest.connection().close();
      lease.release();
      try {
        lease.verified().join();
      } catch (CompletionException e) {
        ErrorPages.unavailable(clientResponse, Unavailable.of(appName, e.getCause()));
      }
      clientRequest.resume();
      return;
    }
    String te = clientRequest.getHeader(HttpHeaders.TRANSFER_ENCODING);
    if (te != null) appRequest.setChunked(true);
    clientResponse.closeHandler(v -> {
      appRequest.reset();
      lease.release();
    });
    appRequest.response().onComplete(rar -> {
      if (rar.failed()) {
        lease.release();
        if (!clientResponse.headWritten()) {
          ErrorPages.badGateway(clientResponse, appName, "closed the connection before answering");
        }
        return;
      }
      respond(clientRequest, rar.result(), clientResponse, lease);
    });
    if (te == null && clientRequest.getHeader(HttpHeaders.CONTENT_LENGTH) == null) {
      appRequest.end(); // no body: nothing to pipe
      clientRequest.resume();
    } else {
      clientRequest.pipe().endOnFailure(false).to(appRequest).onFailure(err -> appRequest.reset());
    }
  }

  private static void respond(HttpServerRequest clientRequest, HttpClientResponse appResponse, HttpServerResponse clientResponse, Lease lease) {
    clientResponse.setStatusCode(appResponse.statusCode());
    clientResponse.setStatusMessage(appResponse.statusMessage());
    HopHeaders.copyEndToEnd(appResponse.headers(), clientResponse.headers());
    int status = appResponse.statusCode();
    boolean bodyless = clientRequest.method() == HttpMethod.HEAD || status == 204 || status == 304 || status < 200;
    if (!bodyless && !clientResponse.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
      if (clientRequest.version() == HttpVersion.HTTP_1_0) {
        clientResponse.putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
      }
      clientResponse.setChunked(clientRequest.version() != HttpVersion.HTTP_1_0);
    }
    String length = appResponse.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (bodyless || small(length)) {
      // a small body of known size: read it whole and answer in one write (head and body in one flush)
      appResponse.body().onComplete(body -> {
        lease.release();
        if (body.succeeded()) {
          clientResponse.end(body.result());
        } else {
          clientRequest.connection().close();
        }
      });
      return;
    }
    appResponse.pipe().endOnFailure(false).to(clientResponse).onComplete(done -> {
      lease.release();
      if (done.failed()) {
        // the app (or the client) went away mid-body: cut the client's connection so it cannot take a
        // truncated body for a whole one
        clientRequest.connection().close();
      }
    });
  }

  private static boolean small(String contentLength) {
    if (contentLength == null || contentLength.isEmpty() || contentLength.length() > 5) return false;
    for (int i = 0; i < contentLength.length(); i++) {
      if (contentLength.charAt(i) < '0' || contentLength.charAt(i) > '9') return false;
    }
    return Integer.parseInt(contentLength) <= SMALL_BODY;
  }

  /** End-to-end headers of the client request, the Host kept, and X-Forwarded-* describing the client. */
  private static MultiMap appHeaders(HttpServerRequest clientRequest) {
    MultiMap headers = HttpHeaders.headers();
    HopHeaders.copyEndToEnd(clientRequest.headers(), headers);
    // no trusted proxies yet: what the client says about earlier hops is not believed, so set, don't append
    SocketAddress remote = clientRequest.remoteAddress();
    headers.set("X-Forwarded-For", remote == null ? "unknown" : remote.hostAddress());
    headers.set("X-Forwarded-Proto", clientRequest.isSSL() ? "https" : "http");
    String host = clientRequest.headers().get(HttpHeaders.HOST);
    if (host != null) headers.set("X-Forwarded-Host", host);
    SocketAddress local = clientRequest.localAddress();
    if (local != null) headers.set("X-Forwarded-Port", Integer.toString(local.port()));
    return headers;
  }
}
