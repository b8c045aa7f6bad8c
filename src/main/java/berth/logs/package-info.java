/**
 * Per-app log files (rotated) and their last lines in memory; the format of Berth's own log (text or JSON lines,
 * {@link berth.logs.LogFormat}). Thread-safe writers. Imports nothing of Berth.
 */
package berth.logs;
