package berth.metrics;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.Exemplars;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;

/**
 * A request-latency histogram with fixed buckets, made for the request path: {@link #record} is a few compares and
 * two {@link LongAdder} increments, no lock, no allocation, no clock. (A Micrometer timer with the same buckets
 * also keeps a decaying maximum and took four times as long here, with two event loops contending.) It is
 * exposed as a Prometheus classic histogram by {@link Metrics}, one data point per app.
 *
 * <p>Thread-safe; a snapshot taken while requests are recorded may be off by those requests, never torn.
 */
final class Latency {
  private final long[] bounds;
  private final double[] seconds;
  private final LongAdder[] counts;
  private final LongAdder sumNanos = new LongAdder();

  Latency(Duration[] bounds) {
    this.bounds = new long[bounds.length];
    this.seconds = new double[bounds.length + 1];
    this.counts = new LongAdder[bounds.length + 1];
    for (int i = 0; i < bounds.length; i++) {
      this.bounds[i] = bounds[i].toNanos();
      this.seconds[i] = bounds[i].toNanos() / 1e9;
    }
    seconds[bounds.length] = Double.POSITIVE_INFINITY;
    for (int i = 0; i < counts.length; i++) counts[i] = new LongAdder();
  }

  /** One request of {@code nanos}: into the first bucket whose bound is at least that (Prometheus' {@code le}). */
  void record(long nanos) {
    int i = 0;
    while (i < bounds.length && nanos > bounds[i]) i++;
    counts[i].increment();
    sumNanos.add(nanos);
  }

  long count() {
    long n = 0;
    for (LongAdder c : counts) n += c.sum();
    return n;
  }

  /** The histogram now, as one data point with {@code labels}. */
  HistogramSnapshot.HistogramDataPointSnapshot snapshot(Labels labels) {
    long[] n = new long[counts.length];
    for (int i = 0; i < n.length; i++) n[i] = counts[i].sum();
    return new HistogramSnapshot.HistogramDataPointSnapshot(ClassicHistogramBuckets.of(seconds, n), sumNanos.sum() / 1e9, labels,
        Exemplars.EMPTY, 0L);
  }
}
