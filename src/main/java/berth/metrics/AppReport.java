package berth.metrics;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One app's history since Berth started, for {@code berth status APP} and the dashboard: plain values.
 *
 * @param requests requests routed to it, by status class ({@code 2xx}...); Berth's own 502/503/504 included
 * @param interval the length of each point of {@code recentRequests}
 * @param recentRequests requests per interval, oldest first; the last is the interval under way
 * @param coldStarts cold starts since Berth started; {@code recentColdStarts} the last few, oldest first
 * @param failures the last few failures, oldest first
 * @param instanceCpuSeconds CPU time of each live instance by its number, as last sampled
 * @param cpuSeconds CPU time of all its instances since Berth started
 * @param memoryByteSeconds memory of all its instances integrated since Berth started
 */
public record AppReport(String app, Map<String, Long> requests, long inFlight, Duration interval, List<Long> recentRequests,
    long starts, long startFailures, long crashes, long oomKills, long recycles,
    long coldStarts, List<ColdStart> recentColdStarts, List<Failure> failures,
    Map<Integer, Double> instanceCpuSeconds, double cpuSeconds, double memoryByteSeconds) {}
