package berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code berth cluster status}: the nodes of the cluster as this node sees them, and which apps run where. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
    description = "The cluster of Berth nodes sharing the database (node config: cluster = true).",
    subcommands = {ClusterCommand.Status.class})
final class ClusterCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = {"Show the nodes as the node asked sees them (live, suspected, gone; address, capacity, last heartbeat, apps running),",
          "and each app's owner nodes and the nodes it runs on. Any node can be asked; a node cut off from the database says so."},
      footerHeading = "%nExamples:%n",
      footer = {"  berth cluster status", "  berth cluster status --json | jq '.apps[] | select(.running_on == [])'"})
  static final class Status implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Override
    public Integer call() {
      AdminClient api = AdminClient.from(client);
      JsonNode c = api.get("/v1/cluster").body();
      if (client.json) return Output.json(c);
      if (!c.path("enabled").asBoolean()) {
        System.out.println(c.path("message").asText("this Berth runs alone"));
        return ExitCode.OK;
      }
      JsonNode db = c.path("database");
      System.out.println("Cluster seen from " + c.path("node").asText() + " at " + api.base() + ": database "
          + (db.path("up").asBoolean() ? "up" : "DOWN since " + db.path("since").asText() + " (" + db.path("problem").asText() + ")")
          + ", heartbeat every " + c.path("heartbeat_interval").asText() + ", gone after " + c.path("heartbeat_timeout").asText());
      if (c.has("cut_off_since")) {
        System.out.println("CUT OFF from the database since " + c.path("cut_off_since").asText() + ": serving with the placement it had ("
            + c.path("cut_off_reason").asText() + ")");
      }
      Table nodes = new Table("NODE", "STATE", "ADDRESS", "CAPACITY", "HEARTBEAT", "RUNNING");
      for (JsonNode n : c.path("nodes")) {
        nodes.row(n.path("name").asText() + (n.path("self").asBoolean() ? " *" : ""), n.path("state").asText(), n.path("address").asText(),
            n.path("capacity").asInt(), n.path("self").asBoolean() ? "-" : n.path("heartbeat_age_ms").asLong() + " ms ago", Output.list(n.path("running")));
      }
      nodes.print(System.out);
      System.out.println();
      Table apps = new Table("APP", "NODES", "OWNERS", "RUNNING ON");
      for (JsonNode a : c.path("apps")) {
        apps.row(a.path("name").asText(), a.path("nodes").asInt(), Output.list(a.path("owners")), a.path("running_on").isEmpty() ? "-" : Output.list(a.path("running_on")));
      }
      apps.print(System.out);
      return ExitCode.OK;
    }
  }
}
