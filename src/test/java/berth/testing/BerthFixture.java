package berth.testing;

import berth.Berth;
import berth.apps.AppsFile;
import berth.apps.Catalog;
import berth.config.NodeConfig;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real Berth in the test JVM: real listeners on loopback ports chosen by the kernel, real app processes.
 * The apps file is written from TOML text; {@code @APP@} in it stands for the test app's command and
 * {@code @DIR@} for the work directory.
 */
public final class BerthFixture implements AutoCloseable {
  private static final java.util.concurrent.atomic.AtomicInteger FIXTURES = new java.util.concurrent.atomic.AtomicInteger();
  public final Path dir;
  public final Berth berth;
  /** The node config keys it was started with, as flags (for a reload with some changed). */
  public final ObjectNode flags;

  private BerthFixture(Path dir, Berth berth, ObjectNode flags) {
    this.dir = dir;
    this.berth = berth;
    this.flags = flags;
  }

  /** An app of the test app ({@code @APP@}) answering on {@code NAME.test}, with {@code extra} TOML lines. */
  public static String app(String name, String extra) {
    return """
        [apps.%s]
        domains = ["%s.test"]
        command = "@APP@"
        directory = "app"
        %s
        """.formatted(name, name, extra);
  }

  public static BerthFixture start(Path dir, String appsToml) {
    return start(dir, appsToml, java.util.Map.of());
  }

  /** With extra node config keys, e.g. {@code create_users = true}. */
  public static BerthFixture start(Path dir, String appsToml, java.util.Map<String, Object> node) {
    String command = TestApp.install(dir.resolve("app"));
    try {
      Files.writeString(dir.resolve("apps.toml"), appsToml
          .replace("@APP@", command.replace("\"", "\\\""))
          .replace("@DIR@", dir.toString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ObjectNode flags = JsonNodeFactory.instance.objectNode();
    flags.put("listen", "127.0.0.1:0");
    flags.put("admin", "127.0.0.1:0");
    flags.put("tls_listen", "127.0.0.1:0");
    flags.put("data", dir.resolve("data").toString());
    flags.put("ports", TestPorts.range(0));
    flags.put("drain_timeout", "5s");
    // one cgroup directory per fixture: a Berth stops whatever it finds in its own at start
    flags.put("cgroup", "berth-test-" + ProcessHandle.current().pid() + "-" + FIXTURES.incrementAndGet());
    flags.putArray("apps").add(dir.resolve("apps.toml").toString());
    // strings, booleans, and maps for tables such as [router]
    node.forEach((k, v) -> flags.set(k, new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(v)));
    return new BerthFixture(dir, Berth.start(NodeConfig.load(null, flags)), flags);
  }

  private long version = 1;

  /**
   * Applies apps given as TOML text (same placeholders as {@link #start}) as the store will after a committed
   * write: {@code Berth.apply}, the pool and then the router. Apps it does not name are deleted.
   */
  public synchronized void apply(String appsToml) {
    Path file = dir.resolve("apps-" + (version + 1) + ".toml");
    try {
      Files.writeString(file, appsToml.replace("@APP@", command().replace("\"", "\\\"")).replace("@DIR@", dir.toString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Catalog read = AppsFile.load(java.util.List.of(file));
    berth.apply(new Catalog(++version, read.apps()));
  }

  private String command() {
    return TestApp.install(dir.resolve("app"));
  }

  public int port() {
    return berth.port();
  }

  public int tlsPort() {
    return berth.tlsPort().orElseThrow();
  }

  public String log(String app) {
    try {
      return Files.readString(dir.resolve("data/logs/" + app + ".log"));
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public void close() {
    berth.close();
  }
}
