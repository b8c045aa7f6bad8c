package berth.supervisor;

import berth.apps.App;
import berth.config.Durations;
import berth.logs.AppLog;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One running copy of an app: its OS process tree (one session), its port, and where it is in its life.
 *
 * <pre>
 *   Starting ──answers on port──► Ready ──stop()──► Stopping ──tree gone──► Gone
 *      │                            │                                        ▲
 *      ├──exits / start_timeout─────┴──leader exits (crash)─► (rest of tree stopped) ┘
 * </pre>
 *
 * <p>{@link #ready()} completes when the instance answers, or exceptionally with {@link StartFailedException};
 * {@link #gone()} completes when the leader has exited and no process of the session remains. Both complete on
 * supervisor threads: callers must not block in their callbacks or assume a thread.
 *
 * <p>Thread-safe. State guarded by this.
 */
public final class Instance implements berth.logs.Tagged {
  /** Where an instance is in its life; see the diagram above. */
  public sealed interface State {}

  public record Starting(Instant since) implements State {}

  public record Ready(Instant since) implements State {}

  public record Stopping(Instant since, String why) implements State {}

  public record Gone(Instant since, Exit exit) implements State {}

  /** Output lines kept per instance for its {@link StartFailure}. */
  static final int LAST_LINES = 20;

  /** The settings it was started with: its command, directory, env, user, group and ready_path. */
  private final App launched;
  /** The app's settings now, for what applies to a running instance: stop_signal, stop_timeout, limits. */
  private volatile App app;
  private final int id;
  /** Final once it is spawned; see {@link #port()}. */
  private volatile int port;
  private final AppLog log;
  private volatile java.net.InetSocketAddress address;
  private final Instant created = Instant.now();
  final CompletableFuture<Instance> ready = new CompletableFuture<>();
  final CompletableFuture<Instance> answering = new CompletableFuture<>();
  final CompletableFuture<Exit> leaderExit = new CompletableFuture<>();
  final CompletableFuture<Void> outputClosed = new CompletableFuture<>();
  final CompletableFuture<Exit> gone = new CompletableFuture<>();
  private final ArrayDeque<String> lastLines = new ArrayDeque<>();
  private State state;
  private int pid;
  /** Set once by the start thread before the spawn; read by stop threads after {@link #pid} is set. */
  volatile Tree tree;
  /** The user it runs as, null for Berth's own; set once by the start thread before the spawn. */
  volatile berth.users.Account account;
  /** Why it ended, when it ended on its own (a crash, an OOM kill); null when Berth stopped it. */
  private volatile String endReason;
  /** The kernel killed a process of it for want of memory (set when it ended on its own). */
  private volatile boolean oomKilled;
  /** Its start's steps ({@link StartTimes}); set by the start thread, read by anyone. */
  private final long askedNanos;
  volatile long spawningNanos;
  volatile long spawnedNanos;
  volatile long readyNanos;
  /** CPU time of its whole tree, read just before its cgroup was removed; -1 until then. */
  volatile long finalCpuNanos = -1;

  Instance(App app, int id, int port, AppLog log, long askedNanos) {
    this.askedNanos = askedNanos;
    this.launched = app;
    this.app = app;
    this.id = id;
    this.port = port;
    this.log = log;
    this.state = new Starting(created);
    this.address = address(port);
  }

  private static java.net.InetSocketAddress address(int port) {
    return new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), Math.max(port, 0));
  }

  /**
   * The app's settings as they apply to this instance now: {@code stop_signal} and {@code stop_timeout} are read
   * from here when it is stopped, and {@code memory_limit} when an OOM kill is reported. Starts as {@link
   * #launched()}; {@link #reconfigure} changes it while the instance runs.
   */
  public App app() {
    return app;
  }

  /** The settings it was started with; its command, directory, env, user, group and ready_path never change. */
  public App launched() {
    return launched;
  }

  /**
   * Takes the app's new settings for what applies to a running instance (stop_signal, stop_timeout; limits once
   * they have been written to its cgroup, see {@link Supervisor#changeLimits}). How it was launched stays as it
   * was: a change to that needs a new instance.
   */
  public void reconfigure(App next) {
    if (!next.name().equals(launched.name())) throw new IllegalArgumentException(next.name() + " is not " + launched.name());
    app = next;
  }

  @Override
  public String appName() {
    return launched.name();
  }

  @Override
  public int instanceId() {
    return id;
  }

  /** Unique per app for the life of this Berth process: 1, 2, 3... */
  public int id() {
    return id;
  }

  /**
   * Its port, chosen when it is created. Just before the spawn the start thread checks that no other process on
   * the machine holds it, and in the rare case that one does, the instance takes another port then (-1 if none
   * is free). It never changes after that: whenever {@link #answering()} or {@link #ready()} has completed, it
   * is the port the instance listens on.
   */
  public int port() {
    return port;
  }

  /** 127.0.0.1:{@link #port()}, resolved once. */
  public java.net.InetSocketAddress address() {
    return address;
  }

  /** The start thread found {@link #port()} held by another process and took this one instead; before the spawn. */
  void movePort(int port) {
    this.address = address(port);
    this.port = port;
  }

  /** The leader's pid (its session id too), 0 before it is spawned. */
  public synchronized int pid() {
    return pid;
  }

  public synchronized State state() {
    return state;
  }

  public CompletableFuture<Instance> ready() {
    return ready;
  }

  /**
   * Completes when its port first accepts a connection, just before {@link #ready()}: the checks that make it
   * ready (the socket is the instance's own) run after. A caller may connect then, and send once ready.
   * Fails when ready fails before the port answered.
   */
  public CompletableFuture<Instance> answering() {
    return answering;
  }

  public CompletableFuture<Exit> gone() {
    return gone;
  }

  public Instant created() {
    return created;
  }

  /** Why it ended when it was not Berth that stopped it, e.g. "killed: out of memory (memory_limit 64M)". */
  public String endReason() {
    return endReason;
  }

  void endReason(String why) {
    endReason = why;
  }

  /** Whether it ended on its own because the kernel killed a process of it for want of memory. */
  public boolean oomKilled() {
    return oomKilled;
  }

  void oomKilled(boolean killed) {
    oomKilled = killed;
  }

  /** When its start passed each step so far. */
  public StartTimes startTimes() {
    return new StartTimes(askedNanos, spawningNanos, spawnedNanos, readyNanos);
  }

  /**
   * CPU time used by all its processes since it started, in nanoseconds (those that exited included): live from
   * its cgroup while it runs, and once it is gone the last value read before its cgroup was removed. -1 if
   * unknown (no cgroups: instances tracked by session).
   */
  public long cpuNanos() {
    long last = finalCpuNanos;
    if (last >= 0) return last;
    Tree t = tree;
    if (t == null) return 0; // nothing spawned (yet)
    long now = t.cpuNanos();
    return now >= 0 ? now : finalCpuNanos; // its cgroup went away meanwhile: the final value was read first
  }

  /** Memory used by all its processes now, in bytes (see {@link Tree#memoryBytes()}); -1 before it is spawned. */
  public long memoryBytes() {
    Tree t = tree;
    return t == null || pid() <= 0 ? -1 : t.memoryBytes();
  }

  /** Its last lines of output, oldest first. */
  public List<String> recentOutput() {
    synchronized (lastLines) {
      return List.copyOf(lastLines);
    }
  }

  @Override
  public String toString() {
    return launched.name() + "/i" + id + " (pid " + pid() + ", port " + port + ")";
  }

  /** Records the leader's pid; false if a stop was asked for meanwhile (the caller must then stop it). */
  synchronized boolean spawned(int pid) {
    this.pid = pid;
    return !(state instanceof Stopping || state instanceof Gone);
  }

  /**
   * Moves to Stopping; returns the pid to stop (0: not spawned yet, the start thread will stop it), or -1 if a
   * stop was already under way.
   */
  synchronized int beginStop(String why) {
    if (state instanceof Stopping || state instanceof Gone) return -1;
    state = new Stopping(Instant.now(), why);
    return pid;
  }

  /** Moves to {@code next} unless already stopping or gone; returns whether it moved. */
  synchronized boolean moveTo(State next) {
    boolean allowed = switch (state) {
      case Starting s -> true;
      case Ready r -> !(next instanceof Starting);
      case Stopping s -> next instanceof Gone;
      case Gone g -> false;
    };
    if (allowed) state = next;
    return allowed;
  }

  synchronized boolean stopping() {
    return state instanceof Stopping || state instanceof Gone;
  }

  /** Whole lines of output in {@code buf[off..off+len)}, each ending in a newline. */
  void outputLines(byte[] buf, int off, int len) {
    log.outputLines(id, buf, off, len);
    // keep the last few as strings for the start failure record
    int end = off + len;
    int from = end - 1;
    int found = 0;
    while (from > off && found <= LAST_LINES) {
      if (buf[from - 1] == '\n') found++;
      if (found > LAST_LINES) break;
      from--;
    }
    synchronized (lastLines) {
      int start = from;
      for (int i = from; i < end; i++) {
        if (buf[i] != '\n') continue;
        int stop = i > start && buf[i - 1] == '\r' ? i - 1 : i;
        lastLines.addLast(new String(buf, start, stop - start, java.nio.charset.StandardCharsets.UTF_8));
        if (lastLines.size() > LAST_LINES) lastLines.removeFirst();
        start = i + 1;
      }
    }
  }

  void flushLog() {
    log.flush();
  }

  void note(String line) {
    log.berth(id, line);
  }


  StartFailure failure(StartFailure.Step step, String reason) {
    return new StartFailure(launched.name(), step, reason, Duration.between(created, Instant.now()), recentOutput());
  }

  /** "0.8 ms": for the short steps of a start. */
  static String tenths(Duration d) {
    long tenths = (d.toNanos() + 50_000) / 100_000;
    return tenths / 10 + "." + tenths % 10 + " ms";
  }

  static String ms(Duration d) {
    return d.toMillis() < 10_000 ? d.toMillis() + "ms" : Durations.format(d);
  }
}
