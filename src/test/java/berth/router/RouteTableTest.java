package berth.router;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RouteTableTest {
  private final RouteTable routes = new RouteTable(1, Map.of("hello.localhost", "hello", "[::1]", "v6"));

  @ParameterizedTest
  @CsvSource(nullValues = "null", value = {
      "hello.localhost, hello",
      "HELLO.localhost, hello",
      "hello.localhost:8080, hello",
      "hello.localhost., hello",
      "Hello.Localhost.:80, hello",
      "[::1]:8080, v6",
      "other.localhost, null",
      "localhost, null",
      "null, null"})
  void lookup(String host, String app) {
    assertThat(routes.lookup(host)).isEqualTo(app);
  }
}
