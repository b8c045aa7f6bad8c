package berth.store;

import static org.assertj.core.api.Assertions.assertThat;

import berth.apps.Catalog;
import berth.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * The store contract on a real PostgreSQL ({@link TestPostgres}: {@code BERTH_TEST_PG_URL}); each test gets a
 * database of its own. Without the variable the tests are skipped, and the reason says how to run them.
 */
class PostgresStoreTest extends StoreContract {
  private final List<String> databases = new ArrayList<>();

  @Override
  String newDatabase() throws Exception {
    String url = TestPostgres.newDatabase();
    databases.add(url);
    return url;
  }

  @Override
  void breakDatabase(String url) throws Exception {
    // the database disappears under the store: its connections are cut and new ones are refused
    TestPostgres.drop(url);
  }

  @Override
  String backend() {
    return "PostgreSQL";
  }

  @Test
  void aWriteOnOneNodeReachesTheListenersOfAnotherWithinASecond() throws Exception {
    SqlStore first = open();
    SqlStore second = open();
    BlockingQueue<Catalog> seen = new LinkedBlockingQueue<>();
    second.onChange(seen::add);
    List<Long> millis = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      long t0 = System.nanoTime();
      first.create(app("app" + i, "app" + i + ".example.com"));
      Catalog c = seen.poll(2, TimeUnit.SECONDS);
      assertThat(c).as("the catalog with app%d, pushed to the second store", i).isNotNull();
      assertThat(c.app("app" + i)).isNotNull();
      millis.add((System.nanoTime() - t0) / 1_000_000);
    }
    millis.sort(null);
    System.out.printf("change feed (PostgreSQL): write on one store to the listener of another: median %d ms, max %d ms%n",
        millis.get(millis.size() / 2), millis.getLast());
    // NOTIFY, not the once-a-second catch-up: well under it
    assertThat(millis.get(millis.size() / 2)).isLessThan(200);
    assertThat(millis.getLast()).isLessThan(1000);
  }

  @Test
  void aStoreWhoseFeedWasCutCatchesUpWhatItMissedAndSaysTheDatabaseIsUpAgain() throws Exception {
    SqlStore first = open();
    SqlStore second = open();
    BlockingQueue<Catalog> seen = new LinkedBlockingQueue<>();
    second.onChange(seen::add);
    first.create(app("before", "before.example.com"));
    assertThat(seen.poll(2, TimeUnit.SECONDS)).isNotNull();
    // the feed's connection is cut by the server (as a restart would), and a write lands while nobody listens
    try (Connection c = DriverManager.getConnection(url); var st = c.createStatement()) {
      st.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'berth change feed' AND datname = current_database()");
    }
    first.create(app("missed", "missed.example.com"));
    Catalog c;
    do {
      c = seen.poll(5, TimeUnit.SECONDS);
      assertThat(c).as("the write made while the feed was cut reaches the second store").isNotNull();
    } while (c.app("missed") == null);
    assertThat(second.health().up()).isTrue();
  }

  @AfterEach
  void dropDatabases() throws Exception {
    closeStores();
    opened.clear();
    for (String url : databases) TestPostgres.drop(url);
  }
}
