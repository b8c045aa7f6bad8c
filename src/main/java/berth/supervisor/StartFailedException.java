package berth.supervisor;

/** Completes {@link Instance#ready()} when the instance never answered; carries the {@link StartFailure}. */
public final class StartFailedException extends RuntimeException {
  private final StartFailure failure;

  public StartFailedException(StartFailure failure) {
    super(failure.app() + ": " + failure.reason(), null, false, false);
    this.failure = failure;
  }

  public StartFailure failure() {
    return failure;
  }
}
