package berth.store;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.sql.Connection;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * The store contract on a real PostgreSQL, reached through {@code BERTH_TEST_PG_URL} (a role that may create
 * databases; {@code .ci/postgres start} makes one). Each test gets a database of its own. Without the variable the
 * tests are skipped, and the reason says how to run them.
 */
class PostgresStoreTest extends StoreContract {
  private static final String SERVER = System.getenv("BERTH_TEST_PG_URL");
  private final List<String> databases = new ArrayList<>();

  @Override
  String newDatabase() throws Exception {
    assumeTrue(SERVER != null && !SERVER.isBlank(),
        "PostgreSQL store tests SKIPPED: BERTH_TEST_PG_URL is not set (eval \"$(.ci/postgres start /tmp/berth-pg)\" starts a PostgreSQL and sets it)");
    String name = "berth_test_" + ProcessHandle.current().pid() + "_" + System.nanoTime();
    try (Connection c = DriverManager.getConnection(SERVER); var st = c.createStatement()) {
      st.execute("CREATE DATABASE " + name);
    }
    databases.add(name);
    return withDatabase(name);
  }

  @Override
  void breakDatabase(String url) throws Exception {
    // the database disappears under the store: its connections are cut and new ones are refused
    drop(url.substring(url.lastIndexOf('/') + 1, url.indexOf('?')));
  }

  @Override
  String backend() {
    return "PostgreSQL";
  }

  @AfterEach
  void dropDatabases() throws Exception {
    closeStores();
    opened.clear();
    for (String name : databases) drop(name);
  }

  private static void drop(String name) throws Exception {
    try (Connection c = DriverManager.getConnection(SERVER); var st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }

  /** The server's URL with another database name in its path. */
  private static String withDatabase(String name) {
    int slash = SERVER.indexOf('/', "jdbc:postgresql://".length());
    int query = SERVER.indexOf('?');
    return SERVER.substring(0, slash + 1) + name + (query < 0 ? "" : SERVER.substring(query));
  }
}
