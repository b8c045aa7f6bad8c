package berth.router;

import static org.assertj.core.api.Assertions.assertThat;

import berth.apps.AppsFile;
import berth.apps.Catalog;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RouteTableTest {
  private final RouteTable routes = table(Map.of(
      "hello", List.of("hello.localhost", "127.0.0.1"),
      "site", List.of("example.com", "*.example.com"),
      "blog", List.of("example.com/blog"),
      "docs", List.of("example.com/blog/docs", "*.example.com/docs"),
      "shop", List.of("shop.example.com"),
      "fallback", List.of("*")));

  @ParameterizedTest
  @CsvSource(nullValues = "null", value = {
      "hello.localhost, /, hello, ''",
      "HELLO.localhost, /, hello, ''",
      "hello.localhost:8080, /x, hello, ''",
      "Hello.Localhost.:80, /, hello, ''",
      "127.0.0.1:8080, /, hello, ''",
      "example.com, /, site, ''",
      "example.com, /blog, blog, /blog",
      "example.com, /blog/, blog, /blog",
      "example.com, /blog?x=1, blog, /blog",
      "example.com, /blog/2024/post, blog, /blog",
      "example.com, /blogs, site, ''",
      "example.com, /blog/docs/a, docs, /blog/docs",
      "www.example.com, /, site, ''",
      "a.b.example.com, /, site, ''",
      "a.b.example.com, /docs/x, docs, /docs",
      "shop.example.com, /docs, shop, ''",
      "other.test, /anything, fallback, ''",
      "null, /, fallback, ''"})
  void route(String host, String path, String app, String prefix) {
    RouteTable.Route r = routes.route(host, path);
    assertThat(r.app()).isEqualTo(app);
    assertThat(r.prefix()).isEqualTo(prefix);
  }

  @Test
  void noDefaultMeansNoRoute() {
    RouteTable t = table(Map.of("site", List.of("example.com/blog")));
    assertThat(t.route("example.com", "/")).isNull();
    assertThat(t.route("example.com", "/blog/x").app()).isEqualTo("site");
    assertThat(t.route("www.example.com", "/blog")).isNull();
  }

  @Test
  void aHundredThousandRoutes() {
    Map<String, List<String>> many = new LinkedHashMap<>();
    for (int i = 0; i < 34_000; i++) many.put("app" + i, List.of("host" + i + ".example.com", "*.w" + i + ".example.com", "p.example.com/x" + i));
    RouteTable t = table(many);
    assertThat(t.route("host33999.example.com", "/").app()).isEqualTo("app33999");
    assertThat(t.route("a.w5.example.com", "/").app()).isEqualTo("app5");
    assertThat(t.route("p.example.com", "/x17777/y").app()).isEqualTo("app17777");
  }

  /** Apps as an apps file would give them (the same checks of every domain). */
  private static RouteTable table(Map<String, List<String>> domains) {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    ObjectNode apps = root.putObject("apps");
    domains.forEach((name, ds) -> {
      ObjectNode app = apps.putObject(name);
      app.put("command", "true");
      ds.forEach(app.putArray("domains")::add);
    });
    return RouteTable.of(new Catalog(1, AppsFile.parse(root, Path.of("/"))));
  }
}
