package berth.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {
  @ParameterizedTest
  @CsvSource({"500ms, 500", "30s, 30000", "5m, 300000", "1h, 3600000", "2d, 172800000", "1h30m, 5400000", "1m30s500ms, 90500", "' 10s ', 10000"})
  void parse_validText(String text, long millis) {
    assertThat(Durations.parse(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @ValueSource(strings = {"5 minutes", "5", "", "m", "-5s", "1.5s", "5M", "10 s", "1y"})
  void parse_invalidTextNamesTheValueAndAnExample(String text) {
    assertThatThrownBy(() -> Durations.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("\"" + text + "\" is not a duration (expected e.g. 30s, 5m)");
  }

  @ParameterizedTest
  @CsvSource({"0, 0s", "90000, 1m30s", "300000, 5m", "1500, 1s500ms", "86400000, 1d"})
  void format_roundTrips(long millis, String text) {
    assertThat(Durations.format(Duration.ofMillis(millis))).isEqualTo(text);
    assertThat(Durations.parse(text)).isEqualTo(Duration.ofMillis(millis));
  }
}
