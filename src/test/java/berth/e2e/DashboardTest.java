package berth.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import berth.testing.AdminHttp;
import berth.testing.BerthFixture;
import berth.testing.Http;
import java.io.File;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: headless Chromium from Debian's packages ({@code chromium}, {@code
 * chromium-driver}), driven by Selenium. It signs in with the admin token, shows an app's state change when a
 * request starts it, and a restart clicked on its page brings a new instance, which the instances table and the live
 * log show. Screenshots go to {@code target/dashboard-*.png}. Without Chromium the test is skipped, saying why.
 */
class DashboardTest {
  /** Where Debian puts them; BERTH_CHROMIUM and BERTH_CHROMEDRIVER say otherwise. */
  private static final Path CHROMIUM = Path.of(System.getenv().getOrDefault("BERTH_CHROMIUM", "/usr/bin/chromium"));
  private static final Path CHROMEDRIVER = Path.of(System.getenv().getOrDefault("BERTH_CHROMEDRIVER", "/usr/bin/chromedriver"));

  @TempDir Path dir;

  @Test
  void anAppStartsAndRestartsUnderTheOperatorsEyes() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "skipped: no headless Chromium to drive (" + CHROMIUM + " or " + CHROMEDRIVER + " is missing; apt-get install chromium chromium-driver, "
            + "as .ci/run does, or set BERTH_CHROMIUM and BERTH_CHROMEDRIVER)");
    try (BerthFixture b = BerthFixture.start(dir, """
        [apps.web]
        domains = ["web.test"]
        command = "@APP@"
        directory = "app"

        [apps.docs]
        domains = ["docs.test"]
        command = "@APP@"
        directory = "app"
        """, Map.of("sample_interval", "500ms"))) {
      AdminHttp admin = new AdminHttp(dir.resolve("data"));
      // the files themselves: public, from the jar, with a policy that lets nothing else run
      HttpResponse<String> page = Http.send(HttpRequest.newBuilder(admin.base.resolve("/dashboard/")).GET().build());
      assertThat(page.statusCode()).isEqualTo(200);
      assertThat(page.headers().firstValue("Content-Security-Policy").orElse("")).contains("script-src 'self'").contains("frame-ancestors 'none'");
      assertThat(Http.send(HttpRequest.newBuilder(admin.base.resolve("/")).GET().build()).statusCode()).as("/ redirects").isIn(200, 302);

      ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingPort(ephemeralPort()).build();
      ChromeOptions options = new ChromeOptions();
      options.setBinary(CHROMIUM.toFile());
      options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100",
          "--user-data-dir=" + dir.resolve("chromium"), "--no-first-run", "--disable-extensions");
      options.setCapability("goog:loggingPrefs", Map.of(LogType.BROWSER, "ALL"));
      WebDriver browser = new ChromeDriver(service, options);
      try {
        // the page redraws its tables every 2 s: an element found may be replaced before it is read, so look again
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));
        wait.ignoring(StaleElementReferenceException.class);
        Function<By, String> text = by -> wait.until(d -> d.findElement(by).getText());
        browser.get(admin.base.resolve("/dashboard/").toString());

        // a wrong token is refused, the right one opens the app list
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("token"))).sendKeys("not-the-token");
        browser.findElement(By.cssSelector("#login-form button")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("login-error"), "refused"));
        browser.findElement(By.id("token")).sendKeys(admin.token);
        browser.findElement(By.cssSelector("#login-form button")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#apps-table tr[data-app=web]")));
        assertThat(text.apply(By.cssSelector("#apps-table tr[data-app=web]"))).contains("web").contains("stopped").contains("web.test");
        assertThat(text.apply(By.cssSelector("#apps-table tr[data-app=docs]"))).contains("stopped");

        // a request starts the app: the list shows it running, and its sparkline counts the requests
        for (int i = 0; i < 5; i++) assertThat(Http.get(b.port(), "web.test", "/echo").statusCode()).isEqualTo(200);
        wait.until(d -> d.findElement(By.cssSelector("#apps-table tr[data-app=web]")).getText().contains("running"));
        wait.until(d -> d.findElement(By.cssSelector("#apps-table tr[data-app=web] svg")).getDomAttribute("aria-label").startsWith("5 requests"));
        screenshot(browser, "dashboard-apps.png");

        // its page: the instance, the cold start, the live log
        wait.until(d -> {
          d.findElement(By.linkText("web")).click();
          return true;
        });
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#instances-table tr[data-instance='1'][data-state=ready]")));
        assertThat(text.apply(By.id("app-state"))).isEqualTo("running");
        assertThat(text.apply(By.cssSelector("#instances-table tr[data-instance='1']"))).contains("i1").contains("serving").contains("MiB");
        wait.until(d -> d.findElement(By.cssSelector("#cold-table tbody")).getText().contains("i1"));
        assertThat(text.apply(By.id("cold-summary"))).contains("1 since Berth started");
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("log"), "i1 berth| ready"));

        // the restart button: a new instance takes over, the table and the log say so
        browser.findElement(By.cssSelector(".actions button[data-action=restart]")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("action-status"), "restarted: i2 ready"));
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#instances-table tr[data-instance='2'][data-role=serving][data-state=ready]")));
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("log"), "i2 berth| ready"));
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("log"), "i1 berth| stopped"));
        wait.until(d -> d.findElements(By.cssSelector("#instances-table tr[data-instance='1']")).isEmpty());
        wait.until(d -> d.findElement(By.id("app-counts")).getText().contains("starts\n2"));
        screenshot(browser, "dashboard-app.png");

        // stop: no instance left, and the page says the next request starts one
        browser.findElement(By.cssSelector(".actions button[data-action=stop]")).click();
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("action-status"), "stopped"));
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("instances-empty")));
        assertThat(b.berth.pool().instances("web")).isEmpty();

        List<LogEntry> errors = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
            .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
            .filter(e -> !e.getMessage().contains("401")) // the wrong token, on purpose
            .toList();
        assertThat(errors).as("errors in the browser's console (a blocked script or style would show here)").isEmpty();
      } catch (RuntimeException | AssertionError e) {
        screenshot(browser, "dashboard-failure.png");
        throw e;
      } finally {
        browser.quit();
        service.stop();
      }
    }
  }

  private static void screenshot(WebDriver browser, String name) throws Exception {
    File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
    Path target = Path.of("target", name);
    Files.createDirectories(target.getParent());
    Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
    System.out.println("dashboard screenshot: " + target.toAbsolutePath());
  }

  /**
   * A port the kernel picks from its ephemeral range: Selenium's own choice is a random port below that range,
   * which may fall in the app port ranges of the tests (TestPorts) and be taken for a squatter there.
   */
  private static int ephemeralPort() throws java.io.IOException {
    try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
