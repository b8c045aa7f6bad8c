package berth.router;

import io.netty.channel.EventLoop;
import java.util.concurrent.TimeUnit;

/**
 * One event loop's HTTP/1 client connections, checked for idleness (header, body and keep-alive timeouts) by one
 * repeating timer, rather than a timer and a pipeline handler per connection. Confined to the loop's thread: a
 * connection joins when it becomes active and leaves when it closes or turns into HTTP/2.
 */
final class IdleSweep {
  private final EventLoop loop;
  private final long periodNanos;
  private Front first;
  private boolean scheduled;

  IdleSweep(EventLoop loop, long periodNanos) {
    this.loop = loop;
    this.periodNanos = periodNanos;
  }

  void add(Front f) {
    if (f.sweptBy != null) return;
    f.sweptBy = this;
    f.sweepNext = first;
    if (first != null) first.sweepPrev = f;
    first = f;
    if (!scheduled) {
      scheduled = true;
      loop.scheduleAtFixedRate(this::sweep, periodNanos, periodNanos, TimeUnit.NANOSECONDS);
    }
  }

  void remove(Front f) {
    if (f.sweptBy != this) return;
    if (f.sweepPrev != null) f.sweepPrev.sweepNext = f.sweepNext;
    else first = f.sweepNext;
    if (f.sweepNext != null) f.sweepNext.sweepPrev = f.sweepPrev;
    f.sweepPrev = f.sweepNext = null;
    f.sweptBy = null;
  }

  private void sweep() {
    long now = System.nanoTime();
    for (Front f = first; f != null; ) {
      Front next = f.sweepNext; // f may close and leave during its check
      f.checkIdle(now);
      f = next;
    }
  }
}
