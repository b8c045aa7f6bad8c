package berth.logs;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * One app's log: the output of all its instances plus Berth's own lines about them, in
 * {@code DATA/logs/APP.log}, each line as {@code 2026-11-23T12:00:00.123Z i3 out| text} (instance 3's output) or
 * {@code ... i3 berth| text} (Berth about instance 3). The file is rotated at {@link #MAX_BYTES} into
 * {@code APP.log.1} .. {@code APP.log.3}; the last {@link #KEPT_LINES} lines are also kept in memory for the 503
 * page and the admin API, which can also {@linkplain #follow follow} the lines as they are written.
 *
 * <p>Lines are numbered from 1 as they are written ({@link Line#seq()}), and the log has a {@link #run()} name
 * that changes with each Berth process: a follower that lost its connection can ask for the lines after the last
 * one it saw, and tell whether that number still means anything (same run) or the log started over.
 *
 * <p>Thread-safe: pumps of several instances and the supervisor write concurrently. State guarded by this.
 */
public final class AppLog implements AutoCloseable {
  public static final long MAX_BYTES = 10L * 1024 * 1024;
  public static final int KEPT_FILES = 3;
  public static final int KEPT_LINES = 200;
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  /** One line as kept and followed: its number in this run of the log, and its text (with the prefix). */
  public record Line(long seq, String text) {}

  private final Path file;
  private final String run = Long.toHexString(new java.security.SecureRandom().nextLong() >>> 16);
  private final ArrayDeque<Line> recent = new ArrayDeque<>();
  /** Lines written so far in this run: the number of the last one. */
  private long written;
  /** Called with every line as it is written; copy-on-write because lines are many and followers few. */
  private final List<Consumer<Line>> followers = new CopyOnWriteArrayList<>();
  private OutputStream out;
  private long size;

  private final long maxBytes;

  public AppLog(Path file) {
    this(file, MAX_BYTES);
  }

  AppLog(Path file, long maxBytes) {
    this.file = file;
    this.maxBytes = maxBytes;
  }

  public Path file() {
    return file;
  }

  /** This run's name: a new one in each Berth process, so that line numbers of an earlier run are not mistaken for these. */
  public String run() {
    return run;
  }

  /**
   * Lines of instance {@code instance}'s output: {@code buf[off..off+len)} holds whole lines, each ending in
   * {@code \n}. Written as bytes with one prefix computed per call, so an app that writes fast costs about one
   * copy per byte; only the last {@link #KEPT_LINES} lines become strings (every line while someone follows). Call {@link #flush()} when no more
   * output is at hand.
   */
  public synchronized void outputLines(int instance, byte[] buf, int off, int len) {
    byte[] prefix = (TIME.format(Instant.now()) + " i" + instance + " out| ").getBytes(StandardCharsets.UTF_8);
    int end = off + len;
    int lines = 0;
    for (int i = off; i < end; i++) if (buf[i] == '\n') lines++;
    int keepFrom = lines - KEPT_LINES;
    int line = 0;
    int start = off;
    try {
      if (out == null) open();
      for (int i = off; i < end; i++) {
        if (buf[i] != '\n') continue;
        int stop = i > start && buf[i - 1] == '\r' ? i - 1 : i;
        if (size > 0 && size + prefix.length + (stop - start) + 1 > maxBytes) rotate();
        out.write(prefix);
        out.write(buf, start, stop - start);
        out.write('\n');
        size += prefix.length + (stop - start) + 1;
        boolean kept = line++ >= keepFrom;
        written++;
        if (kept || !followers.isEmpty()) {
          Line l = new Line(written, new String(prefix, StandardCharsets.UTF_8) + new String(buf, start, stop - start, StandardCharsets.UTF_8));
          if (kept) keep(l);
          tell(l);
        }
        start = i + 1;
      }
    } catch (IOException e) {
      closeQuietly();
    }
  }

  /**
   * The lines to show first and, from then on, every new line to {@code follower}, with no line lost or repeated
   * between the two: with {@code after} < 0 the last {@code n} lines; else those numbered after {@code after} (as
   * many as are kept: a gap shows in the numbers). The follower is called on the writing thread with this log's
   * lock held: it must only hand the line on (never block, never call back into this log). Stop with {@link
   * #unfollow}.
   */
  public synchronized List<Line> follow(int n, long after, Consumer<Line> follower) {
    followers.add(follower);
    if (after < 0) return recent.stream().skip(Math.max(0, recent.size() - n)).toList();
    return recent.stream().filter(l -> l.seq() > after).toList();
  }

  public void unfollow(Consumer<Line> follower) {
    followers.remove(follower);
  }

  /** How many follow this log now (a stream that ended must not stay among them). */
  public int followers() {
    return followers.size();
  }

  private void tell(Line line) {
    for (Consumer<Line> f : followers) f.accept(line);
  }

  private void keep(Line line) {
    recent.addLast(line);
    if (recent.size() > KEPT_LINES) recent.removeFirst();
  }

  /** A line from Berth about instance {@code instance} (0: about the app as a whole), written at once. */
  public void berth(int instance, String line) {
    append(instance, "berth", line, true);
  }

  public synchronized void flush() {
    if (out == null) return;
    try {
      out.flush();
    } catch (IOException e) {
      closeQuietly();
    }
  }

  /** The last {@code n} lines (at most {@link #KEPT_LINES}), oldest first. */
  public synchronized List<String> tail(int n) {
    return recent.stream().skip(Math.max(0, recent.size() - n)).map(Line::text).toList();
  }

  private synchronized void append(int instance, String stream, String line, boolean flush) {
    String text = TIME.format(Instant.now()) + " i" + instance + " " + stream + "| " + line;
    Line l = new Line(++written, text);
    keep(l);
    tell(l);
    byte[] bytes = (text + "\n").getBytes(StandardCharsets.UTF_8);
    try {
      if (out == null) open();
      if (size > 0 && size + bytes.length > maxBytes) rotate();
      out.write(bytes);
      if (flush) out.flush();
      size += bytes.length;
    } catch (IOException e) {
      // the log is best effort: an app must keep serving when the disk is full; the line is still in memory
      closeQuietly();
    }
  }

  private void open() throws IOException {
    Files.createDirectories(file.getParent());
    out = new BufferedOutputStream(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND), 64 * 1024);
    size = Files.size(file);
  }

  private void rotate() throws IOException {
    closeQuietly();
    for (int i = KEPT_FILES - 1; i >= 1; i--) {
      Path from = file.resolveSibling(file.getFileName() + "." + i);
      if (Files.exists(from)) Files.move(from, file.resolveSibling(file.getFileName() + "." + (i + 1)), StandardCopyOption.REPLACE_EXISTING);
    }
    Files.move(file, file.resolveSibling(file.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
    open();
  }

  private void closeQuietly() {
    if (out == null) return;
    try {
      out.close();
    } catch (IOException ignored) {
      // nothing more to do for a log file we are giving up on
    }
    out = null;
  }

  @Override
  public synchronized void close() {
    closeQuietly();
  }
}
