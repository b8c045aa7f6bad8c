package berth.users;

/** A Unix user as an app runs as it: ids, home, and the group it runs with (its primary one unless the app names another). */
public record Account(String name, int uid, int gid, String home) {
  public boolean root() {
    return uid == 0;
  }
}
