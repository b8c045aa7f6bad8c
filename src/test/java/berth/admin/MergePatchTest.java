package berth.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The test cases of RFC 7396, Appendix A, one per row: target, patch, result. */
class MergePatchTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      {"a":"b"}                 | {"a":"c"}                  | {"a":"c"}
      {"a":"b"}                 | {"b":"c"}                  | {"a":"b","b":"c"}
      {"a":"b"}                 | {"a":null}                 | {}
      {"a":"b","b":"c"}         | {"a":null}                 | {"b":"c"}
      {"a":["b"]}               | {"a":"c"}                  | {"a":"c"}
      {"a":"c"}                 | {"a":["b"]}                | {"a":["b"]}
      {"a":{"b":"c"}}           | {"a":{"b":"d","c":null}}   | {"a":{"b":"d"}}
      {"a":[{"b":"c"}]}         | {"a":[1]}                  | {"a":[1]}
      ["a","b"]                 | ["c","d"]                  | ["c","d"]
      {"a":"b"}                 | ["c"]                      | ["c"]
      {"a":"foo"}               | null                       | null
      {"a":"foo"}               | "bar"                      | "bar"
      {"e":null}                | {"a":1}                    | {"e":null,"a":1}
      [1,2]                     | {"a":"b","c":null}         | {"a":"b"}
      {}                        | {"a":{"bb":{"ccc":null}}}  | {"a":{"bb":{}}}
      """)
  void rfc7396Examples(String target, String patch, String result) throws Exception {
    JsonNode t = JSON.readTree(target);
    JsonNode before = t.deepCopy();
    assertThat(MergePatch.apply(t, JSON.readTree(patch))).isEqualTo(JSON.readTree(result));
    assertThat(t).as("the target is left as it was").isEqualTo(before);
  }
}
