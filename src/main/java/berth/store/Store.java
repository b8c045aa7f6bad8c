package berth.store;

import berth.apps.App;
import berth.apps.Catalog;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where apps live: a database (SQLite in the data directory by default, PostgreSQL when the node config names a
 * JDBC URL). Every write is one transaction; each stored app carries a version that grows on every write to it,
 * and the store as a whole a revision that grows on every write to any app.
 *
 * <p>Thread-safe. Writes are checked against the versions a writer last read (optimistic concurrency), and
 * against domains owned by other apps, inside the transaction: two writers cannot silently overwrite each other.
 */
public interface Store extends AutoCloseable {

  /** An app as stored, with its version (1 on create, +1 on every replace). */
  record Stored(App app, long version) {}

  /** All apps, by name. */
  List<Stored> list();

  Optional<Stored> get(String name);

  /** Creates {@code app}; throws {@link StoreException.Conflict} if the name or one of its domains is taken. */
  Stored create(App app);

  /**
   * Replaces the app of the same name if its version is still {@code expectedVersion} (any version when it is
   * negative); throws {@link StoreException.NotFound}, {@link StoreException.VersionMismatch} or
   * {@link StoreException.Conflict} (a domain of another app).
   */
  Stored replace(App app, long expectedVersion);

  /** Deletes the app if its version is still {@code expectedVersion} (any when negative). */
  void delete(String name, long expectedVersion);

  /**
   * Creates or replaces every app of {@code apps} in one transaction (apps not named are left alone; a domain
   * may move between apps named in the same call). Returns the stored versions.
   */
  List<Stored> upsertAll(List<App> apps);

  /** One write of {@link #apply}. A negative expected version means "whatever it is". */
  sealed interface Write {
    String name();

    /** Creates an app that must not exist yet. */
    record Create(App app) implements Write {
      @Override
      public String name() {
        return app.name();
      }
    }

    /** Replaces an app if it is still at {@code expectedVersion}. */
    record Replace(App app, long expectedVersion) implements Write {
      @Override
      public String name() {
        return app.name();
      }
    }

    /** Deletes an app if it is still at {@code expectedVersion}. */
    record Delete(String name, long expectedVersion) implements Write {}
  }

  /**
   * Every write of {@code writes} in one transaction, or none of them (the first problem is thrown, as by the
   * single writes): a domain moving between two apps of one call is never unrouted, and the catalog goes from
   * the state before to the state after in one revision. Returns the created and replaced apps as stored.
   */
  List<Stored> apply(List<Write> writes);

  /** All apps as one snapshot; its version is the store's revision. */
  Catalog catalog();

  /**
   * Calls {@code listener} with every later catalog: after each committed write of this process (on the writing
   * thread, before the write returns), and, on PostgreSQL, after each write of another process sharing the
   * database, as soon as this one learns of it (a notification, or the catch-up by revision once a second; on
   * the store's feed thread). Catalogs come one at a time, in revision order; one that another process wrote may
   * be skipped when a later one is already there. The catalog as of the registration is not given: read it with
   * {@link #catalog()} after registering.
   */
  void onChange(Consumer<Catalog> listener);

  /**
   * Whether the database answers, as the last call to it found: up since when, or down since when and why.
   * While it is down the store keeps its last catalog (reads fail, listeners get nothing) and catches up when it
   * is back.
   */
  Health health();

  /** @param up the last call to the database worked @param problem why it failed (null when up) */
  record Health(boolean up, java.time.Instant since, String problem) {}

  /** The nodes table of a cluster sharing this database. */
  Nodes nodes();

  /**
   * What an app used in one hour (UTC): a row of metering. {@link #addUsage} adds such amounts to what is stored;
   * {@link #usage} reads the sums.
   *
   * @param hour the start of the hour
   * @param cpuSeconds CPU time of all its instances' processes
   * @param memoryByteSeconds memory in use integrated over time (bytes × seconds)
   */
  record Usage(String app, java.time.Instant hour, double cpuSeconds, double memoryByteSeconds) {}

  /**
   * Adds each row's amounts to those stored for its app and hour, in one transaction. Not an app write: no
   * version, no revision, no change listeners. Throws {@link StoreException.Unavailable} when the database fails
   * (nothing is added then).
   */
  void addUsage(List<Usage> amounts);

  /** The rows of hours in [{@code from}, {@code to}), of {@code app} or of every app when it is null, by app and hour. */
  List<Usage> usage(java.time.Instant from, java.time.Instant to, String app);

  /** What the store is, for logs and the status endpoint, e.g. {@code sqlite /var/berth/berth.db}. */
  String describe();

  @Override
  void close();
}
