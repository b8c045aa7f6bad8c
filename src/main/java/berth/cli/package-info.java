/** The command line (picocli): {@code serve} runs Berth in the foreground; {@code check} validates apps files. */
package berth.cli;
