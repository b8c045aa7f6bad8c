package berth.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Which app responses pass as bytes, what the client then gets, and that everything else is decoded as before. */
class AppCodecTest {
  private final AppCodec codec = new AppCodec(new HttpDecoderConfig().setMaxHeaderSize(64 * 1024));
  private final EmbeddedChannel ch = new EmbeddedChannel(codec);
  private final List<Object> read = new ArrayList<>();

  @AfterEach
  void close() {
    read.forEach(ReferenceCountUtil::release);
    ch.finishAndReleaseAll();
  }

  private List<Object> feed(String... parts) {
    for (String part : parts) ch.writeInbound(Unpooled.copiedBuffer(part, StandardCharsets.ISO_8859_1));
    List<Object> out = new ArrayList<>();
    for (Object m; (m = ch.readInbound()) != null; ) out.add(m);
    read.addAll(out);
    return out;
  }

  private static String text(ByteBuf b) {
    return b.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void aPlainResponsePassesAsBytesWithoutItsHopByHopLines() {
    codec.expect(false, true);
    List<Object> out = feed("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
        + "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-App: yes\r\n\r\nhello world\n");
    assertThat(out).hasSize(1);
    AppCodec.RawHead raw = (AppCodec.RawHead) out.get(0);
    assertThat(raw.status).isEqualTo(200);
    assertThat(raw.close).isFalse();
    assertThat(raw.complete).isTrue();
    assertThat(raw.bodyLength).isEqualTo(12);
    assertThat(text(raw.content())).isEqualTo("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
        + "X-App: yes\r\n\r\nhello world\n");
  }

  @Test
  void connectionCloseIsLeftOutAndReported() {
    codec.expect(false, true);
    AppCodec.RawHead raw = (AppCodec.RawHead) feed("HTTP/1.1 404 Not Found\r\nconnection:  Close \r\ncontent-length: 0\r\n\r\n").get(0);
    assertThat(raw.close).isTrue();
    assertThat(raw.status).isEqualTo(404);
    assertThat(text(raw.content())).isEqualTo("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
  }

  @Test
  void aHeadSplitAcrossReadsWaitsForTheRestThenPasses() {
    codec.expect(false, true);
    assertThat(feed("HTTP/1.1 2", "00 OK\r\nContent-Le")).isEmpty();
    List<Object> out = feed("ngth: 3\r\n\r", "\nabc");
    assertThat(out).hasSize(1);
    assertThat(text(((AppCodec.RawHead) out.get(0)).content())).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  }

  @Test
  void aBodyThatIsNotAllThereFollowsInPartsThenTheEnd() {
    codec.expect(false, true);
    List<Object> out = feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123", "45678", "9HTTP/1.1 204 No Content\r\n\r\n");
    assertThat(out).hasSize(6);
    AppCodec.RawHead first = (AppCodec.RawHead) out.get(0);
    assertThat(first.complete).isFalse();
    assertThat(text(first.content())).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    assertThat(text((ByteBuf) out.get(1)) + text((ByteBuf) out.get(2)) + text((ByteBuf) out.get(3))).isEqualTo("0123456789");
    assertThat(out.get(4)).isSameAs(AppCodec.RAW_END);
    // the bytes after the body begin the next response (an app may not send one unasked; the codec still reads it right)
    AppCodec.RawHead next = (AppCodec.RawHead) out.get(5);
    assertThat(next.status).isEqualTo(204);
    assertThat(next.complete).isTrue();
  }

  @Test
  void theAnswerToHeadHasNoBodyWhateverItsLength() {
    codec.expect(true, true);
    AppCodec.RawHead raw = (AppCodec.RawHead) feed("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n").get(0);
    assertThat(raw.complete).isTrue();
    assertThat(raw.bodyLength).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", // chunked
      "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nContent-Length: 3\r\n\r\nabc", // names a header
      "HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 3\r\n\r\nabc", // obs-fold
      "HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 3\r\n\r\nabc", // bare CR
      "HTTP/1.1 200 OK\r\nX Bad: a\r\nContent-Length: 3\r\n\r\nabc", // not a token
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", // twice
      "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", // not digits
      "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", // HTTP/1.0
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", // interim first
  })
  void anythingElseIsDecodedAsHttpObjects(String response) {
    codec.expect(false, true);
    List<Object> out = feed(response);
    assertThat(out.get(0)).isInstanceOf(HttpResponse.class);
  }

  @Test
  void aResponseWithoutALengthIsDecodedToItsCloseAndTheNextMayPassAgain() {
    codec.expect(false, true);
    List<Object> out = feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    assertThat(out.get(0)).isInstanceOf(HttpResponse.class);
    assertThat(out.getLast()).isInstanceOf(LastHttpContent.class);
    assertThat(((HttpContent) out.get(1)).content().toString(StandardCharsets.US_ASCII)).isEqualTo("abc");
    assertThat(feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").get(0)).isInstanceOf(AppCodec.RawHead.class);
  }

  @Test
  void whenTheExchangeSaysNoEverythingIsDecoded() {
    codec.expect(false, false);
    assertThat(feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").get(0)).isInstanceOf(HttpResponse.class);
  }

  @Test
  void aDecodedAnswerToHeadHasNoBodyEither() {
    codec.expect(true, false);
    List<Object> out = feed("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
    assertThat(out).hasSize(2);
    assertThat(out.get(1)).isInstanceOf(LastHttpContent.class);
  }
}
