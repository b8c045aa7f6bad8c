/**
 * The HTTP front on Netty: route by host and path, hold while the app starts, proxy with backpressure (HTTP/1.x,
 * HTTP/2 and TLS in front, HTTP/1.1 to apps), refuse what is malformed, answer failures with pages that say why; in
 * a cluster, forward a request for an app this node does not own to an owner's router, one hop. Runs on event
 * loops only and never blocks.
 */
package berth.router;
