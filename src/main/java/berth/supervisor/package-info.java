/**
 * How one instance runs: spawn with {@code $PORT}, readiness when a socket of its own listens on its port, output to the app's log, stop of
 * the whole process tree. Blocking code on threads of its own (see {@link berth.supervisor.Supervisor}); callers
 * get futures. The only native calls of Berth are in {@link berth.supervisor.Posix}.
 */
package berth.supervisor;
