package berth.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table for people: columns as wide as their widest cell, two spaces apart, no borders. */
final class Table {
  private final List<String[]> rows = new ArrayList<>();
  private final boolean header;

  Table(String... headers) {
    this(true, headers);
  }

  private Table(boolean header, String[] first) {
    this.header = header;
    rows.add(first);
  }

  /** A table without a header line, e.g. key and value pairs. */
  static Table plain(int columns) {
    return new Table(false, new String[columns]);
  }

  Table row(Object... cells) {
    String[] r = new String[rows.getFirst().length];
    for (int i = 0; i < r.length; i++) r[i] = i < cells.length && cells[i] != null ? cells[i].toString() : "";
    rows.add(r);
    return this;
  }

  void print(PrintStream out) {
    int[] width = new int[rows.getFirst().length];
    List<String[]> shown = header ? rows : rows.subList(1, rows.size());
    for (String[] r : shown) for (int i = 0; i < r.length; i++) width[i] = Math.max(width[i], r[i].length());
    for (String[] r : shown) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < r.length; i++) {
        sb.append(r[i]);
        if (i < r.length - 1) sb.append(" ".repeat(width[i] - r[i].length() + 2));
      }
      out.println(sb.toString().stripTrailing());
    }
  }
}
