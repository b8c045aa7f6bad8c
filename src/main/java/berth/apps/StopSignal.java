package berth.apps;

import java.util.Locale;

/** The signals an app may ask to be stopped with ({@code stop_signal}), with their Linux numbers. */
public enum StopSignal {
  TERM(15), INT(2), QUIT(3), HUP(1), KILL(9), USR1(10), USR2(12), WINCH(28);

  private final int number;

  StopSignal(int number) {
    this.number = number;
  }

  public int number() {
    return number;
  }

  /** Reads {@code TERM}, {@code term} or {@code SIGTERM}. */
  public static StopSignal parse(String text) {
    String t = text.strip().toUpperCase(Locale.ROOT);
    if (t.startsWith("SIG")) t = t.substring(3);
    for (StopSignal s : values()) {
      if (s.name().equals(t)) return s;
    }
    throw new IllegalArgumentException('"' + text + "\" is not a signal (expected one of TERM, INT, QUIT, HUP, KILL, USR1, USR2, WINCH)");
  }
}
