package berth.e2e;

import static berth.testing.BerthFixture.app;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import berth.Berth;
import berth.config.ConfigException;
import berth.config.NodeConfig;
import berth.testing.BerthFixture;
import berth.testing.Http;
import berth.testing.TestApp;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reload ({@code systemctl reload berth}, SIGHUP) reads the apps files again and applies them live, says which
 * other node keys changed but wait for a restart, and changes nothing when a file is bad. Real Berth, real apps;
 * the signal itself is sent in {@code DistributionIT}, to the installed package.
 */
class ReloadTest {
  @TempDir Path dir;
  BerthFixture berth;

  @AfterEach
  void stop() {
    if (berth != null) berth.close();
  }

  private void rewrite(String toml) throws Exception {
    Files.writeString(dir.resolve("apps.toml"), toml.replace("@APP@", TestApp.install(dir.resolve("app")).replace("\"", "\\\"")));
  }

  @Test
  void aNewAppInTheAppsFileIsRoutedAfterAReloadAndOtherChangedKeysAreNamed() throws Exception {
    berth = BerthFixture.start(dir, app("one", ""));
    assertThat(Http.get(berth.port(), "two.test", "/").statusCode()).isEqualTo(404);

    rewrite(app("one", "") + app("two", ""));
    ObjectNode changed = berth.flags.deepCopy();
    changed.put("drain_timeout", "7s");
    changed.putObject("router").put("max_connections", 100);
    Berth.Reload r = berth.berth.reload(NodeConfig.load(null, changed));

    assertThat(r.apps()).isEqualTo(2);
    assertThat(r.needRestart()).containsExactly("drain_timeout", "router");
    assertThat(Http.get(berth.port(), "two.test", "/").statusCode()).isEqualTo(200);
    assertThat(Http.get(berth.port(), "one.test", "/").statusCode()).isEqualTo(200);
  }

  @Test
  void aBadAppsFileChangesNothing() throws Exception {
    berth = BerthFixture.start(dir, app("one", ""));
    long before = berth.berth.store().catalog().version();
    rewrite(app("one", "") + app("two", "") + "idle_timeout = \"5 minutes\"\n");
    assertThatThrownBy(() -> berth.berth.reload(NodeConfig.load(null, berth.flags)))
        .isInstanceOf(ConfigException.class).hasMessageContaining("apps.two.idle_timeout: \"5 minutes\" is not a duration");
    assertThat(berth.berth.store().catalog().version()).isEqualTo(before);
    assertThat(Http.get(berth.port(), "two.test", "/").statusCode()).isEqualTo(404);
    assertThat(Http.get(berth.port(), "one.test", "/").statusCode()).isEqualTo(200);
  }
}
