/**
 * {@code berth doctor}: what Berth needs of the machine it runs on, checked and told in plain words with what to
 * do about it ({@link berth.doctor.Doctor}). Reads the machine ({@code /proc}, {@code /sys/fs/cgroup}, sockets,
 * the database) and changes nothing on it. Imports config (the node config it checks against), cgroup (the
 * hierarchies as Berth sees them), users and apps (accounts and apps files, read as {@code serve} would).
 */
package berth.doctor;
