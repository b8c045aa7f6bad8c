package berth.logs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AppLogTest {
  @TempDir Path dir;

  @Test
  void linesCarryTimeInstanceAndStream() throws Exception {
    try (AppLog log = new AppLog(dir.resolve("logs/a.log"))) {
      log.berth(3, "starting");
      byte[] lines = "hello\r\n".getBytes();
      log.outputLines(3, lines, 0, lines.length);
      log.flush();
      assertThat(Files.readAllLines(dir.resolve("logs/a.log")))
          .satisfiesExactly(
              l -> assertThat(l).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z i3 berth\\| starting"),
              l -> assertThat(l).endsWith(" i3 out| hello"));
    }
  }

  @Test
  void rotatesBySizeAndKeepsThreeOldFiles() throws Exception {
    Path file = dir.resolve("a.log");
    try (AppLog log = new AppLog(file, 1000)) {
      for (int i = 0; i < 200; i++) {
        byte[] line = "line %03d %s\n".formatted(i, "x".repeat(40)).getBytes();
        log.outputLines(1, line, 0, line.length);
      }
      log.flush();
      assertThat(Files.size(file)).isLessThanOrEqualTo(1000);
      assertThat(dir.resolve("a.log.1")).exists();
      assertThat(dir.resolve("a.log.3")).exists();
      assertThat(dir.resolve("a.log.4")).doesNotExist();
      assertThat(Files.readString(file)).contains("line 199");
      assertThat(log.tail(2)).hasSize(2).last().asString().contains("line 199");
    }
  }

  @Test
  void aFollowerGetsTheTailThenEveryNewLineUntilItStops() {
    try (AppLog log = new AppLog(dir.resolve("f.log"))) {
      log.berth(1, "before 1");
      log.berth(1, "before 2");
      java.util.List<String> seen = new java.util.ArrayList<>();
      java.util.function.Consumer<AppLog.Line> follower = l -> seen.add(l.text());
      assertThat(log.follow(1, -1, follower)).singleElement().extracting(AppLog.Line::text).asString().endsWith("before 2");
      byte[] many = "a\nb\nc\n".getBytes();
      log.outputLines(2, many, 0, many.length);
      log.berth(2, "after");
      assertThat(seen).hasSize(4);
      assertThat(seen.get(0)).endsWith(" i2 out| a");
      assertThat(seen.get(3)).endsWith(" i2 berth| after");
      assertThat(log.followers()).isEqualTo(1);
      log.unfollow(follower);
      log.berth(2, "unseen");
      assertThat(seen).hasSize(4);
      assertThat(log.followers()).isZero();
    }
  }

  @Test
  void aFollowerThatComesBackGetsTheLinesAfterTheLastItSaw() {
    try (AppLog log = new AppLog(dir.resolve("g.log"))) {
      for (int i = 1; i <= 5; i++) log.berth(1, "line " + i);
      java.util.function.Consumer<AppLog.Line> ignore = l -> {};
      java.util.List<AppLog.Line> first = log.follow(2, -1, ignore);
      assertThat(first).extracting(AppLog.Line::seq).containsExactly(4L, 5L);
      log.unfollow(ignore);
      log.berth(1, "line 6");
      log.berth(1, "line 7");
      // reconnecting after line 5: exactly the two it missed, whatever n says
      assertThat(log.follow(1, 5, ignore)).extracting(AppLog.Line::text).allMatch(t -> t.contains("line 6") || t.contains("line 7")).hasSize(2);
      assertThat(log.run()).isNotEqualTo(new AppLog(dir.resolve("h.log")).run());
    }
  }
}
