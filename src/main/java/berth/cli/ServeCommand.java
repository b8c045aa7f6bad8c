package berth.cli;

import berth.Berth;
import berth.config.ConfigException;
import berth.config.NodeConfig;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code berth serve}: runs Berth in the foreground until SIGTERM or SIGINT, then stops gracefully (drain, stop
 * every instance, exit 0). Exit 2 on invalid configuration, 1 if it cannot start.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run Berth: route requests to the apps, starting them on demand.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

  @Mixin
  NodeFlags flags = new NodeFlags();

  @Override
  public Integer call() {
    Berth berth;
    try {
      NodeConfig config = NodeConfig.load(flags.config, flags.asConfig());
      berth = Berth.start(config);
    } catch (ConfigException e) {
      System.err.println("berth: invalid configuration:\n  " + e.getMessage().replace("\n", "\n  "));
      return 2;
    } catch (RuntimeException e) {
      System.err.println("berth: cannot start: " + e.getMessage());
      LOG.debug("start failure", e);
      return 1;
    }
    CountDownLatch done = new CountDownLatch(1);
    Runnable stop = () -> berth.stop().whenComplete((v, e) -> done.countDown());
    Signals.onTerminate(stop);
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }
}
