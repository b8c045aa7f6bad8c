package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.BerthProcess;
import berth.testing.Http;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Following an app's log goes on across its instances' restarts, through the API and {@code berth logs -f}; the
 * CLI resumes after the last line it printed when the stream breaks, even across a restart of Berth.
 */
class LogFollowTest {
  private static final String APPS = """
      [apps.web]
      domains = ["web.test"]
      command = "@APP@"
      directory = "app"
      """;

  @TempDir Path dir;

  /** Lines read from {@code in} by a thread of their own, so a test can wait for one with a deadline. */
  private static BlockingQueue<String> lines(InputStream in) {
    BlockingQueue<String> q = new LinkedBlockingQueue<>();
    Thread.ofVirtual().start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) q.add(line);
      } catch (Exception e) {
        // the stream was closed by the test
      }
    });
    return q;
  }

  /** Waits for a line matching {@code wanted}; returns every line read up to it. */
  private static List<String> until(BlockingQueue<String> q, Predicate<String> wanted, String what) throws InterruptedException {
    List<String> seen = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      String line = q.poll(100, TimeUnit.MILLISECONDS);
      if (line == null) continue;
      seen.add(line);
      if (wanted.test(line)) return seen;
    }
    throw new AssertionError("no line with " + what + " within 30 s; saw:\n" + String.join("\n", seen));
  }

  @Test
  void theApiStreamGoesOnAcrossARestartAndResumesAfterTheLastEventId() throws Exception {
    try (BerthFixture b = BerthFixture.start(dir, APPS)) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      HttpResponse<InputStream> stream = Http.client().send(admin.request("/v1/apps/web/logs?follow=true&lines=0").GET().build(),
          HttpResponse.BodyHandlers.ofInputStream());
      assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
      BlockingQueue<String> q = lines(stream.body());
      try {
        assertThat(Http.get(b.port(), "web.test", "/echo").statusCode()).isEqualTo(200);
        until(q, l -> l.startsWith("data: ") && l.contains(" i1 berth| ready"), "i1 ready");
        assertThat(admin.post("/v1/apps/web/restart", "").statusCode()).isEqualTo(200);
        // the new instance's own output and Berth's lines about both instances, in whatever order they come
        List<String> seen = new ArrayList<>();
        for (String wanted : new String[] {" i2 berth| ready", " i2 out| testapp listening", " i1 berth| stopped"}) {
          if (seen.stream().noneMatch(l -> l.contains(wanted))) seen.addAll(until(q, l -> l.contains(wanted), wanted));
        }
        // every event has an id RUN-SEQ, its number one more than the one before
        List<String> ids = new ArrayList<>();
        for (String l : seen) if (l.startsWith("id: ")) ids.add(l.substring(4));
        assertThat(ids).hasSizeGreaterThan(3);
        String run = ids.getFirst().substring(0, ids.getFirst().lastIndexOf('-'));
        for (int k = 1; k < ids.size(); k++) {
          assertThat(ids.get(k)).isEqualTo(run + "-" + (seq(ids.get(k - 1)) + 1));
        }

        // a client that lost its stream after the third event gets exactly the events after it
        String third = ids.get(2);
        HttpResponse<InputStream> again = Http.client().send(admin.request("/v1/apps/web/logs?follow=true&lines=0")
            .header("Last-Event-ID", third).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        BlockingQueue<String> q2 = lines(again.body());
        try {
          List<String> resumed = until(q2, l -> l.equals("id: " + ids.getLast()), "the last id");
          List<String> resumedIds = resumed.stream().filter(l -> l.startsWith("id: ")).map(l -> l.substring(4)).toList();
          assertThat(resumedIds).isEqualTo(ids.subList(3, ids.size()));
        } finally {
          again.body().close();
        }
        // an id of another run (a Berth restarted since): every line of this run that is kept
        HttpResponse<InputStream> other = Http.client().send(admin.request("/v1/apps/web/logs?follow=true&lines=0")
            .header("Last-Event-ID", "0123abcd-5").GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        try {
          assertThat(until(lines(other.body()), l -> l.startsWith("id: "), "an id")).last().isEqualTo("id: " + run + "-1");
        } finally {
          other.body().close();
        }
      } finally {
        stream.body().close();
      }
    }
  }

  private static long seq(String id) {
    return Long.parseLong(id.substring(id.lastIndexOf('-') + 1));
  }

  @Test
  void berthLogsFollowGoesOnAcrossAnInstanceRestartAndAcrossARestartOfBerth() throws Exception {
    BerthFixture b = BerthFixture.start(dir, APPS);
    Process cli = new ProcessBuilder(BerthProcess.commandLine(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
        "logs", "web", "-f", "-n", "0", "--data", dir.resolve("data").toString())).redirectErrorStream(true).start();
    try {
      BlockingQueue<String> q = lines(cli.getInputStream());
      // the CLI is connected once a line written after its start reaches it
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      List<String> first = null;
      while (first == null && System.nanoTime() < deadline) {
        assertThat(Http.get(b.port(), "web.test", "/echo?plugh").statusCode()).isEqualTo(200);
        try {
          first = untilWithin(q, l -> l.contains("plugh"), Duration.ofMillis(500));
        } catch (AssertionError notYet) {
          // not connected yet
        }
      }
      assertThat(first).as("berth logs -f printed a request line").isNotNull();
      assertThat(new AdminHttp(dir.resolve("data")).post("/v1/apps/web/restart", "").statusCode()).isEqualTo(200);
      until(q, l -> l.contains(" i2 berth| ready"), "i2 ready");

      // Berth goes away and comes back on the same data directory (another admin port): the CLI reconnects
      b.close();
      until(q, l -> l.contains("reconnecting every second"), "the CLI noticing");
      b = BerthFixture.start(dir, APPS);
      until(q, l -> l.contains("berth: reconnected"), "the CLI reconnecting");
      assertThat(Http.get(b.port(), "web.test", "/echo?xyzzy").statusCode()).isEqualTo(200);
      List<String> after = until(q, l -> l.contains("xyzzy"), "a request line of the new Berth");
      assertThat(after).anyMatch(l -> l.contains(" i1 out| testapp listening"));
    } finally {
      cli.destroy();
      cli.waitFor(10, TimeUnit.SECONDS);
      b.close();
    }
  }

  private static List<String> untilWithin(BlockingQueue<String> q, Predicate<String> wanted, Duration d) throws InterruptedException {
    List<String> seen = new ArrayList<>();
    long deadline = System.nanoTime() + d.toNanos();
    while (System.nanoTime() < deadline) {
      String line = q.poll(20, TimeUnit.MILLISECONDS);
      if (line == null) continue;
      seen.add(line);
      if (wanted.test(line)) return seen;
    }
    throw new AssertionError("not yet");
  }
}
