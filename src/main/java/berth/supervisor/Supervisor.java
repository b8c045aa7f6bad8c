package berth.supervisor;

import berth.apps.App;
import berth.config.Durations;
import berth.logs.AppLog;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts and stops instances: spawns {@code /bin/sh -c command} with {@code $PORT}, decides it is ready when a
 * TCP connect to that port succeeds (never by process name), and stops its whole process tree.
 *
 * <p>Threads, per instance: one virtual thread runs the start (spawn, then the readiness probe) and later the
 * stop; one platform thread waits for the leader's exit ({@code waitpid} blocks in native code, which would pin
 * a virtual thread's carrier); one platform thread pumps its output into the app's log. None of them holds a
 * lock while blocking.
 */
public final class Supervisor {
  private static final Logger LOG = LoggerFactory.getLogger(Supervisor.class);
  /** Readiness polling: every 1% of the time waited so far, from 1 ms up to 50 ms. */
  private static final Duration MIN_POLL = Duration.ofMillis(1);
  private static final Duration MAX_POLL = Duration.ofMillis(50);
  /** After a leader exits, how long to wait for the rest of its output before reporting it. */
  private static final Duration OUTPUT_GRACE = Duration.ofMillis(200);
  /** How long SIGKILLed processes get to disappear before Berth says they survived. */
  private static final Duration KILL_GRACE = Duration.ofSeconds(5);
  private static final String HOST = "127.0.0.1";

  private final Ports ports;

  public Supervisor(Ports ports) {
    this.ports = ports;
  }

  public Ports ports() {
    return ports;
  }

  /**
   * Starts instance {@code id} of {@code app} on a port of its own and returns at once; watch {@link
   * Instance#ready()} and {@link Instance#gone()}. The port returns to the range when the instance is gone.
   */
  public Instance start(App app, int id, AppLog log) {
    int port = ports.allocate();
    Instance instance = new Instance(app, id, port, log);
    instance.gone.whenComplete((exit, err) -> {
      if (port > 0) ports.release(port);
    });
    if (port < 0) {
      fail(instance, instance.failure(StartFailure.Step.SPAWN, "no free port in the range Berth may use"));
      instance.moveTo(new Instance.Gone(Instant.now(), new Exit(-1, 0)));
      instance.gone.complete(new Exit(-1, 0));
      return instance;
    }
    Thread.ofVirtual().name("berth-start-" + app.name() + "-i" + id).start(() -> run(instance));
    return instance;
  }

  /**
   * Stops {@code instance}: {@code stop_signal} to every process of its session, SIGKILL to all that remain after
   * {@code stop_timeout}, and completes when none remains. Idempotent.
   */
  public java.util.concurrent.CompletableFuture<Exit> stop(Instance instance, String why) {
    int pid = instance.beginStop(why);
    // -1: a stop is under way; 0: not spawned yet, and the start thread stops it as soon as it is
    if (pid > 0) Thread.ofVirtual().name("berth-stop-" + instance.app().name() + "-i" + instance.id()).start(() -> stopNow(instance, why));
    return instance.gone;
  }

  private void stopNow(Instance instance, String why) {
    Instant t0 = Instant.now();
    instance.note("stopping (" + why + "): " + instance.app().stopSignal() + " to its processes");
    terminate(instance, instance.app().stopSignal().number(), instance.app().stopTimeout());
    Exit exit = instance.leaderExit.getNow(new Exit(-1, 0));
    instance.note("stopped after " + Instance.ms(Duration.between(t0, Instant.now())) + ": leader " + exit);
    LOG.info("{} stopped ({})", instance, why);
    finish(instance, exit);
  }

  private void run(Instance instance) {
    App app = instance.app();
    if (instance.stopping()) { // stopped before it began
      finish(instance, new Exit(-1, 0));
      return;
    }
    instance.note("starting on port " + instance.port() + ": /bin/sh -c " + app.launch().command());
    Posix.Spawned spawned;
    try {
      spawned = Posix.spawn(List.of("/bin/sh", "-c", app.launch().command()), environment(app, instance.port()),
          app.launch().directory().toString());
    } catch (Posix.PosixException e) {
      String why = e.errno == 2 && !java.nio.file.Files.isDirectory(app.launch().directory())
          ? "directory " + app.launch().directory() + " does not exist"
          : e.getMessage();
      fail(instance, instance.failure(StartFailure.Step.SPAWN, "could not be started: " + why));
      instance.moveTo(new Instance.Gone(Instant.now(), new Exit(-1, 0)));
      instance.gone.complete(new Exit(-1, 0));
      return;
    }
    int pid = spawned.pid();
    boolean wanted = instance.spawned(pid);
    Thread.ofPlatform().daemon().name("berth-output-" + app.name() + "-i" + instance.id()).stackSize(128 * 1024)
        .start(() -> pump(instance, spawned.outputFd()));
    Thread.ofPlatform().daemon().name("berth-wait-" + app.name() + "-i" + instance.id()).stackSize(128 * 1024)
        .start(() -> {
          Exit exit = Exit.fromWaitStatus(Posix.waitpid(pid));
          instance.leaderExit.complete(exit);
          onLeaderExit(instance, exit);
        });
    if (!wanted) { // a stop came while it was being spawned
      stopNow(instance, "stopped while starting");
      return;
    }
    awaitReady(instance);
  }

  private void awaitReady(Instance instance) {
    App app = instance.app();
    Instant t0 = Instant.now();
    Instant deadline = t0.plus(app.startTimeout());
    var address = new InetSocketAddress(HOST, instance.port());
    while (true) {
      if (answers(address)) {
        if (instance.moveTo(new Instance.Ready(Instant.now()))) {
          instance.note("ready: answered on port " + instance.port() + " after " + Instance.ms(Duration.between(t0, Instant.now()))
              + " (pid " + instance.pid() + ")");
          LOG.info("{} ready after {}", instance, Instance.ms(Duration.between(t0, Instant.now())));
          instance.ready.complete(instance);
        } else {
          fail(instance, instance.failure(StartFailure.Step.WAIT_READY, "was stopped before it answered"));
        }
        return;
      }
      Instant now = Instant.now();
      if (!now.isBefore(deadline)) {
        fail(instance, instance.failure(StartFailure.Step.WAIT_READY,
            "did not answer on port " + instance.port() + " within start_timeout " + Durations.format(app.startTimeout())));
        stop(instance, "start_timeout");
        return;
      }
      Duration waited = Duration.between(t0, now);
      Duration pause = waited.dividedBy(100);
      if (pause.compareTo(MIN_POLL) < 0) pause = MIN_POLL;
      if (pause.compareTo(MAX_POLL) > 0) pause = MAX_POLL;
      if (pause.compareTo(Duration.between(now, deadline)) > 0) pause = Duration.between(now, deadline);
      try {
        Exit exit = instance.leaderExit.get(pause.toNanos(), TimeUnit.NANOSECONDS);
        failExited(instance, exit);
        return;
      } catch (TimeoutException e) {
        // still starting
      } catch (InterruptedException | ExecutionException e) {
        fail(instance, instance.failure(StartFailure.Step.WAIT_READY, "start interrupted: " + e));
        return;
      }
    }
  }

  private static boolean answers(InetSocketAddress address) {
    try (SocketChannel ch = SocketChannel.open()) {
      return ch.connect(address);
    } catch (IOException e) {
      return false;
    }
  }

  /** The leader exited before its instance answered: the start failed, and its last output says why. */
  private static void failExited(Instance instance, Exit exit) {
    awaitOutput(instance);
    fail(instance, instance.failure(StartFailure.Step.WAIT_READY, exit + " before answering on port " + instance.port()));
  }

  private static void awaitOutput(Instance instance) {
    try {
      instance.outputClosed.get(OUTPUT_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // a grandchild still holds the pipe; report what we have
    }
  }

  private void onLeaderExit(Instance instance, Exit exit) {
    boolean wasReady = instance.state() instanceof Instance.Ready;
    if (instance.beginStop("leader " + exit) < 0) return; // stop() reports and finishes
    if (wasReady) {
      awaitOutput(instance);
      instance.note("exited unexpectedly: " + exit);
      LOG.warn("{} {}", instance, "exited unexpectedly: " + exit);
    } else {
      failExited(instance, exit);
    }
    // whatever the leader left behind in its session goes with it
    terminate(instance, instance.app().stopSignal().number(), instance.app().stopTimeout());
    finish(instance, exit);
  }

  /** Signals the whole session, waits up to {@code timeout} for it to empty, then SIGKILLs what remains. */
  private void terminate(Instance instance, int signal, Duration timeout) {
    int pid = instance.pid();
    if (pid <= 0) return;
    Instant deadline = Instant.now().plus(timeout);
    if (Session.signal(pid, signal) == 0 && instance.leaderExit.isDone()) return;
    try {
      instance.leaderExit.get(Math.max(0, Duration.between(Instant.now(), deadline).toMillis()), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // still running at the deadline
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    while (!Session.members(pid).isEmpty() && Instant.now().isBefore(deadline)) sleep(Duration.ofMillis(20));
    List<Integer> left = Session.members(pid);
    if (!left.isEmpty()) {
      instance.note("still running after stop_timeout " + Durations.format(timeout) + ": SIGKILL to " + left.size() + " process(es) " + left);
      Instant killDeadline = Instant.now().plus(KILL_GRACE);
      while (Session.signal(pid, Posix.SIGKILL) > 0 && Instant.now().isBefore(killDeadline)) sleep(Duration.ofMillis(10));
      left = Session.members(pid);
      if (!left.isEmpty()) {
        instance.note("processes " + left + " survived SIGKILL for " + Durations.format(KILL_GRACE));
        LOG.error("{}: processes {} survived SIGKILL", instance, left);
      }
    }
    try {
      instance.leaderExit.get(KILL_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      LOG.error("{}: leader did not exit after SIGKILL", instance);
    }
  }

  private static void finish(Instance instance, Exit exit) {
    instance.moveTo(new Instance.Gone(Instant.now(), exit));
    fail(instance, instance.failure(StartFailure.Step.WAIT_READY, "was stopped before it answered"));
    instance.gone.complete(exit);
  }

  private static void fail(Instance instance, StartFailure failure) {
    if (instance.ready.completeExceptionally(new StartFailedException(failure))) {
      instance.note("start failed: " + failure.reason());
      LOG.warn("{} did not start: {}", instance, failure.reason());
    }
  }

  private static void pump(Instance instance, int fd) {
    try (InputStream in = new FileInputStream("/proc/self/fd/" + fd)) {
      Posix.close(fd);
      byte[] buf = new byte[16 * 1024];
      var line = new java.io.ByteArrayOutputStream(256);
      int n;
      while ((n = in.read(buf)) > 0) {
        int start = 0;
        for (int i = 0; i < n; i++) {
          if (buf[i] == '\n') {
            line.write(buf, start, i - start);
            emit(instance, line);
            start = i + 1;
          }
        }
        line.write(buf, start, n - start);
        if (line.size() >= 16 * 1024) emit(instance, line);
        if (in.available() == 0) instance.flushLog();
      }
      if (line.size() > 0) emit(instance, line);
      instance.flushLog();
    } catch (IOException e) {
      instance.note("output pipe failed: " + e.getMessage());
    } finally {
      instance.outputClosed.complete(null);
    }
  }

  private static void emit(Instance instance, java.io.ByteArrayOutputStream line) {
    int len = line.size();
    byte[] b = line.toByteArray();
    if (len > 0 && b[len - 1] == '\r') len--;
    instance.output(new String(b, 0, len, StandardCharsets.UTF_8));
    line.reset();
  }

  /** A clean environment: only what every app needs, the app's own {@code env}, then PORT and HOST. */
  static List<String> environment(App app, int port) {
    Map<String, String> env = new LinkedHashMap<>();
    String path = System.getenv("PATH");
    env.put("PATH", path != null && !path.isBlank() ? path : "/usr/local/bin:/usr/bin:/bin");
    for (String k : List.of("HOME", "USER", "LOGNAME", "LANG", "TZ")) {
      String v = System.getenv(k);
      if (v != null) env.put(k, v);
    }
    env.putAll(app.launch().env());
    env.put("PORT", Integer.toString(port));
    env.put("HOST", HOST);
    List<String> out = new ArrayList<>(env.size());
    env.forEach((k, v) -> out.add(k + "=" + v));
    return out;
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
