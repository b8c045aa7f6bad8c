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

/** {@code berth logs APP [-f]}: an app's recent log lines, and with {@code -f} every new one as it is written. */
@Command(name = "logs", mixinStandardHelpOptions = true,
    description = {"Print an app's recent log lines: its instances' output and Berth's lines about them.",
        "With -f, keep printing new lines as they are written, until Ctrl-C."},
    footerHeading = "%nExamples:%n",
    footer = {"  berth logs blog", "  berth logs blog -n 200 -f"})
final class LogsCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Parameters(paramLabel = "APP", description = "The app.")
  String app;

  @Option(names = {"-f", "--follow"}, description = "Keep printing new lines as they are written.")
  boolean follow;

  @Option(names = {"-n", "--lines"}, paramLabel = "N", defaultValue = "50", description = "How many recent lines first, 0 to 200 (default ${DEFAULT-VALUE}).")
  int lines;

  @Override
  public Integer call() throws IOException {
    AdminClient api = AdminClient.from(client);
    String path = AdminClient.path(app) + "/logs?lines=" + lines;
    if (!follow) {
      JsonNode body = api.get(path).body();
      if (client.json) return Output.json(body);
      for (JsonNode line : body.path("lines")) System.out.println(line.asText());
      return ExitCode.OK;
    }
    // server-sent events: "data: LINE" per line; lines starting with ':' are comments (keep-alives, drop notices)
    try (InputStream in = api.stream(path + "&follow=true");
         BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("data: ")) {
          String text = line.substring(6);
          System.out.println(client.json ? AdminClient.JSON.createObjectNode().put("line", text).toString() : text);
        } else if (line.contains("dropped")) {
          System.err.println("berth:" + line.substring(1));
        }
      }
    } catch (IOException e) {
      throw new CliFailure(ExitCode.UNREACHABLE, "lost the connection to Berth: " + e.getMessage());
    }
    System.err.println("berth: the log stream ended (Berth stopped)");
    return ExitCode.OK;
  }
}
