/**
 * Per-app Unix accounts: look them up (through libc, so NSS sources count too), create missing system users when
 * the node allows it. Blocking; call from supervisor threads. Imports nothing of Berth.
 */
package berth.users;
