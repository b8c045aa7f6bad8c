package berth.doctor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Whether the kernel considers the system clock synchronized: {@code adjtimex(2)} with no change requested returns
 * the clock state, {@code TIME_ERROR} (5) while no time service (NTP: systemd-timesyncd, chrony, ntpd) keeps it in
 * step. The kernel's own word, whichever service is used, so nothing here asks a daemon. Through FFM, as the JDK
 * has no such call.
 */
final class KernelClock {
  static final int TIME_ERROR = 5;
  /** {@code struct timex} is 208 bytes on 64-bit Linux; more is allocated, zeroed ({@code modes = 0}: read only). */
  private static final long TIMEX_SIZE = 512;
  private static final MethodHandle ADJTIMEX = Linker.nativeLinker().downcallHandle(
      Linker.nativeLinker().defaultLookup().find("adjtimex").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));

  private KernelClock() {}

  /** The clock state ({@code TIME_OK} 0 ... {@code TIME_ERROR} 5), or -1 if the call failed. */
  static int state() {
    try (Arena arena = Arena.ofConfined()) {
      return (int) ADJTIMEX.invokeExact(arena.allocate(TIMEX_SIZE, 16));
    } catch (Throwable t) {
      return -1;
    }
  }
}
