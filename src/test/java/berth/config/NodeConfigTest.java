package berth.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NodeConfigTest {
  @TempDir Path dir;

  private static ObjectNode flags() {
    return JsonNodeFactory.instance.objectNode();
  }

  @Test
  void defaultsAreTheDocumentedOnes() {
    NodeConfig c = NodeConfig.load(null, flags());
    assertThat(c.listen()).isEqualTo(new HostPort("0.0.0.0", 8080));
    assertThat(c.admin()).isEqualTo(new HostPort("127.0.0.1", 8081));
    assertThat(c.dataDir()).isEqualTo(Path.of("var"));
    assertThat(c.ports()).isEqualTo(new PortRange(20000, 29999));
    assertThat(c.drainTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.tlsListen()).contains(new HostPort("0.0.0.0", 8443));
  }

  @Test
  void tlsListenTakesAnAddressOrOff() {
    assertThat(NodeConfig.load(null, flags().put("tls_listen", "127.0.0.1:9443")).tlsListen()).contains(new HostPort("127.0.0.1", 9443));
    assertThat(NodeConfig.load(null, flags().put("tls_listen", "off")).tlsListen()).isEmpty();
    assertThatThrownBy(() -> NodeConfig.load(null, flags().put("tls_listen", "8443")))
        .hasMessageContaining("tls_listen: \"8443\" is not an address (expected e.g. :8443, 127.0.0.1:8443 or off)");
  }

  @Test
  void flagsWinOverTheFileAndAppsFilesAddUp() throws Exception {
    Path file = dir.resolve("node.toml");
    Files.writeString(file, """
        listen = ":9000"
        admin = "127.0.0.1:9001"
        apps = ["apps.toml"]
        ports = "30000-30099"
        """);
    ObjectNode flags = flags().put("listen", "127.0.0.1:9100");
    flags.putArray("apps").add("more.toml");
    NodeConfig c = NodeConfig.load(file, flags);
    assertThat(c.listen()).isEqualTo(new HostPort("127.0.0.1", 9100));
    assertThat(c.admin()).isEqualTo(new HostPort("127.0.0.1", 9001));
    assertThat(c.ports()).isEqualTo(new PortRange(30000, 30099));
    assertThat(c.appFiles()).containsExactly(dir.resolve("apps.toml"), Path.of("more.toml"));
  }

  @Test
  void everyProblemOfTheFileIsReportedWithItsKey() throws Exception {
    Path file = dir.resolve("node.toml");
    Files.writeString(file, """
        listen = "8080"
        ports = "9-1"
        lisen = ":80"
        """);
    assertThatThrownBy(() -> NodeConfig.load(file, flags()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(file + ": listen: \"8080\" is not an address (expected e.g. :8080 or 127.0.0.1:8080)")
        .hasMessageContaining("ports: 9-1 is not a port range")
        .hasMessageContaining("lisen: is not a known key");
  }

  @Test
  void theDatabaseIsSqliteInTheDataDirectoryUnlessAPostgresqlUrlIsGiven() {
    assertThat(NodeConfig.load(null, flags().put("data", "/srv/berth")).databaseUrl()).isEqualTo("jdbc:sqlite:/srv/berth/berth.db");
    String pg = "jdbc:postgresql://db.example.com:5432/berth?user=berth";
    assertThat(NodeConfig.load(null, flags().put("database", pg)).databaseUrl()).isEqualTo(pg);
    assertThat(NodeConfig.load(null, flags().put("database", "jdbc:sqlite:/tmp/x.db")).databaseUrl()).isEqualTo("jdbc:sqlite:/tmp/x.db");
  }

  @Test
  void aDatabaseBerthHasNoMigrationsForIsAnErrorNamingTheKey() throws Exception {
    Path file = dir.resolve("node.toml");
    Files.writeString(file, "database = \"jdbc:mysql://db/berth\"\n");
    assertThatThrownBy(() -> NodeConfig.load(file, flags()))
        .hasMessage(file + ": database: \"jdbc:mysql://db/berth\" is not a database Berth can use (expected jdbc:postgresql://HOST/DB or jdbc:sqlite:FILE)");
  }

  @ParameterizedTest
  @CsvSource({"':8080', 0.0.0.0, 8080", "'127.0.0.1:8081', 127.0.0.1, 8081", "'[::1]:80', ::1, 80", "'localhost:0', localhost, 0"})
  void hostPort_parse(String text, String host, int port) {
    assertThat(HostPort.parse(text)).isEqualTo(new HostPort(host, port));
  }
}
