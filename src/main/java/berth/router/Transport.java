package berth.router;

import berth.config.RouterConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * The kernel interface under the router's event loops, chosen once at start ({@code router.transport}).
 *
 * <p>io_uring is the default where the kernel allows it: a loop's reads, writes, accepts and closes go to the
 * kernel in one submission per pass instead of one system call each, and an accepted socket needs none of
 * epoll's registration calls (add, then modify for reading, then delete before the close). On the proxy
 * benchmark that is about a quarter less CPU per request. epoll where io_uring is refused (an old kernel,
 * {@code kernel.io_uring_disabled}, a container's seccomp profile); Java's selector (NIO) elsewhere.
 *
 * @param reusePort the option that lets every event loop bind its own socket on the listening port (the kernel
 *     spreads connections among them); null: one socket, one loop accepting for all
 * @param deferAccept the option ({@code TCP_DEFER_ACCEPT}) by which the kernel hands over a connection only once
 *     its client has sent something; null where there is none
 */
public record Transport(String name, IoHandlerFactory handlers, Class<? extends ServerChannel> serverChannel,
    Class<? extends Channel> socketChannel, ChannelOption<Boolean> reusePort, ChannelOption<Integer> deferAccept) {
  /** Writes queue up and reach the kernel together once per loop pass (io_uring), not one system call each. */
  public boolean submitsInBatches() {
    return name.equals("io_uring");
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Transport.class);

  /**
   * {@code wanted}, or (auto) the best one available; an unavailable explicit choice fails, saying why. Chosen before
   * anything else of a node starts, so that such a failure leaves nothing running.
   */
  public static Transport of(RouterConfig.Transport wanted) {
    return switch (wanted) {
      case AUTO -> {
        if (IoUring.isAvailable()) yield ioUring();
        LOG.info("io_uring is not available ({}): the router uses {}", reason(IoUring.unavailabilityCause()),
            Epoll.isAvailable() ? "epoll" : "nio");
        yield Epoll.isAvailable() ? epoll() : nio();
      }
      case IO_URING -> {
        if (!IoUring.isAvailable()) throw unavailable("io_uring", IoUring.unavailabilityCause());
        yield ioUring();
      }
      case EPOLL -> {
        if (!Epoll.isAvailable()) throw unavailable("epoll", Epoll.unavailabilityCause());
        yield epoll();
      }
      case NIO -> nio();
    };
  }

  private static Transport ioUring() {
    return new Transport("io_uring", IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class, IoUringSocketChannel.class,
        IoUringChannelOption.SO_REUSEPORT, IoUringChannelOption.TCP_DEFER_ACCEPT);
  }

  private static Transport epoll() {
    return new Transport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class,
        EpollChannelOption.SO_REUSEPORT, EpollChannelOption.TCP_DEFER_ACCEPT);
  }

  private static Transport nio() {
    return new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class, null, null);
  }

  private static IllegalStateException unavailable(String name, Throwable cause) {
    return new IllegalStateException("router.transport = \"" + name + "\" is not available here: " + reason(cause));
  }

  private static String reason(Throwable cause) {
    if (cause == null) return "unknown reason";
    Throwable root = cause;
    while (root.getCause() != null) root = root.getCause();
    return root == cause ? String.valueOf(cause.getMessage()) : cause.getMessage() + ": " + root.getMessage();
  }
}
