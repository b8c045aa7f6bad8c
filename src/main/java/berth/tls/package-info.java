/**
 * The certificates Berth serves over TLS: PEM files in {@code DATA/certs/}, read and checked, indexed by the
 * names clients ask for (SNI), reloaded when they change. Lookups are lock-free reads of an immutable index on
 * the router's event loops; one {@code berth-certs} thread reloads, and {@code berth-tls-context} threads build
 * TLS contexts on first use. Imports nothing of Berth; the router uses it.
 */
package berth.tls;
