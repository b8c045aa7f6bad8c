package berth.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The sparklines of {@code berth status}: squeezed to a width, scaled to the highest bar. */
class SparklineTest {
  @Test
  void barsScaleToTheHighestAndNeighboursAreAddedToFitTheWidth() {
    assertThat(StatusCommand.sparkline(List.of(0L, 1L, 2L, 4L, 8L), 10)).isEqualTo("▁▁▂▄█");
    assertThat(StatusCommand.sparkline(List.of(1L, 1L, 0L, 0L, 3L, 3L), 3)).isEqualTo("▃▁█");
    assertThat(StatusCommand.sparkline(List.of(0L, 0L), 10)).isEqualTo("▁▁");
    assertThat(StatusCommand.sparkline(List.of(), 10)).isEmpty();
  }

  @Test
  void memoryUseIsShownInAUnitThatShowsIt() {
    assertThat(StatusCommand.memoryUse(80.5 * 1024 * 1024)).isEqualTo("80.5 MiB-seconds");
    assertThat(StatusCommand.memoryUse(2.0 * 1024 * 1024 * 1024 * 3600)).isEqualTo("2.000 GiB-hours");
  }
}
