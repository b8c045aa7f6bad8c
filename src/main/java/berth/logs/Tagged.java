package berth.logs;

/**
 * Something Berth's own log lines are about: an app, and maybe one of its instances. When such an object is an
 * argument of a log line ({@code LOG.info("{} ready", instance)}), the JSON log format ({@link JsonLayout}) adds
 * {@code "app"} and {@code "instance"} fields, so lines about one app can be selected without parsing messages.
 */
public interface Tagged {
  /** The app's name. */
  String appName();

  /** The instance's number within the app, 0 when the line is about the app as a whole. */
  default int instanceId() {
    return 0;
  }
}
