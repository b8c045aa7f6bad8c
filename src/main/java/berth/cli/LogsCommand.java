package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code berth logs APP [-f]}: an app's recent log lines, and with {@code -f} every new one as it is written. The
 * log is the app's, not an instance's: following goes on across restarts, recycles and crashes of its instances.
 * If the stream breaks (Berth restarted, say), {@code -f} reconnects every second and resumes after the last line
 * it printed ({@code Last-Event-ID}), like {@code tail -F}, until Ctrl-C.
 */
@Command(name = "logs", mixinStandardHelpOptions = true,
    description = {"Print an app's recent log lines: its instances' output and Berth's lines about them.",
        "With -f, keep printing new lines as they are written, across restarts of its instances and of Berth, until Ctrl-C."},
    footerHeading = "%nExamples:%n",
    footer = {"  berth logs blog", "  berth logs blog -n 200 -f", "  berth logs blog -f --json | jq -r .line"})
final class LogsCommand implements Callable<Integer> {
  /** How long -f waits between attempts to reconnect. */
  static final long RECONNECT_MS = 1000;

  @Mixin ClientOptions client;

  @Parameters(paramLabel = "APP", description = "The app.")
  String app;

  @Option(names = {"-f", "--follow"}, description = "Keep printing new lines as they are written.")
  boolean follow;

  /** The id of the last line printed: where a new stream resumes. */
  private String lastId;

  @Option(names = {"-n", "--lines"}, paramLabel = "N", defaultValue = "50", description = "How many recent lines first, 0 to 200 (default ${DEFAULT-VALUE}).")
  int lines;

  @Override
  public Integer call() throws IOException, InterruptedException {
    AdminClient api = AdminClient.from(client);
    String path = AdminClient.path(app) + "/logs?lines=" + lines;
    if (!follow) {
      JsonNode body = api.get(path).body();
      if (client.json) return Output.json(body);
      for (JsonNode line : body.path("lines")) System.out.println(line.asText());
      return ExitCode.OK;
    }
    boolean connected = false;
    boolean waiting = false;
    while (true) {
      try {
        // found again on every attempt: a Berth started anew may listen elsewhere (its admin.url says where)
        if (waiting) api = AdminClient.from(client);
        try (InputStream in = api.stream(path + "&follow=true", lastId);
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
          if (waiting) System.err.println("berth: reconnected");
          connected = true;
          waiting = false;
          read(r);
        }
      } catch (CliFailure e) {
        // the first connection's failure is the answer; later, only Berth being away is worth waiting for
        if (!connected || e.exitCode() != ExitCode.UNREACHABLE) throw e;
      } catch (IOException e) {
        // the stream broke: reconnect below
      }
      if (!waiting) System.err.println("berth: the log stream ended (Berth stopped or restarted?); reconnecting every second, Ctrl-C to stop");
      waiting = true;
      Thread.sleep(RECONNECT_MS);
    }
  }

  /**
   * Prints the events of one stream until it ends: "id: ID" then "data: LINE" per line; lines starting with ':' are
   * comments (keep-alives, drop notices). Remembers the id of each line printed.
   */
  private void read(BufferedReader r) throws IOException {
    String id = null;
    for (String line; (line = r.readLine()) != null; ) {
      if (line.startsWith("id: ")) {
        id = line.substring(4);
      } else if (line.startsWith("data: ")) {
        String text = line.substring(6);
        System.out.println(client.json ? AdminClient.JSON.createObjectNode().put("line", text).toString() : text);
        if (id != null) lastId = id;
      } else if (line.contains("dropped")) {
        System.err.println("berth:" + line.substring(1));
      }
    }
  }
}
