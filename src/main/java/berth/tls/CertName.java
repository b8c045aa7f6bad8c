package berth.tls;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What a pair of certificate files is for, read from their name: {@code example.com} (the files
 * {@code example.com.crt} and {@code example.com.key}), {@code _wildcard.example.com} for {@code *.example.com},
 * or {@code _default} for clients whose name no other certificate has (or who send none).
 *
 * @param stem the file name without {@code .crt}/{@code .key}, lower case
 * @param kind which of the three
 * @param host the name served: {@code example.com}, {@code *.example.com}, or null for the default
 */
public record CertName(String stem, Kind kind, String host) {
  public enum Kind { EXACT, WILDCARD, DEFAULT }

  static final String DEFAULT_STEM = "_default";
  static final String WILDCARD_PREFIX = "_wildcard.";
  private static final Pattern HOST = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

  /** The name a file stem stands for, or null if it is not one (the file is then ignored, with a warning). */
  static CertName ofStem(String fileStem) {
    String stem = fileStem.toLowerCase(Locale.ROOT);
    if (stem.equals(DEFAULT_STEM)) return new CertName(stem, Kind.DEFAULT, null);
    if (stem.startsWith(WILDCARD_PREFIX)) {
      String parent = stem.substring(WILDCARD_PREFIX.length());
      return HOST.matcher(parent).matches() && parent.contains(".") ? new CertName(stem, Kind.WILDCARD, "*." + parent) : null;
    }
    return HOST.matcher(stem).matches() ? new CertName(stem, Kind.EXACT, stem) : null;
  }

  /** Whether the certificate name {@code pattern} ({@code *.example.com}) covers {@code host} (one label deep). */
  static boolean wildcardCovers(String pattern, String host) {
    if (!pattern.startsWith("*.")) return false;
    int dot = host.indexOf('.');
    return dot > 0 && host.substring(dot + 1).equals(pattern.substring(2));
  }
}
