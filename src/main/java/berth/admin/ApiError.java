package berth.admin;

import berth.config.ConfigException;
import berth.pool.NoSuchApp;
import berth.pool.Unavailable;
import berth.store.StoreException;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An error answer of the admin API, and the one place that maps a failure to a status code. Every error body
 * has the same shape, so a client needs one parser:
 *
 * <pre>
 * {"error": {"status": 422, "message": "...", "problems": [{"path": "idle_timeout", "reason": "..."}]}}
 * </pre>
 *
 * {@code problems} is present when the request named keys that are wrong (one entry per key); {@code
 * current_version} when the app changed since the client read it (412).
 *
 * @param currentVersion the app's version for 409/412 answers about versions, else -1
 */
record ApiError(int status, String message, List<Problem> problems, long currentVersion) {
  private static final Logger LOG = LoggerFactory.getLogger(ApiError.class);

  /** One wrong key: its path within the app ({@code idle_timeout}, {@code env.PORT}, {@code domains[1]}). */
  record Problem(String path, String reason) {}

  ApiError {
    problems = List.copyOf(problems);
  }

  ApiError(int status, String message) {
    this(status, message, List.of(), -1);
  }

  /** What a failure of a handler means to the client. */
  static ApiError of(Throwable failure) {
    Throwable e = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    return switch (e) {
      case Failure f -> f.error();
      case StoreException.NotFound nf -> new ApiError(404, nf.getMessage());
      case NoSuchApp nf -> new ApiError(404, nf.getMessage());
      case Unavailable u -> new ApiError(503, u.getMessage());
      case StoreException.VersionMismatch vm -> new ApiError(412, vm.getMessage(), List.of(), vm.current());
      case StoreException.Conflict c -> new ApiError(409, c.getMessage(), List.of(new Problem(c.field(), c.getMessage())), -1);
      case StoreException.Unavailable u -> new ApiError(503, "the database is unavailable, nothing was changed: " + u.getMessage());
      case StoreException s -> new ApiError(500, s.getMessage());
      case ConfigException c -> invalid(c);
      default -> {
        LOG.error("admin API: unexpected failure", e);
        yield new ApiError(500, "internal error: " + e);
      }
    };
  }

  /**
   * 422 with one problem per line of {@code e}, each line being {@code path: reason} (see {@link
   * ConfigException}), the path being the key's within the body ({@code idle_timeout}, {@code domains[1]}).
   */
  static ApiError invalid(ConfigException e) {
    List<Problem> problems = new ArrayList<>();
    for (String line : e.getMessage().split("\n")) {
      int colon = line.indexOf(": ");
      String path = colon < 0 ? "" : line.substring(0, colon);
      String reason = colon < 0 ? line : line.substring(colon + 2);
      if (path.contains(" ")) { // not a key path but prose that happens to contain ": "
        path = "";
        reason = line;
      }
      problems.add(new Problem(path, reason));
    }
    String message = problems.size() == 1 ? e.getMessage() : problems.size() + " problems: " + e.getMessage().replace("\n", "; ");
    return new ApiError(422, message, problems, -1);
  }

  ObjectNode toJson() {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    ObjectNode error = root.putObject("error");
    error.put("status", status);
    error.put("message", message);
    if (!problems.isEmpty()) {
      var list = error.putArray("problems");
      for (Problem p : problems) list.addObject().put("path", p.path()).put("reason", p.reason());
    }
    if (currentVersion >= 0) error.put("current_version", currentVersion);
    return root;
  }

  /** Thrown by a handler to answer with this error. */
  static final class Failure extends RuntimeException {
    private final ApiError error;

    Failure(ApiError error) {
      super(error.message(), null, false, false);
      this.error = error;
    }

    Failure(int status, String message) {
      this(new ApiError(status, message));
    }

    ApiError error() {
      return error;
    }
  }
}
