package berth.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real Berth as its own OS process ({@code berth.Main serve}, on the JDK and classpath of the tests), for
 * what an in-JVM Berth cannot show: memory bounds, signals, exit codes, leftovers after exit.
 */
public final class BerthProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("router listening on [^ ]+:(\\d+), admin on [^ ]+:(\\d+), TLS (?:on [^ ]+:(\\d+)|off)");
  public final Process process;
  public final Path output;
  public final int port;
  public final int adminPort;
  /** The TLS listener's port, or -1 when it is off. */
  public final int tlsPort;

  private BerthProcess(Process process, Path output, int port, int adminPort, int tlsPort) {
    this.process = process;
    this.output = output;
    this.port = port;
    this.adminPort = adminPort;
    this.tlsPort = tlsPort;
  }

  /** {@code berth ARGS...} as a command line: the tests' JDK and classpath, with {@code jvmOptions}. */
  public static List<String> commandLine(List<String> jvmOptions, String... args) {
    String java = ProcessHandle.current().info().command().orElseThrow();
    List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "berth.Main"));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** Starts {@code serve} with the apps file {@code apps} and the given JVM options; waits until it listens. */
  public static BerthProcess start(Path dir, Path apps, List<String> jvmOptions, String... serveArgs) throws IOException {
    return startWith(List.of(), dir, apps, jvmOptions, TestPorts.range(1), "berth-test-" + ProcessHandle.current().pid() + "-sub", serveArgs);
  }

  /** As {@link #start(Path, Path, List, String...)}, the command line run by {@code wrapper} (e.g. a shell that joins a cgroup first). */
  public static BerthProcess start(List<String> wrapper, Path dir, Path apps, List<String> jvmOptions, String... serveArgs) throws IOException {
    return startWith(wrapper, dir, apps, jvmOptions, TestPorts.range(1), "berth-test-" + ProcessHandle.current().pid() + "-sub", serveArgs);
  }

  /**
   * As {@link #start(List, Path, Path, List, String...)}, with the app ports and the cgroup name given: Berths
   * running at the same time (the nodes of a cluster) need their own of both.
   */
  public static BerthProcess startWith(List<String> wrapper, Path dir, Path apps, List<String> jvmOptions, String ports, String cgroup,
      String... serveArgs) throws IOException {
    List<String> cmd = new ArrayList<>(wrapper);
    cmd.addAll(commandLine(jvmOptions, "serve",
        "--apps", apps.toString(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
        "--data", dir.resolve("data").toString(), "--ports", ports));
    cmd.addAll(List.of("--cgroup", cgroup));
    if (!List.of(serveArgs).contains("--tls-listen")) cmd.addAll(List.of("--tls-listen", "127.0.0.1:0"));
    cmd.addAll(List.of(serveArgs));
    Path output = dir.resolve("berth.out");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
    while (Instant.now().isBefore(deadline)) {
      Matcher m = LISTENING.matcher(Files.readString(output));
      if (m.find()) {
        return new BerthProcess(p, output, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
            m.group(3) == null ? -1 : Integer.parseInt(m.group(3)));
      }
      if (!p.isAlive()) break;
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    p.destroyForcibly();
    throw new IllegalStateException("Berth did not start:\n" + Files.readString(output));
  }

  public String output() {
    try {
      return Files.readString(output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sends SIGTERM (Process.destroy does exactly that on Linux). */
  public void terminate() {
    process.destroy();
  }

  /** Stops Berth as an operator would (SIGTERM, so it stops its instances), SIGKILL only if it hangs. */
  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process.destroyForcibly();
      try {
        process.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
