package berth.cgroup;

/**
 * What one instance's cgroup may use; 0 means no limit of that kind.
 *
 * @param memoryMax bytes of memory (RAM plus swap where the kernel accounts it) before the kernel OOM-kills
 * @param pidsMax processes and threads
 * @param memoryAccounting whether memory use must be measured even without a limit (for {@code memory_recycle})
 * @param cpuWeight share of CPU under contention, 1 to 10000 (100 is the default share), as in cgroup v2; 0:
 *     no CPU group of its own
 */
public record Limits(long memoryMax, boolean memoryAccounting, int pidsMax, int cpuWeight) {
  public static final Limits NONE = new Limits(0, false, 0, 0);
}
