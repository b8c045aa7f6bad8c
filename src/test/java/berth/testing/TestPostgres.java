package berth.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

/**
 * The PostgreSQL server the tests may use, from {@code BERTH_TEST_PG_URL} (a role that may create databases;
 * {@code .ci/postgres start DIR} starts one and prints it). Each test makes databases of its own and drops them.
 * Without the variable, {@link #newDatabase} skips the test with the reason.
 */
public final class TestPostgres {
  private static final String SERVER = System.getenv("BERTH_TEST_PG_URL");

  private TestPostgres() {}

  /** A new empty database's JDBC URL; skips the calling test when no server is configured. */
  public static String newDatabase() throws SQLException {
    assumeTrue(SERVER != null && !SERVER.isBlank(),
        "PostgreSQL tests SKIPPED: BERTH_TEST_PG_URL is not set (eval \"$(.ci/postgres start /tmp/berth-pg)\" starts a PostgreSQL and sets it)");
    String name = "berth_test_" + ProcessHandle.current().pid() + "_" + System.nanoTime();
    try (Connection c = DriverManager.getConnection(SERVER); var st = c.createStatement()) {
      st.execute("CREATE DATABASE " + name);
    }
    int slash = SERVER.indexOf('/', "jdbc:postgresql://".length());
    int query = SERVER.indexOf('?');
    return SERVER.substring(0, slash + 1) + name + (query < 0 ? "" : SERVER.substring(query));
  }

  /** Drops the database of {@code url}, cutting whatever is connected to it. */
  public static void drop(String url) throws SQLException {
    int query = url.indexOf('?');
    String name = url.substring(url.lastIndexOf('/', query < 0 ? url.length() : query) + 1, query < 0 ? url.length() : query);
    try (Connection c = DriverManager.getConnection(SERVER); var st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }
}
