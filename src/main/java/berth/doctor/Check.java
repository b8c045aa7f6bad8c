package berth.doctor;

/**
 * One finding of {@code berth doctor}: a topic ({@code ports}, {@code clock}...), how it stands, what was found and,
 * unless it is fine, what to do.
 *
 * @param topic a short word, the same for every finding about one thing
 * @param status {@link Status#FAIL} stops Berth from running well here; {@link Status#WARN} works with less
 * @param finding what is so, in plain words, naming the path, port or key concerned
 * @param fix what to do about it; empty when there is nothing to do
 */
public record Check(String topic, Status status, String finding, String fix) {
  /** How a finding stands; only {@link #FAIL} makes the machine not ready. */
  public enum Status { OK, WARN, FAIL, SKIP }

  static Check ok(String topic, String finding) {
    return new Check(topic, Status.OK, finding, "");
  }

  static Check warn(String topic, String finding, String fix) {
    return new Check(topic, Status.WARN, finding, fix);
  }

  static Check fail(String topic, String finding, String fix) {
    return new Check(topic, Status.FAIL, finding, fix);
  }

  static Check skip(String topic, String why) {
    return new Check(topic, Status.SKIP, why, "");
  }
}
