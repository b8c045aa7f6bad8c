/**
 * The command line (picocli): {@code serve} runs Berth in the foreground, {@code check} validates apps files, and
 * the client commands ({@code app}, {@code logs}, {@code status}, {@code apply}, {@code export}) talk to a running
 * Berth through its admin API over HTTP, finding it through its data directory. Plain blocking code on the main
 * thread. Imports the root package (to build Berth), apps and config (key definitions, apps files).
 */
package berth.cli;
