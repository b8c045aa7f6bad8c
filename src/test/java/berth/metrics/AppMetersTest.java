package berth.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.snapshots.Labels;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** One app's request counters: status classes, the latency buckets' edges, the requests series. */
class AppMetersTest {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final AppMeters m = new AppMeters("web", registry, () -> null, new Metering.Account("web"), 4);

  @Test
  void everyStatusLandsInItsClassAndOddOnesAtTheEdges() {
    for (int status : new int[] {101, 200, 204, 302, 404, 499, 503, 504, 0, 700}) {
      m.begun();
      m.ended(status, 1_000, 0, 0);
    }
    AppReport r = m.report(Duration.ofSeconds(10), new Metering.Account("web"));
    assertThat(r.requests()).containsEntry("1xx", 1L).containsEntry("2xx", 2L).containsEntry("3xx", 1L).containsEntry("4xx", 2L)
        .containsEntry("5xx", 4L);
    assertThat(r.inFlight()).isZero();
  }

  @Test
  void aLatencyOnABucketsBoundCountsInThatBucket() {
    m.latency.record(1_000_000); // exactly 1 ms: le="0.001"
    m.latency.record(1_000_001);
    m.latency.record(Duration.ofMinutes(5).toNanos()); // beyond the last bound: +Inf only
    var point = m.latency.snapshot(Labels.of("app", "web"));
    var buckets = point.getClassicBuckets();
    assertThat(buckets.getUpperBound(0)).isEqualTo(0.001);
    assertThat(buckets.getCount(0)).isEqualTo(1);
    assertThat(buckets.getCount(1)).isEqualTo(1);
    assertThat(buckets.getUpperBound(buckets.size() - 1)).isInfinite();
    assertThat(buckets.getCount(buckets.size() - 1)).isEqualTo(1);
    assertThat(point.getSum()).isCloseTo(300.002000001, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(m.latency.count()).isEqualTo(3);
  }

  @Test
  void theSeriesKeepsTheLastIntervalsAndTheOneUnderWay() {
    for (int interval = 1; interval <= 6; interval++) {
      for (int k = 0; k < interval; k++) m.ended(200, 1, 0, 0);
      m.roll();
    }
    m.ended(200, 1, 0, 0);
    // 4 points: the last three closed intervals (4, 5, 6 requests) and the one under way (1 so far)
    assertThat(m.report(Duration.ofSeconds(10), new Metering.Account("web")).recentRequests()).containsExactly(4L, 5L, 6L, 1L);
  }
}
