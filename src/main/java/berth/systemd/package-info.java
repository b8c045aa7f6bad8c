/**
 * Berth as a systemd service: {@link berth.systemd.SdNotify} tells the service manager when Berth is ready, reloading
 * or stopping ({@code Type=notify}). Imports nothing of Berth's; called from {@code cli.ServeCommand} on its own
 * thread. The unit file itself is {@code src/dist/systemd/berth.service}.
 */
package berth.systemd;
