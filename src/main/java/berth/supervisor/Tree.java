package berth.supervisor;

import berth.cgroup.Cgroup;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The processes of one instance, however Berth can see them: its cgroup (every descendant, even one that calls
 * {@code setsid} or double-forks) or, where cgroups are not available, its session (everything that stays in the
 * session the leader was started in). Blocking methods; call from supervisor threads.
 */
sealed interface Tree permits Tree.OfCgroup, Tree.OfSession {
  /** The cgroup.procs files the leader writes its own pid into before it runs any app code; none for a session. */
  List<java.nio.file.Path> joinFiles();

  /** Called once the leader is spawned. */
  void leader(int pid);

  List<Integer> members();

  /** Sends {@code signal} to every member; returns the members it signalled. */
  List<Integer> signalAll(int signal);

  /** SIGKILL to every member. */
  void killAll();

  /** Waits up to {@code timeout} until no member remains; true if none does. */
  boolean awaitEmpty(Duration timeout);

  /** Whether members can outlive the leader and still be this instance (a daemonizing server). */
  boolean tracksDaemons();

  /** Processes the kernel killed for want of memory. */
  long oomKills();

  /**
   * Memory used by the whole tree in bytes, -1 if unknown: what the kernel charges its cgroup when it has a memory
   * controller (v2, or a v1 memory cgroup, which an instance joins when it has a memory limit); else the sum of its
   * processes' resident memory (RSS; shared pages counted once per process).
   */
  long memoryBytes();

  /** CPU time used by the tree since it began (exited processes included), in nanoseconds; -1 if unknown. */
  long cpuNanos();

  /** Forget the tree (remove the cgroup); it must be empty. */
  void release();

  /** The instance's cgroup; see {@link Launcher} for how the leader enters it before any app code runs. */
  record OfCgroup(Cgroup cgroup) implements Tree {
    @Override
    public List<java.nio.file.Path> joinFiles() {
      return cgroup.procsFiles();
    }

    @Override
    public void leader(int pid) {}

    @Override
    public List<Integer> members() {
      return cgroup.pids();
    }

    @Override
    public List<Integer> signalAll(int signal) {
      List<Integer> pids = cgroup.pids();
      for (int pid : pids) Posix.kill(pid, signal);
      return pids;
    }

    @Override
    public void killAll() {
      if (cgroup.killAll()) return;
      // v1: no cgroup.kill; kill what is there until nothing is (a fork racing us is caught on the next pass)
      for (int pass = 0; pass < 100 && !cgroup.pids().isEmpty(); pass++) signalAll(Posix.SIGKILL);
    }

    @Override
    public boolean awaitEmpty(Duration timeout) {
      try {
        cgroup.empty().get(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
        return true;
      } catch (Exception e) {
        return !cgroup.populated();
      }
    }

    @Override
    public boolean tracksDaemons() {
      return true;
    }

    @Override
    public long oomKills() {
      return cgroup.oomKills();
    }

    @Override
    public long memoryBytes() {
      long charged = cgroup.memoryBytes();
      if (charged >= 0) return charged;
      try {
        return Session.residentBytes(cgroup.pids());
      } catch (IllegalStateException e) {
        return -1; // the cgroup is being removed (ENODEV): the instance is gone
      }
    }

    @Override
    public long cpuNanos() {
      return cgroup.cpuNanos();
    }

    @Override
    public void release() {
      cgroup.remove();
    }
  }

  /** Session tracking, for machines where Berth cannot use cgroups (see {@link Session}). */
  final class OfSession implements Tree {
    private volatile int sid;

    @Override
    public List<java.nio.file.Path> joinFiles() {
      return List.of();
    }

    @Override
    public void leader(int pid) {
      this.sid = pid;
    }

    @Override
    public List<Integer> members() {
      return sid > 0 ? Session.members(sid) : List.of();
    }

    @Override
    public List<Integer> signalAll(int signal) {
      return sid > 0 ? Session.signal(sid, signal) : List.of();
    }

    @Override
    public void killAll() {
      signalAll(Posix.SIGKILL);
    }

    @Override
    public boolean awaitEmpty(Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!members().isEmpty()) {
        if (System.nanoTime() >= deadline) return false;
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return members().isEmpty();
        }
      }
      return true;
    }

    @Override
    public boolean tracksDaemons() {
      return false;
    }

    @Override
    public long oomKills() {
      return 0;
    }

    @Override
    public long memoryBytes() {
      return sid > 0 ? Session.residentBytes(members()) : -1;
    }

    @Override
    public long cpuNanos() {
      return -1; // a session's processes that exited take their CPU time with them: only a cgroup keeps it
    }

    @Override
    public void release() {}
  }
}
