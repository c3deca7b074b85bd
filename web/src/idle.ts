// The idle lock: the page asks the server for new messages on its own, so
// the server's idle limit alone would never end a session left open on a
// shared computer. The page therefore ends it itself after the server's
// limit (`session_idle_ms`) without a key, click or touch of its user,
// forgetting the keys with the session.

const ACTIVITY = ["keydown", "pointerdown", "wheel", "touchstart"] as const;
const CHECK_MS = 5000;

export class IdleLock {
  private last = Date.now();
  private timer: number | undefined;
  private readonly touch = () => {
    this.last = Date.now();
  };

  constructor(private readonly limitMs: number, private readonly lock: () => void) {
    for (const kind of ACTIVITY) window.addEventListener(kind, this.touch, { passive: true, capture: true });
    this.timer = window.setInterval(() => {
      if (Date.now() - this.last >= this.limitMs) {
        this.stop();
        this.lock();
      }
    }, Math.min(CHECK_MS, this.limitMs));
  }

  stop(): void {
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.timer = undefined;
    for (const kind of ACTIVITY) window.removeEventListener(kind, this.touch, { capture: true });
  }
}
