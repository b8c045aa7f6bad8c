package berth.store;

import com.zaxxer.hikari.HikariDataSource;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * {@link Nodes} on the store's connection pool. Every time is the database's: {@code clock_timestamp()} on
 * PostgreSQL (the time of the statement, not of its transaction), {@code julianday('now')} on SQLite.
 */
final class SqlNodes implements Nodes {
  private final HikariDataSource pool;
  /** Milliseconds since the epoch, now, by the database's clock. */
  private final String now;
  private final Function<SQLException, StoreException> unavailable;
  private final Runnable reached;

  SqlNodes(HikariDataSource pool, boolean postgres, Function<SQLException, StoreException> unavailable, Runnable reached) {
    this.pool = pool;
    this.now = postgres ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)" : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    this.unavailable = unavailable;
    this.reached = reached;
  }

  @FunctionalInterface
  private interface Call<T> {
    T run(Connection c) throws SQLException;
  }

  private <T> T call(Call<T> call) {
    try (Connection c = pool.getConnection()) {
      T result = call.run(c);
      reached.run();
      return result;
    } catch (SQLException e) {
      throw unavailable.apply(e);
    }
  }

  @Override
  public Optional<Row> find(String name) {
    return call(c -> rows(c, " WHERE name = ?", name).stream().findFirst());
  }

  @Override
  public void register(String name, String address, int capacity, String incarnation) {
    call(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO nodes (name, address, capacity, incarnation, started_at, heartbeat_at, running) "
          + "VALUES (?, ?, ?, ?, " + now + ", " + now + ", '') ON CONFLICT (name) DO UPDATE SET address = excluded.address, "
          + "capacity = excluded.capacity, incarnation = excluded.incarnation, started_at = excluded.started_at, "
          + "heartbeat_at = excluded.heartbeat_at, running = excluded.running")) {
        ps.setString(1, name);
        ps.setString(2, address);
        ps.setInt(3, capacity);
        ps.setString(4, incarnation);
        ps.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public boolean heartbeat(String name, String incarnation, List<String> running) {
    return call(c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE nodes SET heartbeat_at = " + now + ", running = ? WHERE name = ? AND incarnation = ?")) {
        ps.setString(1, String.join(",", running));
        ps.setString(2, name);
        ps.setString(3, incarnation);
        return ps.executeUpdate() == 1;
      }
    });
  }

  @Override
  public List<Row> all() {
    return call(c -> rows(c, " ORDER BY name"));
  }

  private List<Row> rows(Connection c, String where, String... args) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT name, address, capacity, incarnation, started_at, " + now + " - heartbeat_at, running FROM nodes" + where)) {
      for (int i = 0; i < args.length; i++) ps.setString(i + 1, args[i]);
      try (ResultSet rs = ps.executeQuery()) {
        List<Row> out = new ArrayList<>();
        while (rs.next()) {
          String running = rs.getString(7);
          out.add(new Row(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getString(4), rs.getLong(5), Duration.ofMillis(Math.max(0, rs.getLong(6))),
              running.isEmpty() ? List.of() : Arrays.asList(running.split(","))));
        }
        return out;
      }
    }
  }

  @Override
  public void leave(String name, String incarnation) {
    call(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM nodes WHERE name = ? AND incarnation = ?")) {
        ps.setString(1, name);
        ps.setString(2, incarnation);
        return ps.executeUpdate();
      }
    });
  }

  @Override
  public int forget(Duration age) {
    return call(c -> {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM nodes WHERE " + now + " - heartbeat_at > ?")) {
        ps.setLong(1, age.toMillis());
        return ps.executeUpdate();
      }
    });
  }

  @Override
  public String secret() {
    return call(c -> {
      byte[] random = new byte[24];
      new SecureRandom().nextBytes(random);
      // the first node's secret stays: a second one racing it inserts nothing
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO cluster (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING")) {
        ps.setString(1, HexFormat.of().formatHex(random));
        ps.executeUpdate();
      }
      try (PreparedStatement ps = c.prepareStatement("SELECT secret FROM cluster WHERE id = 1"); ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) throw new SQLException("the cluster row is missing");
        return rs.getString(1);
      }
    });
  }
}
