package berth.cli;

import berth.Berth;
import berth.config.ConfigException;
import berth.config.NodeConfig;
import berth.systemd.SdNotify;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code berth serve}: runs Berth in the foreground until SIGTERM or SIGINT, then stops gracefully (drain, stop
 * every instance, exit 0). Exit 2 on invalid configuration, 1 if it cannot start. SIGHUP reloads the node config
 * file's apps files ({@link Berth#reload}). Under systemd ({@code NOTIFY_SOCKET} set) it says when it is ready,
 * reloading and stopping ({@link SdNotify}).
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = {"Run Berth: route requests to the apps, starting them on demand.",
    "SIGTERM or SIGINT: drain, stop every app, exit 0. SIGHUP: read the node config again and apply its apps files (other keys need a restart).",
    "Under systemd (Type=notify) it reports ready, reloading and stopping through NOTIFY_SOCKET."})
final class ServeCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

  @Mixin
  NodeFlags flags = new NodeFlags();

  private final Optional<SdNotify> systemd = SdNotify.fromEnvironment();

  @Override
  public Integer call() {
    Berth berth;
    ObjectNode given = flags.asConfig();
    try {
      NodeConfig config = NodeConfig.load(flags.config(), given);
      berth = Berth.start(config);
    } catch (ConfigException e) {
      System.err.println("berth: invalid configuration:\n  " + e.getMessage().replace("\n", "\n  "));
      notify(n -> n.status("invalid configuration: " + e.getMessage()));
      return 2;
    } catch (RuntimeException e) {
      System.err.println("berth: cannot start: " + e.getMessage());
      LOG.debug("start failure", e);
      notify(n -> n.status("cannot start: " + e.getMessage()));
      return 1;
    }
    notify(n -> n.ready(status(berth)));
    CountDownLatch done = new CountDownLatch(1);
    Runnable stop = () -> {
      notify(n -> n.stopping("draining requests, then stopping every app"));
      berth.stop().whenComplete((v, e) -> done.countDown());
    };
    Signals.onTerminate(stop);
    Signals.onReload(() -> reload(berth, given));
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  /**
   * Reads the node config file again with the same flags over it, and applies what may change live. A bad file
   * changes nothing: the log says why and Berth goes on as it was.
   */
  private void reload(Berth berth, ObjectNode given) {
    notify(n -> n.reloading("reloading " + (flags.config() == null ? "the apps files" : flags.config())));
    try {
      Berth.Reload r = berth.reload(NodeConfig.load(flags.config(), given));
      LOG.info("reloaded: the apps files' {} apps applied{}", r.apps(),
          r.needRestart().isEmpty() ? "" : "; changed but only a restart applies them: " + String.join(", ", r.needRestart()));
    } catch (ConfigException e) {
      LOG.error("reload refused, nothing changed: invalid configuration:\n  {}", e.getMessage().replace("\n", "\n  "));
    } catch (RuntimeException e) {
      LOG.error("reload failed, nothing changed: {}", e.getMessage(), e);
    }
    notify(n -> n.ready(status(berth)));
  }

  private static String status(Berth berth) {
    return "serving " + berth.store().catalog().apps().size() + " apps on port " + berth.port()
        + berth.tlsPort().stream().mapToObj(p -> " and TLS port " + p).findFirst().orElse("") + "; admin port " + berth.adminPort();
  }

  private interface Notification {
    void send(SdNotify n) throws IOException;
  }

  private void notify(Notification what) {
    systemd.ifPresent(n -> {
      try {
        what.send(n);
      } catch (IOException e) {
        LOG.warn("could not notify systemd: {}", e.getMessage());
      }
    });
  }
}
