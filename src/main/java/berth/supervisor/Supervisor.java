package berth.supervisor;

import berth.apps.App;
import berth.apps.Procfile;
import berth.cgroup.Cgroup;
import berth.cgroup.CgroupSystem;
import berth.cgroup.Limits;
import berth.config.Durations;
import berth.config.Sizes;
import berth.logs.AppLog;
import berth.users.Account;
import berth.users.Accounts;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts and stops instances: spawns {@code /bin/sh -c command} with {@code $PORT} inside the instance's own
 * cgroup, decides it is ready when a socket of its own listens on that port (never by process name), and stops its
 * whole process tree.
 *
 * <p>An instance ends when its leader has exited and no process of its tree remains: a server that daemonizes
 * (forks, and the parent exits 0) is still the instance while its cgroup has processes.
 *
 * <p>Threads, per instance, all platform threads from pools: one runs the start (port check, cgroup, spawn,
 * then the readiness polls), from a pool in which two always wait; one waits for the leader's exit ({@code
 * waitpid} blocks in native code, which would pin a virtual thread's carrier); one pumps its output into the
 * app's log. A virtual thread runs each stop. None of them holds a lock while blocking.
 *
 * <p>A cold start's critical path, from {@link #start} to the first request sent to the app, is kept short: no
 * system call on the caller's thread (a router event loop), the port checked and the cgroup made on a start
 * thread that is already waiting, the code compiled before it is first needed ({@link Warmup}), readiness polled
 * every 0.25 ms with one kernel lookup, and the socket proved the instance's own by the cgroup the kernel says
 * it was created in. See bench/RESULTS.md for what each step cost.
 */
public final class Supervisor {
  private static final Logger LOG = LoggerFactory.getLogger(Supervisor.class);
  /**
   * Readiness polling: every 1% of the time waited so far, from 0.25 ms up to 50 ms. A poll is one exact
   * lookup by the kernel (about 10 us once compiled, see {@link SockDiag}), so polling this often costs a few
   * percent of a core while an app boots, and sees it listening 0.1 to 0.2 ms after it does, where a 1 ms poll
   * took 0.5 ms on average.
   */
  private static final Duration MIN_POLL = Duration.ofNanos(250_000);
  private static final Duration MAX_POLL = Duration.ofMillis(50);
  /** After a leader exits, how long to wait for the rest of its output before reporting it. */
  private static final Duration OUTPUT_GRACE = Duration.ofMillis(200);
  /** How long SIGKILLed processes get to disappear before Berth says they survived. */
  private static final Duration KILL_GRACE = Duration.ofSeconds(5);
  /**
   * How long a socket of another process may answer on a starting instance's port before the start fails: one
   * that is gone by then (a process that was exiting, or one that held the port for a moment) costs no failed
   * start; one that stays is refused, and the app's own bind would fail anyway.
   */
  private static final Duration SQUAT_GRACE = Duration.ofMillis(500);
  private static final Duration SQUAT_POLL = Duration.ofMillis(10);
  private static final String HOST = "127.0.0.1";

  /**
   * Platform threads for an instance's start (spawn, readiness) and for the calls that block in native code for
   * its whole life ({@code waitpid}, reading its output pipe), which would pin a virtual thread's carrier.
   * Pooled: creating threads took 1 to 4 ms of every cold start here, and waking a new virtual thread 0.6 to
   * 1.3 ms; handing work to an idle pooled thread takes microseconds.
   */
  private static final java.util.concurrent.ExecutorService BLOCKING = java.util.concurrent.Executors.newCachedThreadPool(
      Thread.ofPlatform().daemon().name("berth-blocking-", 1).stackSize(256 * 1024).factory());

  /**
   * The threads that run starts. Two of them always wait, even after hours without a cold start (idle threads of
   * {@link #BLOCKING} end after a minute, and a new thread costs the start 1 to 4 ms); more are made while more
   * instances start at once.
   */
  private static final java.util.concurrent.ThreadPoolExecutor STARTS = startThreads();

  private static java.util.concurrent.ThreadPoolExecutor startThreads() {
    var pool = new java.util.concurrent.ThreadPoolExecutor(2, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
        new java.util.concurrent.SynchronousQueue<>(), Thread.ofPlatform().daemon().name("berth-start-", 1).stackSize(256 * 1024).factory());
    pool.prestartAllCoreThreads();
    return pool;
  }

  private final Ports ports;
  private final Optional<CgroupSystem> cgroups;
  private final String noCgroupsBecause;
  private final Policy policy;
  private final Account self = Accounts.self();

  /**
   * Node settings about users and accounting.
   *
   * @param allowRoot whether an app may run as {@code user = "root"}
   * @param createUsers whether a missing {@code user} is created (system user, own group, home under {@code homes})
   * @param defaultUser the user an app that names none runs as when Berth is root; null: Berth's own user
   * @param accountMemory whether every instance's memory is accounted (cgroup memory controller), not only the
   *     instances of apps with a memory limit: the node's {@code budget_memory} needs every instance's usage
   */
  public record Policy(boolean allowRoot, boolean createUsers, Path homes, String defaultUser, boolean accountMemory) {
    /** Apps that name no user run as Berth's own; memory is accounted only where a limit asks. */
    public Policy(boolean allowRoot, boolean createUsers, Path homes) {
      this(allowRoot, createUsers, homes, null, false);
    }
  }

  /** A supervisor that tracks instances by cgroup when {@code cgroups} is present, else by session. */
  public Supervisor(Ports ports, Optional<CgroupSystem> cgroups, String noCgroupsBecause, Policy policy) {
    this.ports = ports;
    this.cgroups = cgroups;
    this.noCgroupsBecause = noCgroupsBecause;
    this.policy = policy;
    Warmup.start();
  }

  public Ports ports() {
    return ports;
  }

  /**
   * Stops and removes the instance cgroups an earlier run of Berth left behind (it was killed or crashed), so
   * that nothing runs twice or holds a port Berth is about to hand out. Blocks; call before serving.
   */
  public int stopLeftovers(java.util.function.Function<String, App> apps) {
    if (cgroups.isEmpty()) return 0;
    int n = 0;
    try {
      for (Cgroup cg : cgroups.get().leftovers()) {
        Tree tree = new Tree.OfCgroup(cg);
        List<Integer> pids = tree.members();
        if (!pids.isEmpty()) {
          // instance cgroups are named APP.iN: stop them as their app asks, if it still exists
          App app = apps.apply(cg.name().replaceFirst("\\.i\\d+$", ""));
          int signal = app != null ? app.stopSignal().number() : Posix.SIGTERM;
          Duration timeout = app != null ? app.stopTimeout() : App.DEFAULT_STOP_TIMEOUT;
          LOG.warn("stopping {} left by an earlier run of Berth: processes {}", cg.name(), pids);
          tree.signalAll(signal);
          if (!tree.awaitEmpty(timeout)) {
            tree.killAll();
            tree.awaitEmpty(KILL_GRACE);
          }
          n++;
        }
        if (!cg.remove()) LOG.error("cannot remove {}: processes {} survived SIGKILL", cg, tree.members());
      }
    } catch (IOException e) {
      LOG.error("cannot look for instances of an earlier run", e);
    }
    return n;
  }

  /**
   * Starts instance {@code id} of {@code app} on a port of its own and returns at once, without a system call
   * (the caller may be an event loop); watch {@link Instance#ready()} and {@link Instance#gone()}. The port returns
   * to the range when the instance is gone.
   */
  public Instance start(App app, int id, AppLog log) {
    return start(app, id, log, System.nanoTime());
  }

  /**
   * {@link #start(App, int, AppLog)} for an instance asked for at {@code askedNanos} ({@link System#nanoTime()}),
   * before this call: its queued phase ({@link StartTimes}) counts from then, e.g. the wait for a seat in the
   * node's budget.
   */
  public Instance start(App app, int id, AppLog log, long askedNanos) {
    int port = ports.take();
    Instance instance = new Instance(app, id, port, log, askedNanos);
    if (port < 0) {
      failBeforeSpawn(instance, "no free port in the range Berth may use");
      return instance;
    }
    STARTS.execute(() -> run(instance));
    return instance;
  }

  /**
   * Stops {@code instance}: {@code stop_signal} to every process of its tree, SIGKILL to all that remain after
   * {@code stop_timeout}, and completes when none remains. Idempotent.
   */
  public CompletableFuture<Exit> stop(Instance instance, String why) {
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
    instance.spawningNanos = System.nanoTime();
    App app = instance.launched();
    if (instance.stopping()) { // stopped before it began
      finish(instance, new Exit(-1, 0));
      return;
    }
    int port = ports.confirm(instance.port());
    if (port != instance.port()) {
      instance.movePort(port);
      if (port < 0) {
        failBeforeSpawn(instance, "no free port in the range Berth may use: other processes hold the ones no instance has");
        return;
      }
    }
    String command;
    try {
      command = app.launch().commandToRun(); // the Procfile is read now: an edited one takes effect at the next start
    } catch (IllegalArgumentException e) {
      failBeforeSpawn(instance, "has no command: " + e.getMessage());
      return;
    }
    Account as;
    Tree tree;
    try {
      as = account(app);
      tree = tree(instance);
    } catch (IOException | IllegalStateException e) {
      failBeforeSpawn(instance, e.getMessage());
      return;
    }
    instance.tree = tree;
    instance.account = as;
    Posix.Spawned spawned;
    try {
      spawned = Posix.spawn(Launcher.argv(command, app.launch().directory(), tree.joinFiles(), as),
          environment(app.launch().env(), instance.port(), as == null ? self : as), app.launch().directory().toString(),
          as == null ? -1 : as.uid(), as == null ? -1 : as.gid());
    } catch (Posix.PosixException e) {
      String why = e.errno == 2 && !java.nio.file.Files.isDirectory(app.launch().directory())
          ? "directory " + app.launch().directory() + " does not exist"
          : e.getMessage();
      tree.release();
      failBeforeSpawn(instance, "could not be started: " + why);
      return;
    }
    int pid = spawned.pid();
    instance.spawnedNanos = System.nanoTime();
    // written after the spawn, which is on every cold start's critical path
    instance.note("starting on port " + instance.port() + (as == null ? "" : " as " + as.name()) + " (pid " + pid + ", spawned "
        + Instance.tenths(Duration.ofNanos(instance.spawnedNanos - instance.startTimes().asked())) + " after the start was asked for): /bin/sh -c "
        + command + (app.launch().command() == null ? " (the web: line of " + Procfile.NAME + ")" : ""));
    tree.leader(pid);
    boolean wanted = instance.spawned(pid);
    BLOCKING.execute(() -> pump(instance, spawned.outputFd()));
    BLOCKING.execute(() -> {
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

  /**
   * The account to switch to, or null to run as Berth's own user. Throws with the reason when the app may not
   * run as the user it names.
   */
  private Account account(App app) throws IOException {
    // as root, an app that names no user runs as the node's default_user (the package's "berth"), when there is one
    String user = app.user() != null ? app.user() : self.root() ? policy.defaultUser() : null;
    if (user == null) {
      if (app.group() != null) throw new IllegalStateException("group " + app.group() + " needs a user as well");
      return null;
    }
    if (!self.root()) {
      if (user.equals(self.name())) return null;
      throw new IllegalStateException("user " + user + ": Berth runs as " + self.name() + ", not root, so apps can only run as "
          + self.name());
    }
    Account a = Accounts.user(user).orElse(null);
    if (a == null) {
      if (app.user() == null) {
        throw new IllegalStateException("user " + user + " (the default_user of the node config, as the app names none) does not exist");
      }
      if (!policy.createUsers()) {
        throw new IllegalStateException("user " + user + " does not exist (create it, or set create_users = true in the node config)");
      }
      a = Accounts.create(user, policy.homes().resolve(user));
      LOG.info("created system user {} (uid {}) for app {}", a.name(), a.uid(), app.name());
    }
    if (a.root() && !policy.allowRoot()) {
      throw new IllegalStateException("user " + user + " is root, which the node config does not allow (allow_root = true would)");
    }
    if (app.group() != null) {
      int gid = Accounts.group(app.group()).orElseThrow(() -> new IllegalStateException("group " + app.group() + " does not exist"));
      a = new Account(a.name(), a.uid(), gid, a.home());
    }
    return a;
  }

  /** The instance's cgroup with the app's limits, or its session where Berth has no cgroups. */
  private Tree tree(Instance instance) throws IOException {
    App app = instance.launched();
    if (cgroups.isEmpty()) {
      if (app.limited()) {
        throw new IllegalStateException("memory_limit, memory_recycle, pids_limit and cpu_weight need cgroups, which Berth cannot use here: "
            + noCgroupsBecause);
      }
      return new Tree.OfSession();
    }
    CgroupSystem system = cgroups.get();
    if ((app.memoryLimit() > 0 || app.memoryRecycle() > 0) && !system.limits("memory")) {
      throw new IllegalStateException("memory_limit and memory_recycle need the cgroup memory controller, which is not available");
    }
    if (app.pidsLimit() > 0 && !system.limits("pids")) throw new IllegalStateException("pids_limit needs the cgroup pids controller, which is not available");
    Cgroup cg = system.create(app.name() + ".i" + instance.id(), limits(app));
    return new Tree.OfCgroup(cg);
  }

  private Limits limits(App app) {
    boolean account = app.memoryRecycle() > 0 || policy.accountMemory() && cgroups.map(c -> c.limits("memory")).orElse(false);
    return new Limits(app.memoryLimit(), account, app.pidsLimit(), app.cpuWeight() == App.DEFAULT_CPU_WEIGHT ? 0 : app.cpuWeight());
  }

  /** What {@link #changeLimits} came to. */
  public sealed interface LimitsChange {
    /** The instance's cgroup has the new limits now; it runs on. */
    record InPlace() implements LimitsChange {}

    /** The kernel cannot give this running instance the new limits, for the reason given: only a new one can have them. */
    record NotInPlace(String why) implements LimitsChange {}
  }

  /**
   * Gives a running instance the limits of {@code next} ({@code memory_limit}, {@code pids_limit}, {@code
   * cpu_weight}, and memory accounting for {@code memory_recycle}) by writing its cgroup's files, where the kernel
   * allows: not when its cgroup lacks a controller they need (v1: it started without such a limit), not when
   * {@code memory_limit} would be below the memory it uses now (the kernel would reclaim, then OOM-kill), not
   * where Berth has no cgroups. The caller then replaces the instance. Once in place, the caller should {@link
   * Instance#reconfigure} it. Runs the file I/O on a virtual thread; completes there.
   */
  public CompletableFuture<LimitsChange> changeLimits(Instance instance, App next) {
    CompletableFuture<LimitsChange> out = new CompletableFuture<>();
    Thread.ofVirtual().name("berth-limits-" + instance.launched().name() + "-i" + instance.id()).start(() -> {
      try {
        out.complete(changeLimitsNow(instance, next));
      } catch (RuntimeException e) {
        out.complete(new LimitsChange.NotInPlace(String.valueOf(e.getMessage())));
      }
    });
    return out;
  }

  private LimitsChange changeLimitsNow(Instance instance, App next) {
    Tree tree = instance.tree;
    if (tree == null || instance.pid() <= 0 || instance.stopping()) return new LimitsChange.NotInPlace("it is not running");
    if (!(tree instanceof Tree.OfCgroup(Cgroup cg))) {
      return next.limited()
          ? new LimitsChange.NotInPlace("memory_limit, memory_recycle, pids_limit and cpu_weight need cgroups, which Berth cannot use here: " + noCgroupsBecause)
          : new LimitsChange.InPlace();
    }
    CgroupSystem system = cgroups.orElseThrow();
    Limits limits = limits(next);
    List<String> missing = system.missing(cg, limits);
    if (!missing.isEmpty()) {
      return new LimitsChange.NotInPlace("its cgroup has no " + String.join(", ", missing) + " controller (it started without such a limit, and cgroup v1 cannot add one to running processes)");
    }
    if (limits.memoryMax() > 0) {
      long used = cg.memoryBytes();
      if (used >= limits.memoryMax()) {
        return new LimitsChange.NotInPlace("memory_limit " + Sizes.format(limits.memoryMax()) + " is below the " + approx(used) + " it uses now");
      }
    }
    try {
      system.apply(cg, limits);
      return new LimitsChange.InPlace();
    } catch (IOException e) {
      return new LimitsChange.NotInPlace(e.getMessage());
    }
  }

  /** 47185920 becomes "45.0M": for messages about memory in use, which is rarely a round number. */
  static String approx(long bytes) {
    if (bytes < 1024 * 1024) return (bytes + 1023) / 1024 + "K";
    return String.format(java.util.Locale.ROOT, "%.1fM", bytes / 1048576.0);
  }

  /**
   * Polls until the instance is up: a socket listens on its port (asked of the kernel through sock_diag, which
   * costs no connection and no exception; where netlink is missing, a TCP connect), that socket is held by one of
   * the instance's own processes, and, with {@code ready_path}, that path answers. Every 1% of the time waited
   * so far, from 0.25 ms up to 50 ms.
   */
  private void awaitReady(Instance instance) {
    App app = instance.launched();
    Instant t0 = Instant.now();
    Instant deadline = t0.plus(app.startTimeout());
    var address = instance.address();
    Instant foreignSince = null; // when a socket of another process was first seen on the port
    // looked up now, while the app boots, so that the check once it listens is only a comparison
    if (instance.tree instanceof Tree.OfCgroup(Cgroup cg)) cg.id();
    while (true) {
      if (instance.ready.isDone() || instance.stopping()) return; // its end decided already
      List<SockDiag.Listening> listening = listening(instance.port(), address);
      String squatter = listening.isEmpty() ? null : foreignListener(instance, listening);
      if (squatter != null) {
        instance.answering.complete(instance); // held requests may connect; nothing is sent before it is ready
        Instant now = Instant.now();
        if (foreignSince == null) {
          foreignSince = now;
          instance.note(squatter + " for now; it waits up to " + Durations.format(SQUAT_GRACE) + " for that process to let go");
        } else if (!now.isBefore(foreignSince.plus(SQUAT_GRACE))) {
          fail(instance, instance.failure(StartFailure.Step.WAIT_READY, squatter));
          LOG.warn("{}: refused to route: {}", instance, squatter);
          stop(instance, "its port is held by another process");
          return;
        }
      } else if (!listening.isEmpty()) {
        instance.answering.complete(instance);
        if (app.readyPath() == null || Probe.answers(address, app.readyPath(), Duration.between(Instant.now(), deadline))) {
          if (instance.moveTo(new Instance.Ready(Instant.now()))) {
            instance.readyNanos = System.nanoTime(); // before ready completes: whoever it wakes sees the mark
            Duration took = Duration.between(t0, Instant.now());
            instance.ready.complete(instance); // first: held requests go on while we write the log lines
            instance.note("ready: answered on port " + instance.port() + " after " + Instance.ms(took) + " (pid " + instance.pid() + ")");
            LOG.info("{} ready after {}", instance, Instance.ms(took));
          } else {
            fail(instance, instance.failure(StartFailure.Step.WAIT_READY, "was stopped before it answered"));
          }
          return;
        }
      }
      Instant now = Instant.now();
      if (!now.isBefore(deadline)) {
        fail(instance, instance.failure(StartFailure.Step.WAIT_READY,
            "did not answer on port " + instance.port() + " within start_timeout " + Durations.format(app.startTimeout())));
        stop(instance, "start_timeout");
        return;
      }
      Duration pause = Duration.between(t0, now).dividedBy(100);
      if (pause.compareTo(MIN_POLL) < 0) pause = MIN_POLL;
      if (pause.compareTo(MAX_POLL) > 0) pause = MAX_POLL;
      if (foreignSince != null && pause.compareTo(SQUAT_POLL) < 0) pause = SQUAT_POLL; // each look searches all of /proc
      if (pause.compareTo(Duration.between(now, deadline)) > 0) pause = Duration.between(now, deadline);
      try {
        Thread.sleep(pause); // an exit is noticed by the waiting thread, which ends the start
      } catch (InterruptedException e) {
        fail(instance, instance.failure(StartFailure.Step.WAIT_READY, "start interrupted"));
        return;
      }
    }
  }

  /** The sockets listening on {@code port}; empty while nothing listens. */
  private static List<SockDiag.Listening> listening(int port, InetSocketAddress address) {
    if (Listeners.NETLINK) return Listeners.socketsOn(port);
    if (!Probe.answers(address, null, Duration.ofSeconds(1))) return List.of();
    List<SockDiag.Listening> fromProc = Listeners.socketsOn(port);
    return fromProc.isEmpty() ? List.of(UNSEEN) : fromProc; // it answers, though /proc does not show who
  }

  /** A socket that answers on the port though the kernel's tables do not show it. */
  private static final SockDiag.Listening UNSEEN = new SockDiag.Listening(-1, 0);

  /**
   * Null if a socket listening on the instance's port belongs to one of its own processes; else why not. A
   * tenant could otherwise bind another app's port while that app is down and receive its traffic. Only a
   * cgroup proves a process is not the instance's: with session tracking, a child that called setsid is still
   * the app's own, so nothing is refused there.
   *
   * <p>Where the kernel names the cgroup each socket was created in, a socket created in the instance's own
   * cgroup settles it at once (no process of any other cgroup can create one there); otherwise the descriptors
   * of the instance's processes are searched for it, the leader's first, which took 0.5 to 2.7 ms of every cold
   * start.
   */
  private static String foreignListener(Instance instance, List<SockDiag.Listening> listening) {
    Tree tree = instance.tree;
    if (!tree.tracksDaemons()) return null;
    long own = tree instanceof Tree.OfCgroup(Cgroup cg) ? cg.id() : 0;
    Set<Long> inodes = new java.util.HashSet<>();
    for (SockDiag.Listening l : listening) {
      if (l == UNSEEN || (own > 0 && l.cgroup() == own)) return null;
      inodes.add(l.inode());
    }
    int leader = instance.pid();
    if (Listeners.holds(leader, inodes)) return null;
    for (int pid : tree.members()) {
      if (pid != leader && Listeners.holds(pid, inodes)) return null;
    }
    int holder = Listeners.holder(inodes);
    return "found its port " + instance.port() + " answered by a process outside this instance ("
        + (holder > 0 ? "pid " + holder + describe(holder) : "pid not visible") + "), so Berth will not route to it";
  }

  /**
   * The leader exited. With a cgroup, the instance lives on while its cgroup has processes (a daemonizing
   * server); it ends when the cgroup empties. Without one, what the leader left in its session is stopped.
   */
  private void onLeaderExit(Instance instance, Exit exit) {
    Tree tree = instance.tree;
    // a daemonizing server: the parent exits 0 and leaves its children serving in the instance's cgroup
    if (!instance.stopping() && exit.code() == 0 && tree.tracksDaemons() && !tree.members().isEmpty()) {
      instance.note("leader " + exit + "; " + tree.members().size() + " process(es) of it still run: the instance goes on");
      ((Tree.OfCgroup) tree).cgroup().empty().thenRun(() -> Thread.ofVirtual().start(() -> ended(instance, exit)));
      return;
    }
    ended(instance, exit);
  }

  /** No leader any more, and (with a cgroup) no process either, unless asked to stop: report, clean up, finish. */
  private void ended(Instance instance, Exit exit) {
    boolean wasReady = instance.state() instanceof Instance.Ready;
    if (instance.beginStop("ended: " + exit) < 0) return; // stop() reports and finishes
    String why = reason(instance, exit);
    instance.endReason(why);
    awaitOutput(instance);
    if (wasReady) {
      instance.note("exited unexpectedly: " + why);
      LOG.warn("{} exited unexpectedly: {}", instance, why);
    } else {
      fail(instance, instance.failure(StartFailure.Step.WAIT_READY, why + " before answering on port " + instance.port()));
    }
    terminate(instance, instance.app().stopSignal().number(), instance.app().stopTimeout());
    finish(instance, exit);
  }

  /** " python3 app.py" for a pid, from /proc, for messages. */
  private static String describe(int pid) {
    try {
      String cmd = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ').strip();
      return cmd.isEmpty() ? "" : ": " + (cmd.length() > 80 ? cmd.substring(0, 80) + "..." : cmd);
    } catch (IOException e) {
      return "";
    }
  }

  /** How the instance ended, in words: an OOM kill is named as such, not as "killed by signal 9". */
  private static String reason(Instance instance, Exit exit) {
    Tree tree = instance.tree;
    if (tree != null && tree.oomKills() > 0) {
      instance.oomKilled(true);
      return "killed: out of memory (memory_limit " + Sizes.format(instance.app().memoryLimit()) + ")";
    }
    String launch = Launcher.meaning(exit.code(), instance.launched().launch().directory(), instance.account);
    if (launch != null && (tree instanceof Tree.OfCgroup || instance.account != null)) return launch + " (" + exit + ")";
    return exit.toString();
  }

  private static void awaitOutput(Instance instance) {
    try {
      instance.outputClosed.get(OUTPUT_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // a process still holds the pipe; report what we have
    }
  }

  /**
   * Signals the whole tree and its leader, waits up to {@code timeout} until the leader has exited and no process
   * remains, then SIGKILLs what is left. The leader is signalled by pid as well: it may not have entered its
   * cgroup yet when a stop comes right after the spawn.
   */
  private void terminate(Instance instance, int signal, Duration timeout) {
    Tree tree = instance.tree;
    int pid = instance.pid();
    if (tree == null || pid <= 0) return;
    signal(instance, tree, signal);
    if (!awaitEnd(instance, tree, timeout)) {
      List<Integer> left = tree.members();
      instance.note("still running after stop_timeout " + Durations.format(timeout) + ": SIGKILL to " + left.size() + " process(es) " + left);
      Instant killDeadline = Instant.now().plus(KILL_GRACE);
      do {
        signal(instance, tree, Posix.SIGKILL);
        tree.killAll();
      } while (!awaitEnd(instance, tree, Duration.ofMillis(100)) && Instant.now().isBefore(killDeadline));
      left = tree.members();
      if (!left.isEmpty() || !instance.leaderExit.isDone()) {
        instance.note("processes " + left + " survived SIGKILL for " + Durations.format(KILL_GRACE));
        LOG.error("{}: processes {} survived SIGKILL (leader exited: {})", instance, left, instance.leaderExit.isDone());
      }
    }
  }

  /** Each process of the tree once, and the leader by pid if it is not (yet) in the tree. */
  private static void signal(Instance instance, Tree tree, int signal) {
    List<Integer> signalled = tree.signalAll(signal);
    if (!instance.leaderExit.isDone() && !signalled.contains(instance.pid())) Posix.kill(instance.pid(), signal);
  }

  /** Waits until the leader has exited and the tree is empty; false at the deadline. */
  private static boolean awaitEnd(Instance instance, Tree tree, Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    try {
      instance.leaderExit.get(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    return tree.awaitEmpty(Duration.between(Instant.now(), deadline));
  }

  private void finish(Instance instance, Exit exit) {
    Tree tree = instance.tree;
    if (tree != null) {
      instance.finalCpuNanos = tree.cpuNanos(); // the cgroup's account goes with it: read it last, for metering
      tree.release();
    }
    instance.moveTo(new Instance.Gone(Instant.now(), exit));
    fail(instance, instance.failure(StartFailure.Step.WAIT_READY, "was stopped before it answered"));
    gone(instance, exit);
  }

  private void failBeforeSpawn(Instance instance, String reason) {
    fail(instance, instance.failure(StartFailure.Step.SPAWN, reason));
    instance.moveTo(new Instance.Gone(Instant.now(), new Exit(-1, 0)));
    gone(instance, new Exit(-1, 0));
  }

  /** The port goes back to the range before anyone waiting on {@link Instance#gone()} hears of it. */
  private void gone(Instance instance, Exit exit) {
    int p = instance.port(); // the one it ended with: the start thread may have traded the first one
    if (p > 0) ports.release(p);
    instance.gone.complete(exit);
  }

  private static void fail(Instance instance, StartFailure failure) {
    instance.answering.completeExceptionally(new StartFailedException(failure));
    if (instance.ready.completeExceptionally(new StartFailedException(failure))) {
      instance.note("start failed: " + failure.reason());
      LOG.warn("{} did not start: {}", instance, failure.reason());
    }
  }

  /**
   * Copies the instance's output into the app's log until every writer has closed the pipe. Whole lines go to
   * the log as they come; a partial line waits for its end (up to 16 KiB, then it is written as a line of its
   * own), so memory stays bounded however fast or oddly the app writes.
   */
  private static void pump(Instance instance, int fd) {
    try (InputStream in = new FileInputStream("/proc/self/fd/" + fd)) {
      Posix.close(fd);
      byte[] buf = new byte[64 * 1024 + 1]; // + 1: room for the newline that ends a cut line
      int have = 0;
      int n;
      while ((n = in.read(buf, have, buf.length - 1 - have)) > 0) {
        have += n;
        int lastNewline = have - 1;
        while (lastNewline >= 0 && buf[lastNewline] != '\n') lastNewline--;
        if (lastNewline >= 0) {
          instance.outputLines(buf, 0, lastNewline + 1);
          System.arraycopy(buf, lastNewline + 1, buf, 0, have - lastNewline - 1);
          have -= lastNewline + 1;
        } else if (have >= 16 * 1024) { // a very long line: cut it
          buf[have++] = '\n';
          instance.outputLines(buf, 0, have);
          have = 0;
        }
        if (in.available() == 0) instance.flushLog();
      }
      if (have > 0) {
        buf[have++] = '\n';
        instance.outputLines(buf, 0, have);
      }
      instance.flushLog();
    } catch (IOException e) {
      instance.note("output pipe failed: " + e.getMessage());
    } finally {
      instance.outputClosed.complete(null);
    }
  }

  /**
   * A clean environment: PATH, the user's HOME, USER and LOGNAME, LANG and TZ if Berth has them, the app's own
   * {@code env}, then PORT and HOST. Nothing else of Berth's environment.
   */
  static List<String> environment(Map<String, String> appEnv, int port, Account as) {
    Map<String, String> env = new LinkedHashMap<>();
    String path = System.getenv("PATH");
    env.put("PATH", path != null && !path.isBlank() ? path : "/usr/local/bin:/usr/bin:/bin");
    env.put("HOME", as.home());
    env.put("USER", as.name());
    env.put("LOGNAME", as.name());
    for (String k : List.of("LANG", "TZ")) {
      String v = System.getenv(k);
      if (v != null) env.put(k, v);
    }
    env.putAll(appEnv);
    env.put("PORT", Integer.toString(port));
    env.put("HOST", HOST);
    List<String> out = new ArrayList<>(env.size());
    env.forEach((k, v) -> out.add(k + "=" + v));
    return out;
  }
}
