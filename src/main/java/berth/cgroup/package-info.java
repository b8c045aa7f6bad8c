/**
 * Tracking and limits through the kernel's cgroups: every process of an instance, whatever it forks or however
 * it daemonizes, is in the instance's cgroup, so Berth can count, limit, signal and kill exactly that set.
 * Works with cgroup v2, v1, and the hybrid of both (v2 for tracking, v1 controllers for limits). Blocking file
 * I/O on cgroupfs; call from supervisor threads, never from event loops. Imports nothing of Berth.
 */
package berth.cgroup;
