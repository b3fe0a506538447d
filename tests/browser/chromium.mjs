// Debian's Chromium as every browser test launches it: headless, in a profile of its own
// (`userDataDir`), trusting the server's self-signed development certificate.
import { chromium } from "playwright-core";

export function launchChromium(userDataDir, { viewport, timeout }) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.TICKSTREAM_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // As root, in a closed network: no sandbox, no GPU, nothing phoning home.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
    ignoreHTTPSErrors: true, // the server's self-signed development certificate
    viewport,
    timeout,
  });
}
