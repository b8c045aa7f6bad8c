package berth.store;

import berth.apps.App;
import berth.apps.AppKeys;
import berth.apps.Catalog;
import berth.apps.Origin;
import berth.config.ConfigException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Store} on JDBC: SQLite (embedded, the default) or PostgreSQL, with the same SQL and the same Flyway
 * migrations ({@code src/main/resources/db/migration}), run when the store opens.
 *
 * <p><b>Tables.</b> {@code apps(name, spec, version, created_at, updated_at)}: {@code spec} is the app's canonical
 * JSON ({@link AppKeys#toJson}). {@code domains(domain PRIMARY KEY, app)}: a domain has one owner, enforced by the
 * database. {@code revision}: one row, bumped first in every write transaction; it is {@link Catalog#version()}.
 *
 * <p><b>Writes</b> are one transaction each: bump the revision (which also queues concurrent writers behind its row
 * lock on PostgreSQL; SQLite runs {@code BEGIN IMMEDIATE}), check versions and domain owners, write, commit. A write
 * that changes nothing (the same spec again) is rolled back: no new version, no revision, no notification. Writes
 * of this process are also serialized by {@link #writes}, which keeps the cached catalog and the listeners in
 * revision order.
 *
 * <p><b>Reads</b> come from a cached snapshot (the catalog plus each app's version), patched after each write of
 * this process without reading the database again; a read first compares the database's revision with the
 * snapshot's (one one-row query) and loads everything again when someone else wrote. So {@link #catalog()} after a
 * write costs one small query, whatever the number of apps.
 *
 * <p><b>Why SQLite</b> (not H2) as the embedded database: see docs/ARCHITECTURE.md. It runs in WAL mode (readers
 * never wait for the writer, and a crash loses no committed transaction: {@code synchronous=FULL}), with a busy
 * timeout so a second writer waits instead of failing.
 *
 * <p>Thread-safe. Every database failure is a {@link StoreException.Unavailable} with the cause; nothing is
 * written then.
 */
public final class SqlStore implements Store {
  private static final Logger LOG = LoggerFactory.getLogger(SqlStore.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Bound parameters per {@code IN (...)} query: well under SQLite's and PostgreSQL's limits. */
  private static final int CHUNK = 500;

  private final HikariDataSource pool;
  private final String description;
  /** PostgreSQL (many nodes may share it: writes notify, a feed listens), else SQLite. */
  private final boolean postgres;
  private final SqlNodes nodes;
  /** Listens for other nodes' writes (PostgreSQL only); null until started, and on SQLite. */
  private ChangeFeed feed;
  private final List<Consumer<Catalog>> listeners = new CopyOnWriteArrayList<>();
  /** The last revision given to the listeners. Guarded by {@link #writes}. */
  private long published = -1;
  private volatile Health health = new Health(true, Instant.now(), null);
  private volatile SQLException lastFailure;
  /** Held by each write of this process from its transaction to its last listener, and by snapshot refreshes. */
  private final ReentrantLock writes = new ReentrantLock();
  /** The apps as of {@link Snapshot#catalog()}'s version. Guarded by {@link #writes} for writing; read freely. */
  private volatile Snapshot snapshot = new Snapshot(Catalog.EMPTY, Map.of());

  /** The cached state: the catalog and each app's stored version. */
  private record Snapshot(Catalog catalog, Map<String, Long> versions) {
    Stored stored(String name) {
      App app = catalog.app(name);
      return app == null ? null : new Stored(app, versions.get(name));
    }
  }

  private SqlStore(HikariDataSource pool, String description, boolean postgres) {
    this.pool = pool;
    this.description = description;
    this.postgres = postgres;
    this.nodes = new SqlNodes(pool, postgres, this::unavailable, this::reached);
  }

  /**
   * Opens the database at {@code jdbcUrl} ({@code jdbc:sqlite:FILE} or {@code jdbc:postgresql://...}), runs the
   * migrations it lacks and loads the apps. Throws {@link StoreException.Unavailable} when the database cannot be
   * reached or migrated, {@link ConfigException} when the URL names another kind of database.
   */
  public static SqlStore open(String jdbcUrl) {
    HikariConfig hc = new HikariConfig();
    hc.setJdbcUrl(jdbcUrl);
    hc.setPoolName("berth-store");
    // a database that is gone fails a call after this long, instead of Hikari's 30 s
    hc.setConnectionTimeout(5_000);
    String description;
    if (jdbcUrl.startsWith("jdbc:sqlite:")) {
      Path file = Path.of(jdbcUrl.substring("jdbc:sqlite:".length()).replaceFirst("\\?.*", "")).toAbsolutePath();
      description = "sqlite " + file;
      try {
        Files.createDirectories(file.getParent());
      } catch (java.io.IOException e) {
        throw new StoreException.Unavailable("cannot create the directory of " + file + ": " + e, e);
      }
      hc.setDriverClassName("org.sqlite.JDBC");
      hc.addDataSourceProperty("journal_mode", "WAL");
      hc.addDataSourceProperty("synchronous", "FULL");
      hc.addDataSourceProperty("busy_timeout", "10000");
      hc.addDataSourceProperty("foreign_keys", "true");
      hc.addDataSourceProperty("transaction_mode", "IMMEDIATE");
      hc.setMaximumPoolSize(4);
    } else if (jdbcUrl.startsWith("jdbc:postgresql:")) {
      description = "postgresql " + jdbcUrl.substring("jdbc:postgresql:".length()).replaceFirst("\\?.*", "").replaceFirst("//[^@/]*@", "//");
      hc.setDriverClassName("org.postgresql.Driver");
      hc.addDataSourceProperty("connectTimeout", "5");
      hc.addDataSourceProperty("socketTimeout", "30");
      hc.setMaximumPoolSize(4);
      hc.setMinimumIdle(1);
    } else {
      throw ConfigException.at("database", "\"" + jdbcUrl + "\" is not a database Berth can use (expected jdbc:postgresql://HOST/DB or jdbc:sqlite:FILE)");
    }
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(hc);
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new StoreException.Unavailable("cannot open the database (" + description + "): " + cause.getMessage(), e);
    }
    boolean postgres = jdbcUrl.startsWith("jdbc:postgresql:");
    SqlStore store = new SqlStore(pool, description, postgres);
    try {
      var result = Flyway.configure().dataSource(pool).locations("classpath:db/migration").failOnMissingLocations(true).load().migrate();
      if (result.migrationsExecuted > 0) LOG.info("store {}: migrated to version {}", description, result.targetSchemaVersion);
      store.refresh();
    } catch (FlywayException | StoreException e) {
      pool.close();
      if (e instanceof StoreException se) throw se;
      throw new StoreException.Unavailable("cannot migrate the database (" + description + "): " + e.getMessage(), e);
    }
    if (postgres) {
      store.feed = new ChangeFeed(jdbcUrl, store, description);
      store.feed.start();
    }
    return store;
  }

  @Override
  public List<Stored> list() {
    Snapshot s = current();
    List<Stored> out = new ArrayList<>();
    for (String name : new TreeMap<>(s.versions()).keySet()) out.add(s.stored(name));
    return out;
  }

  @Override
  public Optional<Stored> get(String name) {
    return Optional.ofNullable(current().stored(name));
  }

  @Override
  public Catalog catalog() {
    return current().catalog();
  }

  @Override
  public Stored create(App app) {
    String spec = spec(app);
    return write(tx -> {
      Long version = tx.version(app.name());
      if (version != null) throw new StoreException.Conflict("name", "an app named " + app.name() + " already exists");
      tx.checkDomains(app, "domains");
      tx.insert(app.name(), spec);
      tx.insertDomains(app);
      Stored stored = new Stored(app, 1);
      return new Change<>(stored, List.of(stored), List.of());
    });
  }

  @Override
  public Stored replace(App app, long expectedVersion) {
    String spec = spec(app);
    return write(tx -> {
      Current current = tx.current(app.name());
      if (current == null) throw new StoreException.NotFound(app.name());
      if (expectedVersion >= 0 && current.version() != expectedVersion) {
        throw new StoreException.VersionMismatch(app.name(), expectedVersion, current.version());
      }
      if (current.spec().equals(spec)) return Change.none(new Stored(app, current.version()));
      tx.deleteDomains(app.name());
      tx.checkDomains(app, "domains");
      tx.update(app.name(), spec);
      tx.insertDomains(app);
      Stored stored = new Stored(app, current.version() + 1);
      return new Change<>(stored, List.of(stored), List.of());
    });
  }

  @Override
  public void delete(String name, long expectedVersion) {
    write(tx -> {
      Long version = tx.version(name);
      if (version == null) throw new StoreException.NotFound(name);
      if (expectedVersion >= 0 && version != expectedVersion) throw new StoreException.VersionMismatch(name, expectedVersion, version);
      tx.deleteDomains(name);
      tx.exec("DELETE FROM apps WHERE name = ?", name);
      return new Change<>(null, List.of(), List.of(name));
    });
  }

  @Override
  public List<Stored> apply(List<Write> writes) {
    Set<String> named = new HashSet<>();
    for (Write w : writes) {
      if (!named.add(w.name())) throw new StoreException.Conflict("name", "app " + w.name() + " is written twice in one call");
    }
    Map<String, String> specs = new HashMap<>();
    for (Write w : writes) {
      switch (w) {
        case Write.Create c -> specs.put(c.name(), spec(c.app()));
        case Write.Replace r -> specs.put(r.name(), spec(r.app()));
        case Write.Delete d -> { }
      }
    }
    return write(tx -> {
      // 1. every version as expected, or nothing is written
      Map<String, Current> existing = tx.currentAll(named);
      for (Write w : writes) {
        Current c = existing.get(w.name());
        long expected = switch (w) {
          case Write.Create cr -> {
            if (c != null) throw new StoreException.Conflict("name", "an app named " + w.name() + " already exists");
            yield -1;
          }
          case Write.Replace r -> r.expectedVersion();
          case Write.Delete d -> d.expectedVersion();
        };
        if (!(w instanceof Write.Create)) {
          if (c == null) throw new StoreException.NotFound(w.name());
          if (expected >= 0 && c.version() != expected) throw new StoreException.VersionMismatch(w.name(), expected, c.version());
        }
      }
      // 2. the domains of every app replaced or deleted are released first, so one may move within the call
      List<Stored> result = new ArrayList<>();
      List<Stored> changed = new ArrayList<>();
      List<String> deleted = new ArrayList<>();
      List<App> claiming = new ArrayList<>();
      for (Write w : writes) {
        switch (w) {
          case Write.Delete d -> {
            tx.deleteDomains(d.name());
            tx.exec("DELETE FROM apps WHERE name = ?", d.name());
            deleted.add(d.name());
          }
          case Write.Replace r -> {
            Current c = existing.get(r.name());
            if (c.spec().equals(specs.get(r.name()))) {
              result.add(new Stored(r.app(), c.version()));
            } else {
              tx.deleteDomains(r.name());
              tx.update(r.name(), specs.get(r.name()));
              Stored s = new Stored(r.app(), c.version() + 1);
              result.add(s);
              changed.add(s);
              claiming.add(r.app());
            }
          }
          case Write.Create c -> {
            tx.insert(c.name(), specs.get(c.name()));
            Stored s = new Stored(c.app(), 1);
            result.add(s);
            changed.add(s);
            claiming.add(c.app());
          }
        }
      }
      // 3. then each app claims its domains, checked against every owner left
      for (App app : claiming) {
        tx.checkDomains(app, "apps." + app.name() + ".domains");
        tx.insertDomains(app);
      }
      return new Change<>(result, changed, deleted);
    });
  }

  /**
   * {@inheritDoc} Apps whose stored spec is already equal keep their version; when none changed, nothing is
   * written. A domain taken by an app not changed in this call is a {@link StoreException.Conflict} whose field
   * is {@code apps.NAME.domains}.
   */
  @Override
  public List<Stored> upsertAll(List<App> apps) {
    Map<String, App> byName = new LinkedHashMap<>();
    Map<String, String> domainOwner = new HashMap<>();
    for (App app : apps) {
      if (byName.putIfAbsent(app.name(), app) != null) throw new StoreException.Conflict("apps." + app.name(), "app " + app.name() + " is given twice");
      for (String d : app.domains()) {
        String owner = domainOwner.putIfAbsent(d, app.name());
        if (owner != null) throw new StoreException.Conflict("apps." + app.name() + ".domains", "\"" + d + "\" is already a domain of app " + owner);
      }
    }
    Map<String, String> specs = new HashMap<>();
    byName.values().forEach(a -> specs.put(a.name(), spec(a)));
    return write(tx -> {
      Map<String, Current> existing = tx.currentAll(byName.keySet());
      List<Stored> result = new ArrayList<>();
      List<Stored> changed = new ArrayList<>();
      for (App app : byName.values()) {
        Current c = existing.get(app.name());
        Stored s;
        if (c == null) s = new Stored(app, 1);
        else if (c.spec().equals(specs.get(app.name()))) s = new Stored(app, c.version());
        else s = new Stored(app, c.version() + 1);
        result.add(s);
        if (c == null || s.version() != c.version()) changed.add(s);
      }
      if (changed.isEmpty()) return Change.none(result);
      // domains of the changed apps are released first, so one may move to another app of this call
      tx.batch("DELETE FROM domains WHERE app = ?", changed.stream().map(s -> List.<Object>of(s.app().name())).toList());
      Map<String, String> owners = tx.owners(changed.stream().flatMap(s -> s.app().domains().stream()).toList());
      for (Stored s : changed) {
        for (String d : s.app().domains()) {
          String owner = owners.get(d);
          if (owner != null) {
            throw new StoreException.Conflict("apps." + s.app().name() + ".domains", "\"" + d + "\" is already a domain of app " + owner);
          }
        }
      }
      long now = System.currentTimeMillis();
      tx.batch("INSERT INTO apps (name, spec, version, created_at, updated_at, revision) VALUES (?, ?, 1, ?, ?, ?)",
          changed.stream().filter(s -> s.version() == 1).map(s -> List.<Object>of(s.app().name(), specs.get(s.app().name()), now, now, tx.revision)).toList());
      tx.batch("UPDATE apps SET spec = ?, version = version + 1, updated_at = ?, revision = ? WHERE name = ?",
          changed.stream().filter(s -> s.version() > 1).map(s -> List.<Object>of(specs.get(s.app().name()), now, tx.revision, s.app().name())).toList());
      tx.batch("INSERT INTO domains (domain, app) VALUES (?, ?)",
          changed.stream().flatMap(s -> s.app().domains().stream().map(d -> List.<Object>of(d, s.app().name()))).toList());
      return new Change<>(result, changed, List.of());
    });
  }

  @Override
  public void onChange(Consumer<Catalog> listener) {
    writes.lock();
    try {
      if (listeners.isEmpty()) published = snapshot.catalog().version(); // catalogs from here on
      listeners.add(listener);
    } finally {
      writes.unlock();
    }
  }

  @Override
  public Health health() {
    return health;
  }

  @Override
  public Nodes nodes() {
    return nodes;
  }

  /** A call to the database worked: it is up (since now, if it was down). */
  void reached() {
    if (!health.up()) {
      Health was = health;
      health = new Health(true, Instant.now(), null);
      LOG.info("store {}: the database answers again (it did not from {})", description, was.since());
    }
  }

  /** A call to the database failed: it is down (since the first failure), for the reason given. */
  void lost(SQLException failure) {
    lastFailure = failure;
    String problem = failure.getMessage();
    Health h = health;
    if (h.up()) LOG.warn("store {}: the database does not answer ({}); serving with the apps as of revision {}", description, problem, known());
    health = new Health(false, h.up() ? Instant.now() : h.since(), problem);
  }

  @Override
  public String describe() {
    return description;
  }

  // ---- metering

  @Override
  public void addUsage(List<Usage> amounts) {
    if (amounts.isEmpty()) return;
    // the same upsert on both databases (SQLite 3.24+, PostgreSQL 9.5+): add to the row, or create it
    String sql = "INSERT INTO app_usage (app, hour, cpu_seconds, memory_byte_seconds) VALUES (?, ?, ?, ?) "
        + "ON CONFLICT (app, hour) DO UPDATE SET cpu_seconds = app_usage.cpu_seconds + excluded.cpu_seconds, "
        + "memory_byte_seconds = app_usage.memory_byte_seconds + excluded.memory_byte_seconds";
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        for (Usage u : amounts) {
          ps.setString(1, u.app());
          ps.setLong(2, u.hour().getEpochSecond());
          ps.setDouble(3, u.cpuSeconds());
          ps.setDouble(4, u.memoryByteSeconds());
          ps.addBatch();
        }
        ps.executeBatch();
        c.commit();
      } catch (SQLException | RuntimeException e) {
        if (!rollbackQuietly(c)) pool.evictConnection(c);
        throw e;
      }
    } catch (SQLException e) {
      throw new StoreException.Unavailable("the database (" + description + ") failed to add usage: " + e.getMessage(), e);
    }
  }

  @Override
  public List<Usage> usage(java.time.Instant from, java.time.Instant to, String app) {
    String sql = "SELECT app, hour, cpu_seconds, memory_byte_seconds FROM app_usage WHERE hour >= ? AND hour < ?"
        + (app == null ? "" : " AND app = ?") + " ORDER BY app, hour";
    List<Usage> out = new ArrayList<>();
    try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, from.getEpochSecond());
      ps.setLong(2, to.getEpochSecond());
      if (app != null) ps.setString(3, app);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Usage(rs.getString(1), java.time.Instant.ofEpochSecond(rs.getLong(2)), rs.getDouble(3), rs.getDouble(4)));
        }
      }
    } catch (SQLException e) {
      throw new StoreException.Unavailable("the database (" + description + ") failed to read usage: " + e.getMessage(), e);
    }
    return out;
  }

  @Override
  public void close() {
    if (feed != null) feed.close();
    pool.close();
  }

  // ---- writing

  /** What a write did: its result, the apps it stored, the apps it deleted. Neither: nothing to commit. */
  private record Change<T>(T result, List<Stored> stored, List<String> deleted) {
    static <T> Change<T> none(T result) {
      return new Change<>(result, List.of(), List.of());
    }

    boolean empty() {
      return stored.isEmpty() && deleted.isEmpty();
    }
  }

  @FunctionalInterface
  private interface Work<T> {
    Change<T> run(Tx tx) throws SQLException;
  }

  /**
   * Runs {@code work} in one transaction after bumping the revision; commits if it changed something (else rolls
   * back), patches the snapshot and tells the listeners, all before the next write of this process begins.
   */
  private <T> T write(Work<T> work) {
    failFastWhileDown();
    writes.lock();
    try {
      Change<T> change;
      long revision;
      try (Connection c = pool.getConnection()) {
        try {
          c.setAutoCommit(false); // SQLite: BEGIN IMMEDIATE, which waits busy_timeout for another writer
          Tx tx = new Tx(c);
          tx.exec("UPDATE revision SET value = value + 1 WHERE id = 1");
          revision = tx.revision();
          tx.revision = revision;
          change = work.run(tx);
          if (change.empty()) {
            c.rollback();
            return change.result();
          }
          if (postgres) tx.notifyRevision();
          c.commit();
          reached();
        } catch (SQLException | RuntimeException e) {
          if (!rollbackQuietly(c) || e instanceof SQLException) {
            // a connection whose transaction state is in doubt (SQLite after a busy timeout says "no transaction
            // is active" to every later commit) must not serve the next write
            pool.evictConnection(c);
          }
          throw e;
        }
      } catch (SQLException e) {
        throw unavailable(e);
      }
      Snapshot before = snapshot;
      if (before.catalog().version() == revision - 1) {
        Map<String, App> apps = new LinkedHashMap<>(before.catalog().apps());
        Map<String, Long> versions = new HashMap<>(before.versions());
        for (Stored s : change.stored()) {
          apps.put(s.app().name(), s.app());
          versions.put(s.app().name(), s.version());
        }
        for (String name : change.deleted()) {
          apps.remove(name);
          versions.remove(name);
        }
        snapshot = new Snapshot(new Catalog(revision, apps), Collections.unmodifiableMap(versions));
      } else {
        refresh(); // someone else wrote in between: read what they wrote
      }
      publish();
      return change.result();
    } finally {
      writes.unlock();
    }
  }

  /**
   * Gives the listeners the snapshot's catalog if they have not had it yet. Called under {@link #writes}, so
   * listeners see catalogs one at a time, in revision order, each once, whichever thread found it (a write of this
   * process, a read that found another process's write, or the change feed).
   */
  private void publish() {
    Catalog now = snapshot.catalog();
    if (listeners.isEmpty() || now.version() == published) return;
    published = now.version();
    for (Consumer<Catalog> l : listeners) {
      try {
        l.accept(now);
      } catch (RuntimeException e) {
        LOG.error("a listener failed on store revision {} (the write is committed)", now.version(), e);
      }
    }
  }

  /**
   * Reads what other processes wrote since the snapshot, if anything, and tells the listeners (the change feed
   * calls it on a notification and once a second). Throws {@link StoreException.Unavailable}.
   */
  void catchUp() {
    writes.lock();
    try {
      refresh();
      publish();
    } finally {
      writes.unlock();
    }
  }

  /** The revision of the snapshot: what this process has read or written. */
  long known() {
    return snapshot.catalog().version();
  }

  /** Whether the rollback worked. */
  private static boolean rollbackQuietly(Connection c) {
    try {
      c.rollback();
      return true;
    } catch (SQLException e) {
      LOG.debug("rollback failed", e);
      return false;
    }
  }

  private StoreException unavailable(SQLException e) {
    if (isConstraintViolation(e)) {
      // only another process writing at the same moment can get here: the checks above run under the revision lock
      return new StoreException.Conflict("name", "another writer changed the same app or domain at the same moment; try again (" + e.getMessage() + ")");
    }
    lost(e);
    return new StoreException.Unavailable("the database (" + description + ") failed: " + e.getMessage(), e);
  }

  private static boolean isConstraintViolation(SQLException e) {
    String state = e.getSQLState();
    return (state != null && state.startsWith("23")) || (e.getErrorCode() == 19 && e.getClass().getName().startsWith("org.sqlite"));
  }

  /** An app's row as a write sees it. */
  private record Current(long version, String spec) {}

  /** One write transaction's statements. */
  private static final class Tx {
    private final Connection c;
    /** This transaction's revision, once bumped: every row it writes carries it. */
    long revision;

    Tx(Connection c) {
      this.c = c;
    }

    void exec(String sql, Object... args) throws SQLException {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        bind(ps, List.of(args));
        ps.executeUpdate();
      }
    }

    void batch(String sql, List<List<Object>> rows) throws SQLException {
      if (rows.isEmpty()) return;
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        for (List<Object> row : rows) {
          bind(ps, row);
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }

    long revision() throws SQLException {
      return SqlStore.revision(c);
    }

    /** PostgreSQL: tells every node listening, at commit (not at all if the transaction rolls back). */
    void notifyRevision() throws SQLException {
      try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify('" + ChangeFeed.CHANNEL + "', ?)")) {
        ps.setString(1, Long.toString(revision));
        ps.executeQuery().close();
      }
    }

    Long version(String name) throws SQLException {
      Current cur = current(name);
      return cur == null ? null : cur.version();
    }

    Current current(String name) throws SQLException {
      try (PreparedStatement ps = c.prepareStatement("SELECT version, spec FROM apps WHERE name = ?")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? new Current(rs.getLong(1), rs.getString(2)) : null;
        }
      }
    }

    Map<String, Current> currentAll(java.util.Collection<String> names) throws SQLException {
      Map<String, Current> out = new HashMap<>();
      List<String> all = List.copyOf(names);
      for (int from = 0; from < all.size(); from += CHUNK) {
        List<String> chunk = all.subList(from, Math.min(all.size(), from + CHUNK));
        try (PreparedStatement ps = c.prepareStatement("SELECT name, version, spec FROM apps WHERE name IN (" + marks(chunk.size()) + ")")) {
          bind(ps, List.copyOf(chunk));
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out.put(rs.getString(1), new Current(rs.getLong(2), rs.getString(3)));
          }
        }
      }
      return out;
    }

    /** The owner of each of {@code domains} that has one. */
    Map<String, String> owners(List<String> domains) throws SQLException {
      Map<String, String> out = new HashMap<>();
      for (int from = 0; from < domains.size(); from += CHUNK) {
        List<String> chunk = domains.subList(from, Math.min(domains.size(), from + CHUNK));
        try (PreparedStatement ps = c.prepareStatement("SELECT domain, app FROM domains WHERE domain IN (" + marks(chunk.size()) + ")")) {
          bind(ps, List.copyOf(chunk));
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out.put(rs.getString(1), rs.getString(2));
          }
        }
      }
      return out;
    }

    /** Throws a {@link StoreException.Conflict} on {@code field} if another app owns one of {@code app}'s domains. */
    void checkDomains(App app, String field) throws SQLException {
      Map<String, String> owners = owners(app.domains());
      for (String d : app.domains()) {
        String owner = owners.get(d);
        if (owner != null && !owner.equals(app.name())) {
          throw new StoreException.Conflict(field, "\"" + d + "\" is already a domain of app " + owner);
        }
      }
    }

    void deleteDomains(String app) throws SQLException {
      exec("DELETE FROM domains WHERE app = ?", app);
    }

    void insertDomains(App app) throws SQLException {
      batch("INSERT INTO domains (domain, app) VALUES (?, ?)", app.domains().stream().map(d -> List.<Object>of(d, app.name())).toList());
    }

    void insert(String name, String spec) throws SQLException {
      long now = System.currentTimeMillis();
      exec("INSERT INTO apps (name, spec, version, created_at, updated_at, revision) VALUES (?, ?, 1, ?, ?, ?)", name, spec, now, now, revision);
    }

    void update(String name, String spec) throws SQLException {
      exec("UPDATE apps SET spec = ?, version = version + 1, updated_at = ?, revision = ? WHERE name = ?", spec, System.currentTimeMillis(), revision, name);
    }

    private static String marks(int n) {
      return String.join(", ", Collections.nCopies(n, "?"));
    }

    private static void bind(PreparedStatement ps, List<Object> args) throws SQLException {
      for (int i = 0; i < args.size(); i++) {
        Object a = args.get(i);
        if (a instanceof Long l) ps.setLong(i + 1, l);
        else if (a instanceof Integer n) ps.setInt(i + 1, n);
        else ps.setString(i + 1, (String) a);
      }
    }
  }

  // ---- reading

  /**
   * While the change feed cannot connect to the database (PostgreSQL: it tries again every second), reads and
   * writes fail at once instead of each waiting for a connection that will not come (the pool's 5 s): an API call
   * during an outage is a quick 503 that says since when, and the first one after the feed is back goes through.
   */
  private void failFastWhileDown() {
    Health h = health;
    if (feed != null && !h.up() && feed.unreachable()) {
      throw new StoreException.Unavailable("the database (" + description + ") failed: " + h.problem() + " (it has not answered since " + h.since()
          + ")", lastFailure);
    }
  }

  /** The snapshot, caught up first if the database's revision moved since (another process wrote). */
  private Snapshot current() {
    failFastWhileDown();
    writes.lock();
    try {
      long revision;
      try (Connection c = pool.getConnection()) {
        revision = revision(c);
      } catch (SQLException e) {
        throw unavailable(e);
      }
      reached();
      if (revision != snapshot.catalog().version()) {
        refresh();
        publish();
      }
      return snapshot;
    } finally {
      writes.unlock();
    }
  }

  /**
   * Brings the snapshot up to the database's revision, reading only what changed: the rows written after the
   * snapshot's revision (each row carries the revision that wrote it), and the names of all apps to see which were
   * deleted. The revision is read before and after: equal, nobody committed in between (every commit bumps it), so
   * the result is the catalog at that revision; else it reads again. A database whose revision went back (restored
   * from an older backup) is read whole.
   */
  private void refresh() {
    writes.lock();
    try (Connection c = pool.getConnection()) {
      for (int attempt = 1; ; attempt++) {
        Snapshot base = snapshot;
        long known = base.catalog().version();
        long before = revision(c);
        if (before == known) return;
        boolean whole = before < known;
        Map<String, App> written = new HashMap<>();
        Map<String, Long> writtenVersions = new HashMap<>();
        Set<String> unreadable = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT name, spec, version FROM apps WHERE revision > ?")) {
          ps.setLong(1, whole ? -1 : known);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              String name = rs.getString(1);
              try {
                written.put(name, AppKeys.fromJson(JSON.readTree(rs.getString(2)), Origin.STORED));
                writtenVersions.put(name, rs.getLong(3));
              } catch (ConfigException | JsonProcessingException e) {
                unreadable.add(name);
                LOG.error("app {} in the store cannot be read, so it is left out: {}", name, e.getMessage());
              }
            }
          }
        }
        Set<String> names = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT name FROM apps"); ResultSet rs = ps.executeQuery()) {
          while (rs.next()) names.add(rs.getString(1));
        }
        long after = revision(c);
        if (before == after || attempt == 5) {
          Map<String, App> apps = new TreeMap<>(whole ? Map.of() : base.catalog().apps());
          Map<String, Long> versions = new HashMap<>(whole ? Map.of() : base.versions());
          apps.keySet().retainAll(names);
          versions.keySet().retainAll(names);
          unreadable.forEach(n -> { apps.remove(n); versions.remove(n); });
          apps.putAll(written);
          versions.putAll(writtenVersions);
          // given up on a still database: what was read is kept, and the next catch-up reads again from `before`
          snapshot = new Snapshot(new Catalog(before, new LinkedHashMap<>(apps)), Collections.unmodifiableMap(versions));
          reached();
          return;
        }
      }
    } catch (SQLException e) {
      throw unavailable(e);
    } finally {
      writes.unlock();
    }
  }

  /** A SQLite {@code PRAGMA}'s value as a connection of the pool sees it (for tests and diagnostics). */
  String pragma(String name) {
    try (Connection c = pool.getConnection(); var st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA " + name)) {
      return rs.next() ? rs.getString(1) : null;
    } catch (SQLException e) {
      throw unavailable(e);
    }
  }

  private static long revision(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT value FROM revision WHERE id = 1"); ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) throw new SQLException("the revision row is missing");
      return rs.getLong(1);
    }
  }

  private static String spec(App app) {
    try {
      return JSON.writeValueAsString(AppKeys.toJson(app));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
