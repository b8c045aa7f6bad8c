package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.apps.App;
import berth.apps.AppKeys;
import berth.apps.Origin;
import berth.config.ConfigException;
import berth.store.SqlStore;
import berth.store.Store;
import berth.testing.BerthFixture;
import berth.testing.BerthProcess;
import berth.testing.Http;
import berth.testing.TestApp;
import berth.testing.TestPostgres;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Berth with its store: apps written to the store are routed at once and are still there after a restart; apps
 * files are applied into the store at start, and a bad one stops {@code serve} before anything is written. Real
 * Berth (in this JVM and as its own process), real SQLite file, real app processes.
 */
class StoreTest {
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private static final String FILE = """
      [apps.fromfile]
      domains = ["fromfile.test"]
      command = "@APP@"
      directory = "app"
      """;

  /** An app as the API would create it: a JSON body with an absolute directory. */
  private App app(String name, String domain) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("name", name);
    o.putArray("domains").add(domain);
    o.put("command", TestApp.install(dir.resolve("app")));
    o.put("directory", dir.resolve("app").toString());
    return AppKeys.fromJson(o, Origin.REQUEST);
  }

  private Store openStore() {
    return SqlStore.open("jdbc:sqlite:" + dir.resolve("data/berth.db"));
  }

  @Test
  void anAppCreatedInTheStoreIsRoutedAtOnceAndStillThereAfterARestart() throws Exception {
    berth = BerthFixture.start(dir, FILE);
    assertThat(Http.get(berth.port(), "fromstore.test", "/echo").statusCode()).isEqualTo(404);

    berth.berth.store().create(app("fromstore", "fromstore.test"));

    assertThat(Http.get(berth.port(), "fromstore.test", "/echo").statusCode()).isEqualTo(200);
    List<Store.Stored> before = berth.berth.store().list();
    assertThat(before).extracting(s -> s.app().name()).containsExactly("fromfile", "fromstore");
    berth.close();

    // the same data directory, the same file: the file's app is unchanged, the store's app is still there
    berth = BerthFixture.start(dir, FILE);
    assertThat(berth.berth.store().list()).isEqualTo(before);
    assertThat(Http.get(berth.port(), "fromstore.test", "/echo").statusCode()).isEqualTo(200);
    assertThat(Http.get(berth.port(), "fromfile.test", "/echo").statusCode()).isEqualTo(200);

    // deleted from the store: no longer routed
    berth.berth.store().delete("fromstore", -1);
    assertThat(Http.get(berth.port(), "fromstore.test", "/echo").statusCode()).isEqualTo(404);
  }

  @Test
  void onPostgresqlAnAppCreatedInTheStoreIsRoutedAtOnceAndStillThereAfterARestart() throws Exception {
    String database = TestPostgres.newDatabase();
    try {
      berth = BerthFixture.start(dir, FILE, Map.of("database", database));
      berth.berth.store().create(app("fromstore", "fromstore.test"));
      assertThat(Http.get(berth.port(), "fromstore.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(berth.berth.store().describe()).startsWith("postgresql //127.0.0.1");
      berth.close();

      berth = BerthFixture.start(dir, FILE, Map.of("database", database));
      assertThat(berth.berth.store().list()).extracting(s -> s.app().name()).containsExactly("fromfile", "fromstore");
      assertThat(Http.get(berth.port(), "fromstore.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(dir.resolve("data/berth.db")).doesNotExist();
    } finally {
      if (berth != null) berth.close();
      berth = null;
      TestPostgres.drop(database);
    }
  }

  @Test
  void berthAsItsOwnProcessServesTheAppsOfItsStore() throws Exception {
    try (Store store = openStore()) {
      store.create(app("fromstore", "fromstore.test"));
    }
    Path other = dir.resolve("other.toml");
    Files.writeString(other, FILE.replace("@APP@", TestApp.install(dir.resolve("app"))));
    try (BerthProcess p = BerthProcess.start(dir, other, List.of())) {
      assertThat(Http.get(p.port, "fromstore.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(Http.get(p.port, "fromfile.test", "/echo").statusCode()).isEqualTo(200);
      assertThat(p.output()).contains("store: sqlite " + dir.resolve("data/berth.db"));
    }
  }

  @Test
  void aChangedAppsFileUpdatesItsAppsInTheStoreAndLeavesTheOthersAlone() {
    berth = BerthFixture.start(dir, FILE);
    berth.berth.store().create(app("fromstore", "fromstore.test"));
    berth.close();

    berth = BerthFixture.start(dir, FILE + "idle_timeout = \"7m\"\n");
    Store store = berth.berth.store();
    assertThat(store.get("fromfile").orElseThrow().version()).isEqualTo(2);
    assertThat(store.get("fromfile").orElseThrow().app().idleTimeout()).hasMinutes(7);
    assertThat(store.get("fromstore").orElseThrow().version()).isEqualTo(1);
  }

  @Test
  void anInvalidAppsFileStopsStartBeforeAnythingIsWritten() {
    berth = BerthFixture.start(dir, FILE);
    long revision = berth.berth.store().catalog().version();
    berth.close();
    berth = null;

    assertThatThrownBy(() -> BerthFixture.start(dir, FILE + "idle_timeout = \"5 minutes\"\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("apps.fromfile.idle_timeout: \"5 minutes\" is not a duration");
    try (Store store = openStore()) {
      assertThat(store.catalog().version()).isEqualTo(revision);
      assertThat(store.get("fromfile").orElseThrow().version()).isEqualTo(1);
    }
  }

  @Test
  void aFileClaimingADomainOfAnAppOnlyInTheStoreStopsStartNamingTheKey() {
    try (Store store = openStore()) {
      store.create(app("fromstore", "fromfile.test"));
    }
    assertThatThrownBy(() -> BerthFixture.start(dir, FILE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(dir.resolve("apps.toml") + ": apps.fromfile.domains: \"fromfile.test\" is already a domain of app fromstore");
    try (Store store = openStore()) {
      assertThat(store.get("fromfile")).isEmpty();
    }
  }
}
