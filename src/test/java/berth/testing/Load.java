package berth.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Clients looping against one host through Berth until {@link #close()}, each on its path (round robin over
 * {@code paths}): every status code, every failure ({@code "503 <body>"}, or no response at all), every 200 body, and every pid that
 * answered (the test app puts its pid in the JSON of {@code /pids} and {@code /sleep}).
 */
public final class Load implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  public final List<Integer> codes = new CopyOnWriteArrayList<>();
  public final List<String> failures = new CopyOnWriteArrayList<>();
  public final List<String> bodies = new CopyOnWriteArrayList<>();
  public final Set<Long> pids = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final List<Thread> threads = new ArrayList<>();

  public Load(int port, String host, int clients, String... paths) {
    for (int c = 0; c < clients; c++) {
      String path = paths[c % paths.length];
      threads.add(Thread.ofVirtual().start(() -> {
        while (running.get()) {
          HttpResponse<String> r;
          try {
            r = Http.get(port, host, path);
          } catch (RuntimeException e) { // a reset, a refused or a timed-out connection: a failure like any other
            failures.add("no response: " + e);
            continue;
          }
          codes.add(r.statusCode());
          if (r.statusCode() != 200) {
            failures.add(r.statusCode() + " " + r.body());
            continue;
          }
          bodies.add(r.body());
          try {
            JsonNode pid = JSON.readTree(r.body()).get("pid");
            if (pid != null) pids.add(pid.asLong());
          } catch (Exception e) {
            // not JSON: a body the test reads itself
          }
        }
      }));
    }
  }

  /** Stops the clients after their request under way (bounded: a request times out on its own). */
  @Override
  public void close() throws InterruptedException {
    running.set(false);
    for (Thread t : threads) t.join(Duration.ofSeconds(70));
  }
}
