package berth.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.apps.App;
import berth.apps.AppKeys;
import berth.apps.Catalog;
import berth.apps.Origin;
import berth.store.Store.Stored;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Store} must do, run against each real database (SQLite, PostgreSQL) by a subclass that says
 * how to make a fresh empty database and how to make it fail.
 */
abstract class StoreContract {
  /** A new empty database for one test, as a JDBC URL. */
  abstract String newDatabase() throws Exception;

  /** Makes the database of {@code url} fail for good while {@code store} has it open. */
  abstract void breakDatabase(String url) throws Exception;

  /** The backend's name, for the timings printed. */
  abstract String backend();

  String url;
  final List<SqlStore> opened = new ArrayList<>();

  @BeforeEach
  void database() throws Exception {
    url = newDatabase();
  }

  @AfterEach
  void closeStores() {
    opened.forEach(SqlStore::close);
  }

  SqlStore open() {
    SqlStore s = SqlStore.open(url);
    opened.add(s);
    return s;
  }

  static App app(String name, String... domains) {
    return withCommand(name, "exec ./serve", domains);
  }

  static App withCommand(String name, String command, String... domains) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("name", name);
    var d = o.putArray("domains");
    for (String s : domains) d.add(s);
    o.put("command", command);
    o.put("directory", "/srv/" + name);
    o.putObject("env").put("APP", name);
    o.put("idle_timeout", "2m");
    return AppKeys.fromJson(o, Origin.STORED);
  }

  @Test
  void createGetListReplaceDelete() {
    Store store = open();
    assertThat(store.list()).isEmpty();
    assertThat(store.catalog().apps()).isEmpty();

    Stored blog = store.create(app("blog", "blog.example.com"));
    store.create(app("api", "api.example.com", "api2.example.com"));

    assertThat(blog.version()).isEqualTo(1);
    assertThat(store.get("blog")).contains(new Stored(app("blog", "blog.example.com"), 1));
    assertThat(store.get("nobody")).isEmpty();
    assertThat(store.list()).extracting(s -> s.app().name()).containsExactly("api", "blog");
    assertThat(store.catalog().app("api").domains()).containsExactly("api.example.com", "api2.example.com");

    Stored replaced = store.replace(withCommand("blog", "exec ./other", "blog.example.com", "www.blog.example.com"), 1);
    assertThat(replaced.version()).isEqualTo(2);
    assertThat(store.get("blog").orElseThrow().app().launch().command()).isEqualTo("exec ./other");
    assertThat(store.catalog().app("blog").domains()).containsExactly("blog.example.com", "www.blog.example.com");

    store.delete("blog", 2);
    assertThat(store.get("blog")).isEmpty();
    assertThat(store.catalog().apps().keySet()).containsExactly("api");
    // its domains are free again
    store.create(app("blog2", "www.blog.example.com"));
  }

  @Test
  void versionsAreCheckedAndTheRevisionGrowsWithEveryWrite() {
    Store store = open();
    long r0 = store.catalog().version();
    store.create(app("blog", "blog.example.com"));
    assertThat(store.catalog().version()).isEqualTo(r0 + 1);
    store.replace(withCommand("blog", "exec ./v2", "blog.example.com"), 1);
    assertThat(store.catalog().version()).isEqualTo(r0 + 2);

    assertThatThrownBy(() -> store.replace(withCommand("blog", "exec ./v3", "blog.example.com"), 1))
        .isInstanceOfSatisfying(StoreException.VersionMismatch.class, e -> assertThat(e.current()).isEqualTo(2))
        .hasMessageContaining("app blog is at version 2, not 1");
    assertThatThrownBy(() -> store.delete("blog", 1)).isInstanceOf(StoreException.VersionMismatch.class);
    assertThatThrownBy(() -> store.replace(app("nobody", "nobody.example.com"), -1)).isInstanceOf(StoreException.NotFound.class);
    assertThatThrownBy(() -> store.delete("nobody", -1)).isInstanceOf(StoreException.NotFound.class);
    assertThatThrownBy(() -> store.create(app("blog", "other.example.com")))
        .isInstanceOfSatisfying(StoreException.Conflict.class, e -> assertThat(e.field()).isEqualTo("name"));
    // refused writes wrote nothing
    assertThat(store.catalog().version()).isEqualTo(r0 + 2);
    assertThat(store.get("blog").orElseThrow().app().launch().command()).isEqualTo("exec ./v2");

    // a negative version means "whatever it is now"
    assertThat(store.replace(withCommand("blog", "exec ./v3", "blog.example.com"), -1).version()).isEqualTo(3);
    // the same app again is no change: same version, same revision
    assertThat(store.replace(withCommand("blog", "exec ./v3", "blog.example.com"), 3).version()).isEqualTo(3);
    assertThat(store.catalog().version()).isEqualTo(r0 + 3);
    store.delete("blog", -1);
    assertThat(store.catalog().version()).isEqualTo(r0 + 4);
  }

  @Test
  void aDomainBelongsToOneApp() {
    Store store = open();
    store.create(app("one", "shared.example.com"));
    assertThatThrownBy(() -> store.create(app("two", "two.example.com", "shared.example.com")))
        .isInstanceOfSatisfying(StoreException.Conflict.class, e -> assertThat(e.field()).isEqualTo("domains"))
        .hasMessage("\"shared.example.com\" is already a domain of app one");
    assertThat(store.get("two")).isEmpty();

    store.create(app("two", "two.example.com"));
    assertThatThrownBy(() -> store.replace(app("two", "two.example.com", "shared.example.com"), 1))
        .isInstanceOf(StoreException.Conflict.class);
    assertThat(store.catalog().app("two").domains()).containsExactly("two.example.com");
  }

  @Test
  void applyWritesAllOrNothingInOneRevision() {
    Store store = open();
    Stored a = store.create(app("a", "one.example.com"));
    Stored b = store.create(app("b", "two.example.com"));
    store.create(app("gone", "gone.example.com"));
    long r = store.catalog().version();

    // a domain moves from a to c, b takes gone's domain, gone is deleted: one transaction, one revision
    List<Stored> result = store.apply(List.of(
        new Store.Write.Replace(app("a", "a.example.com"), a.version()),
        new Store.Write.Create(app("c", "one.example.com")),
        new Store.Write.Replace(app("b", "two.example.com", "gone.example.com"), b.version()),
        new Store.Write.Delete("gone", 1)));

    assertThat(result).extracting(s -> s.app().name() + "@" + s.version()).containsExactly("a@2", "c@1", "b@2");
    Catalog c = store.catalog();
    assertThat(c.version()).isEqualTo(r + 1);
    assertThat(c.app("c").domains()).containsExactly("one.example.com");
    assertThat(c.app("b").domains()).containsExactly("two.example.com", "gone.example.com");
    assertThat(c.app("gone")).isNull();

    // one stale version: nothing of the call is written
    assertThatThrownBy(() -> store.apply(List.of(
        new Store.Write.Create(app("d", "four.example.com")),
        new Store.Write.Replace(app("a", "five.example.com"), 1))))
        .isInstanceOf(StoreException.VersionMismatch.class);
    assertThat(store.get("d")).isEmpty();
    assertThat(store.catalog().version()).isEqualTo(r + 1);

    // two apps of one call claiming one domain: refused whole
    assertThatThrownBy(() -> store.apply(List.of(
        new Store.Write.Create(app("e", "six.example.com")),
        new Store.Write.Create(app("f", "six.example.com")))))
        .isInstanceOfSatisfying(StoreException.Conflict.class, e -> assertThat(e.field()).isEqualTo("apps.f.domains"));
    assertThat(store.get("e")).isEmpty();
  }

  @Test
  void upsertAllMovesADomainBetweenAppsInOneTransactionAndLeavesOthersAlone() {
    Store store = open();
    store.create(app("a", "one.example.com"));
    store.create(app("b", "two.example.com"));
    store.create(app("other", "other.example.com"));
    long r = store.catalog().version();

    List<Stored> result = store.upsertAll(List.of(app("a", "two.example.com"), app("b", "one.example.com"), app("c", "three.example.com")));

    assertThat(result).extracting(Stored::version).containsExactly(2L, 2L, 1L);
    Catalog c = store.catalog();
    assertThat(c.version()).isEqualTo(r + 1);
    assertThat(c.app("a").domains()).containsExactly("two.example.com");
    assertThat(c.app("b").domains()).containsExactly("one.example.com");
    assertThat(c.app("c").domains()).containsExactly("three.example.com");
    assertThat(c.app("other")).isNotNull();

    // applying the same apps again changes nothing: same versions, same revision
    List<Stored> again = store.upsertAll(List.of(app("a", "two.example.com"), app("b", "one.example.com"), app("c", "three.example.com")));
    assertThat(again).extracting(Stored::version).containsExactly(2L, 2L, 1L);
    assertThat(store.catalog().version()).isEqualTo(r + 1);

    // a domain of an app the call does not name: refused, and nothing of the call is written
    assertThatThrownBy(() -> store.upsertAll(List.of(app("d", "four.example.com"), withCommand("a", "exec ./x", "other.example.com"))))
        .isInstanceOfSatisfying(StoreException.Conflict.class, e -> assertThat(e.field()).isEqualTo("apps.a.domains"))
        .hasMessage("\"other.example.com\" is already a domain of app other");
    assertThat(store.get("d")).isEmpty();
    assertThat(store.catalog().app("a").domains()).containsExactly("two.example.com");
    assertThat(store.catalog().version()).isEqualTo(r + 1);
  }

  @Test
  void listenersGetEachCommittedCatalogInOrder() {
    Store store = open();
    List<Catalog> seen = new CopyOnWriteArrayList<>();
    store.onChange(seen::add);
    store.create(app("a", "a.example.com"));
    store.replace(withCommand("a", "exec ./b", "a.example.com"), 1);
    assertThatThrownBy(() -> store.create(app("a", "x.example.com"))).isInstanceOf(StoreException.Conflict.class);
    store.upsertAll(List.of(withCommand("a", "exec ./b", "a.example.com"))); // no change
    store.delete("a", 2);

    assertThat(seen).hasSize(3);
    assertThat(seen).extracting(Catalog::version).isSorted().doesNotHaveDuplicates();
    assertThat(seen.get(0).app("a").launch().command()).isEqualTo("exec ./serve");
    assertThat(seen.get(1).app("a").launch().command()).isEqualTo("exec ./b");
    assertThat(seen.get(2).apps()).isEmpty();
    assertThat(seen.get(2)).isEqualTo(store.catalog());
  }

  @Test
  void ofTwoConcurrentWritersExactlyOneWinsAndTheOtherIsToldTheVersionMoved() throws Exception {
    // two stores on one database: two writers that share nothing but the database
    Store first = open();
    Store second = open();
    first.create(app("blog", "blog.example.com"));
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 20; round++) {
        long version = first.get("blog").orElseThrow().version();
        CountDownLatch go = new CountDownLatch(1);
        Future<Object> a = threads.submit(() -> attempt(go, first, withCommand("blog", "exec ./first", "blog.example.com"), version));
        Future<Object> b = threads.submit(() -> attempt(go, second, withCommand("blog", "exec ./second", "blog.example.com"), version));
        go.countDown();
        List<Object> outcomes = List.of(a.get(), b.get());
        assertThat(outcomes).as("round %d", round).filteredOn(o -> o instanceof Stored).hasSize(1);
        assertThat(outcomes).as("round %d", round).filteredOn(o -> o instanceof StoreException.VersionMismatch).hasSize(1);
        Stored winner = (Stored) outcomes.stream().filter(o -> o instanceof Stored).findFirst().orElseThrow();
        assertThat(winner.version()).isEqualTo(version + 1);
        assertThat(second.get("blog").orElseThrow()).isEqualTo(winner);
        // the next round writes on top of the winner, changing the command back so every round is a change
        first.replace(withCommand("blog", "exec ./serve", "blog.example.com"), winner.version());
      }
    } finally {
      threads.shutdownNow();
    }
  }

  private static Object attempt(CountDownLatch go, Store store, App app, long version) throws InterruptedException {
    go.await();
    try {
      return store.replace(app, version);
    } catch (StoreException e) {
      return e;
    }
  }

  @Test
  void aStoreSeesWhatAnotherStoreOnTheSameDatabaseWroteAndTellsItsListenersInOrder() {
    // two stores on one database, as two nodes: the second catches up by revision, reading only what changed
    Store first = open();
    Store second = open();
    List<Catalog> seen = new CopyOnWriteArrayList<>();
    second.onChange(seen::add);
    first.create(app("blog", "blog.example.com"));
    first.create(app("api", "api.example.com"));
    assertThat(second.catalog().apps().keySet()).containsExactlyInAnyOrder("blog", "api");
    first.replace(withCommand("blog", "exec ./v2", "blog.example.com"), 1);
    first.delete("api", 1);
    assertThat(second.catalog()).isEqualTo(first.catalog());
    assertThat(second.get("blog").orElseThrow().version()).isEqualTo(2);
    // deleted and created again: version 1 again, and still seen as a change
    first.delete("blog", 2);
    first.create(withCommand("blog", "exec ./v3", "blog.example.com"));
    assertThat(second.catalog()).isEqualTo(first.catalog());
    assertThat(second.catalog().app("blog").launch().command()).isEqualTo("exec ./v3");
    // a write of the second store on top of what it caught up with
    second.create(app("shop", "shop.example.com"));
    assertThat(first.catalog()).isEqualTo(second.catalog());
    assertThat(seen).isNotEmpty();
    assertThat(seen).extracting(Catalog::version).isSorted().doesNotHaveDuplicates();
    assertThat(seen.getLast()).isEqualTo(second.catalog());
  }

  @Test
  void nodesRegisterHeartbeatAndLeaveAndShareOneSecret() throws Exception {
    Store first = open();
    Store second = open();
    Nodes nodes = first.nodes();
    String secret = nodes.secret();
    assertThat(secret).hasSizeGreaterThanOrEqualTo(32);
    assertThat(second.nodes().secret()).as("the first node's secret stays").isEqualTo(secret);

    nodes.register("web1", "10.0.0.1:8080", 100, "i1");
    second.nodes().register("web2", "10.0.0.2:8080", 200, "i2");
    Thread.sleep(50);
    assertThat(nodes.heartbeat("web1", "i1", List.of("blog", "shop"))).isTrue();
    List<Nodes.Row> rows = second.nodes().all();
    assertThat(rows).extracting(Nodes.Row::name).containsExactly("web1", "web2");
    Nodes.Row web1 = rows.get(0);
    assertThat(web1.address()).isEqualTo("10.0.0.1:8080");
    assertThat(web1.running()).containsExactly("blog", "shop");
    assertThat(web1.heartbeatAge()).isLessThan(rows.get(1).heartbeatAge()).isLessThan(java.time.Duration.ofSeconds(5));
    assertThat(rows.get(1).capacity()).isEqualTo(200);
    assertThat(rows.get(1).running()).isEmpty();

    // another run of web1 takes the row: the old one's heartbeats are refused from then on
    second.nodes().register("web1", "10.0.0.9:8080", 100, "i3");
    assertThat(nodes.heartbeat("web1", "i1", List.of())).isFalse();
    assertThat(nodes.find("web1").orElseThrow().incarnation()).isEqualTo("i3");
    // a leave by a run that no longer has the row removes nothing
    nodes.leave("web1", "i1");
    assertThat(nodes.find("web1")).isPresent();
    nodes.leave("web1", "i3");
    assertThat(nodes.find("web1")).isEmpty();

    Thread.sleep(120);
    assertThat(nodes.forget(java.time.Duration.ofMillis(100))).isEqualTo(1);
    assertThat(nodes.all()).isEmpty();
  }

  @Test
  void aStoreWhoseDatabaseIsGoneSaysUnavailableWithTheCause() throws Exception {
    Store store = open();
    store.create(app("blog", "blog.example.com"));
    breakDatabase(url);
    assertThatThrownBy(() -> store.create(app("api", "api.example.com")))
        .isInstanceOf(StoreException.Unavailable.class)
        .hasMessageContaining("the database (" + store.describe() + ") failed")
        .hasCauseInstanceOf(java.sql.SQLException.class);
    assertThatThrownBy(store::catalog).isInstanceOf(StoreException.Unavailable.class);
  }

  @Test
  void reopeningKeepsEveryAppVersionAndTheRevision() {
    Store store = open();
    store.create(app("blog", "blog.example.com"));
    store.create(app("api", "api.example.com"));
    store.replace(withCommand("blog", "exec ./v2", "blog.example.com", "www.blog.example.com"), 1);
    List<Stored> before = store.list();
    Catalog catalog = store.catalog();
    store.close();

    Store again = open();
    assertThat(again.list()).isEqualTo(before);
    assertThat(again.catalog()).isEqualTo(catalog);
    // the domains table came back too: a taken domain is still taken
    assertThatThrownBy(() -> again.create(app("x", "www.blog.example.com"))).isInstanceOf(StoreException.Conflict.class);
  }

  @Test
  void aThousandAppsCreatedOneByOneAreAllThereAfterReopening() {
    Store store = open();
    int n = 1000;
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) store.create(app("app" + i, "app" + i + ".example.com"));
    long created = System.nanoTime() - t0;

    t0 = System.nanoTime();
    Catalog catalog = null;
    for (int i = 0; i < 100; i++) catalog = store.catalog();
    long catalogs = (System.nanoTime() - t0) / 100;
    assertThat(catalog.apps()).hasSize(n);

    t0 = System.nanoTime();
    store.replace(withCommand("app500", "exec ./v2", "app500.example.com"), 1);
    Catalog afterWrite = store.catalog();
    long writeAndCatalog = System.nanoTime() - t0;
    assertThat(afterWrite.app("app500").launch().command()).isEqualTo("exec ./v2");

    List<App> all = new ArrayList<>();
    for (int i = 0; i < n; i++) all.add(withCommand("app" + i, "exec ./v3", "app" + i + ".example.com"));
    t0 = System.nanoTime();
    store.upsertAll(all);
    long upserted = System.nanoTime() - t0;
    store.close();

    t0 = System.nanoTime();
    Store again = open();
    Catalog reopened = again.catalog();
    long reopen = System.nanoTime() - t0;
    assertThat(reopened.apps()).hasSize(n);
    for (int i = 0; i < n; i++) {
      assertThat(reopened.app("app" + i)).as("app%d", i).isEqualTo(all.get(i));
      assertThat(again.get("app" + i).orElseThrow().version()).isEqualTo(i == 500 ? 3 : 2);
    }
    System.out.printf("store timings (%s, %d apps): create one by one %d ms (%.2f ms each); catalog() %.3f ms; replace + catalog() %.2f ms; "
            + "upsertAll of all %d ms; open + catalog() %d ms%n",
        backend(), n, created / 1_000_000, created / 1e6 / n, catalogs / 1e6, writeAndCatalog / 1e6, upserted / 1_000_000, reopen / 1_000_000);
  }

  @Test
  void usageIsAddedPerAppAndHourAndKeptWithoutTouchingAppsOrTheRevision() {
    Store store = open();
    store.create(app("blog", "blog.example.com"));
    long revision = store.catalog().version();
    java.util.concurrent.atomic.AtomicInteger changes = new java.util.concurrent.atomic.AtomicInteger();
    store.onChange(c -> changes.incrementAndGet());
    java.time.Instant h0 = java.time.Instant.parse("2026-05-01T10:00:00Z");
    java.time.Instant h1 = h0.plusSeconds(3600);
    store.addUsage(List.of(new Store.Usage("blog", h0, 1.5, 1e9), new Store.Usage("api", h0, 0.25, 2e9)));
    store.addUsage(List.of(new Store.Usage("blog", h0, 0.5, 3e9), new Store.Usage("blog", h1, 2.0, 4e12)));
    store.addUsage(List.of());
    assertThat(store.usage(h0, h1.plusSeconds(3600), null)).containsExactly(
        new Store.Usage("api", h0, 0.25, 2e9), new Store.Usage("blog", h0, 2.0, 4e9), new Store.Usage("blog", h1, 2.0, 4e12));
    assertThat(store.usage(h1, h1.plusSeconds(3600), "blog")).containsExactly(new Store.Usage("blog", h1, 2.0, 4e12));
    assertThat(store.usage(h0, h1, "nobody")).isEmpty();
    assertThat(store.catalog().version()).as("metering is not an app write").isEqualTo(revision);
    assertThat(changes).hasValue(0);
    // kept after the app is deleted (its use is still billed) and across reopening
    store.delete("blog", -1);
    store.close();
    assertThat(open().usage(h0, h1.plusSeconds(3600), "blog")).hasSize(2);
  }
}
