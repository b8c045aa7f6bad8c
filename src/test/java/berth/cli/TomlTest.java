package berth.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code berth export} writes reads back, through a TOML parser, as the very values it came from. */
class TomlTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void anAppTableReadsBackEqualLeavingOutNullsAndDefaults() throws Exception {
    ObjectNode app = JSON.createObjectNode().put("name", "blog");
    app.putArray("domains").add("blog.test").add("www.blog.test");
    app.put("command", "exec ./run --say \"hi\"\t$PORT \\ done\nnext \u0001 é");
    app.putObject("env").put("A", "1").put("QUOTE", "a \"b\" \\c");
    app.put("idle_timeout", "5m");
    app.put("max_queue", 7);
    app.putNull("user");
    String toml = Toml.app(app, Map.of("idle_timeout", JSON.getNodeFactory().textNode("5m")));
    assertThat(toml).startsWith("[apps.blog]\n").doesNotContain("idle_timeout").doesNotContain("user");
    JsonNode back = new TomlMapper().readTree(toml).path("apps").path("blog");
    ObjectNode expected = app.deepCopy();
    expected.remove(java.util.List.of("name", "idle_timeout", "user"));
    assertThat(back).isEqualTo(expected);
  }
}
