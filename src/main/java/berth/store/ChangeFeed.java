package berth.store;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Other nodes' writes, pushed: every write transaction on PostgreSQL sends {@code NOTIFY berth_revision} (delivered
 * at commit to every session listening, never for a rolled-back transaction), and this thread listens on a
 * connection of its own. On a notification, and at least every {@link #CATCH_UP} without one, it compares the
 * database's revision with the store's and, when another node wrote, has the store catch up (read the rows written
 * since) and tell its listeners.
 *
 * <p>Notifications are only a wake-up: what was missed while the connection was down (the database restarted, or
 * could not be reached) is found by the revision, at the first comparison after it reconnects. Meanwhile the store
 * keeps its last catalog and {@link Store#health()} says the database is down; this thread tries again every
 * {@link #RETRY}.
 *
 * <p>One platform thread, {@code berth-store-feed}, blocked in the driver's read most of the time.
 */
final class ChangeFeed implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ChangeFeed.class);
  static final String CHANNEL = "berth_revision";
  /** The revision is compared at least this often: a notification lost with a connection is caught up here. */
  static final Duration CATCH_UP = Duration.ofSeconds(1);
  /** Between two attempts to connect. */
  static final Duration RETRY = Duration.ofSeconds(1);

  private final String url;
  private final SqlStore store;
  private final String description;
  private final Thread thread;
  private volatile boolean closed;
  private volatile Connection connection;
  /** The last attempt to connect failed. */
  private volatile boolean unreachable;

  ChangeFeed(String url, SqlStore store, String description) {
    this.url = url;
    this.store = store;
    this.description = description;
    this.thread = Thread.ofPlatform().daemon().name("berth-store-feed").unstarted(this::run);
  }

  void start() {
    thread.start();
  }

  private void run() {
    while (!closed) {
      long began = System.nanoTime();
      try {
        connection = connect();
        unreachable = false;
      } catch (SQLException e) {
        if (closed) break;
        // only a failed connect says the database is down: a broken session alone (a server-side kill, a restart
        // already over) is followed by a connect that works
        unreachable = true;
        store.lost(e);
        LOG.debug("store {}: change feed cannot connect: {}", description, e.toString());
        if (!pause(RETRY)) break;
        continue;
      }
      try {
        listen(connection);
      } catch (SQLException e) {
        if (closed) break;
        LOG.debug("store {}: change feed's connection broke ({}); connecting again", description, e.toString());
      } catch (StoreException e) {
        // the store's own connections failed while catching up: it has marked itself down, and says why
        if (closed) break;
        LOG.debug("store {}: change feed: catching up failed: {}", description, e.getMessage());
      } catch (RuntimeException e) {
        if (closed) break;
        LOG.error("store {}: change feed failed; listening again", description, e);
      } finally {
        Connection c = connection;
        connection = null;
        if (c != null) closeQuietly(c);
      }
      // at once after a connection that served a while; not in a tight loop after one that fails at once
      if (System.nanoTime() - began < RETRY.toNanos() && !pause(RETRY)) break;
    }
  }

  /** Sleeps {@code d}; false when interrupted (closing). */
  private static boolean pause(Duration d) {
    try {
      Thread.sleep(d);
      return true;
    } catch (InterruptedException e) {
      return false;
    }
  }

  private Connection connect() throws SQLException {
    Properties p = new Properties();
    p.setProperty("connectTimeout", "5");
    // a database that stops answering (unplugged, not restarted) fails the revision query after this long
    p.setProperty("socketTimeout", "10");
    p.setProperty("tcpKeepAlive", "true");
    p.setProperty("ApplicationName", "berth change feed");
    return DriverManager.getConnection(url, p);
  }

  /** Listens, catches up, then waits for notifications until the connection fails or the feed closes. */
  private void listen(Connection c) throws SQLException {
    if (closed) return;
    try (Statement st = c.createStatement()) {
      st.execute("LISTEN " + CHANNEL);
    }
    PGConnection pg = c.unwrap(PGConnection.class);
    store.reached();
    store.catchUp(); // whatever was written while nobody listened
    while (!closed) {
      pg.getNotifications((int) CATCH_UP.toMillis()); // returns at the first notification, or after CATCH_UP
      long revision = revision(c);
      store.reached();
      if (revision != store.known()) store.catchUp();
    }
  }

  /** Whether the last attempt to connect failed: the database cannot be reached now (tried again every {@link #RETRY}). */
  boolean unreachable() {
    return unreachable;
  }

  private static long revision(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT value FROM revision WHERE id = 1"); ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) throw new SQLException("the revision row is missing");
      return rs.getLong(1);
    }
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      LOG.debug("closing the change feed's connection", e);
    }
  }

  /** Stops listening: the connection is aborted (so a blocked read returns), the thread ends within a second or two. */
  @Override
  public void close() {
    closed = true;
    Connection c = connection;
    if (c != null) {
      try {
        c.abort(Runnable::run);
      } catch (SQLException e) {
        LOG.debug("aborting the change feed's connection", e);
      }
    }
    thread.interrupt();
    try {
      thread.join(3_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
