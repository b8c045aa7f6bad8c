package berth.pool;

import java.time.Instant;

/**
 * One instance of an app as the API lists it ({@link Pool#instances}): a snapshot, plain values only.
 *
 * @param id the instance's number within the app ({@code i3} in logs), unique for the life of this Berth
 * @param pid its leader's pid; 0 before it is spawned
 * @param port the port it was given as {@code $PORT}
 * @param state {@code starting}, {@code ready}, {@code stopping} or {@code gone}
 * @param role {@code serving} (takes requests), {@code starting} (to serve held requests, to scale out, or for
 *     {@code min_instances}), {@code replacement} (starting to take over from a serving instance, which serves
 *     meanwhile) or {@code retiring} (finishing its requests, then stopped)
 * @param since when it entered {@code state}
 * @param inFlight requests it is serving now
 * @param requests requests it has been given since it started
 * @param memoryBytes memory used by its whole process tree (its cgroup's charge, or its processes' RSS where it has no
 *     memory cgroup), null if unknown
 * @param upToDate whether it runs the app's current settings; false while a change waits for a replacement (or
 *     after a replacement failed: see {@link Change})
 */
public record InstanceStatus(int id, int pid, int port, String state, String role, Instant since, int inFlight,
    long requests, Long memoryBytes, boolean upToDate) {}
