package berth.store;

import berth.testing.TestPostgres;
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

  @AfterEach
  void dropDatabases() throws Exception {
    closeStores();
    opened.clear();
    for (String url : databases) TestPostgres.drop(url);
  }
}
