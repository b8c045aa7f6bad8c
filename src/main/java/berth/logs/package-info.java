/** Per-app log files (rotated) and their last lines in memory. Thread-safe writers. Imports nothing of Berth. */
package berth.logs;
