package berth.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/** The peak resident memory of a process, sampled from /proc every 20 ms until closed. */
public final class PeakRss implements AutoCloseable {
  private final AtomicLong peakKb = new AtomicLong();
  private final Thread sampler;

  public PeakRss(long pid) {
    Path status = Path.of("/proc/" + pid + "/status");
    sampler = Thread.ofVirtual().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) peakKb.accumulateAndGet(Long.parseLong(line.replaceAll("\\D", "")), Math::max);
          }
          Thread.sleep(20);
        } catch (Exception e) {
          return; // the process is gone, or we were stopped
        }
      }
    });
  }

  /** The highest RSS seen so far, in KiB. */
  public long peakKb() {
    return peakKb.get();
  }

  @Override
  public void close() {
    sampler.interrupt();
  }
}
