package berth.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on the embedded database: a SQLite file, as Berth uses by default. */
class SqliteStoreTest extends StoreContract {
  @TempDir Path dir;

  @Override
  String newDatabase() {
    return "jdbc:sqlite:" + dir.resolve("data/berth.db");
  }

  @Override
  void breakDatabase(String url) throws Exception {
    // what a failing disk leaves: every page of the database, its log and its index replaced by garbage, in place
    // (the store's open connections keep the same files)
    Random random = new Random(1);
    for (String suffix : List.of("", "-wal", "-shm")) {
      Path f = dir.resolve("data/berth.db" + suffix);
      byte[] junk = new byte[(int) Math.max(Files.size(f), 65536)];
      random.nextBytes(junk);
      Files.write(f, junk);
    }
  }

  @Override
  String backend() {
    return "SQLite";
  }

  @Test
  void theFileIsInWalModeWithABusyTimeoutAndForeignKeys() throws Exception {
    open().create(app("blog", "blog.example.com"));
    try (Connection c = DriverManager.getConnection(url); var st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("PRAGMA journal_mode")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("wal"); // stored in the file: every later connection uses it
      }
    }
    SqlStore store = open();
    assertThat(store.describe()).isEqualTo("sqlite " + dir.resolve("data/berth.db"));
    assertThat(store.pragma("busy_timeout")).isEqualTo("10000");
    assertThat(store.pragma("foreign_keys")).isEqualTo("1");
    assertThat(store.pragma("synchronous")).isEqualTo("2"); // FULL
  }
}
