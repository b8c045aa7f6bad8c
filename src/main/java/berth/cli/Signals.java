package berth.cli;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT as a request to stop gracefully, SIGHUP as one to reload. The JVM's default would run shutdown hooks and exit 143
 * at once, without draining; a handler of our own lets Berth drain, stop its instances and exit 0.
 */
final class Signals {
  private Signals() {}

  @SuppressWarnings("restriction")
  static void onTerminate(Runnable stop) {
    Signal.handle(new Signal("TERM"), s -> stop.run());
    Signal.handle(new Signal("INT"), s -> stop.run());
  }

  /** SIGHUP as a request to reload (what {@code systemctl reload} sends through the unit's {@code ExecReload}). */
  @SuppressWarnings("restriction")
  static void onReload(Runnable reload) {
    Signal.handle(new Signal("HUP"), s -> reload.run());
  }
}
