/**
 * Passive health of upstreams: one that refuses or resets connections is skipped for a while, longer
 * each time it fails again, and is back in rotation as soon as it answers a request.
 */

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10_000;

interface Failing {
  failures: number;
  downUntil: number;
}

export class UpstreamHealth {
  private readonly failing = new Map<string, Failing>();

  isDown(address: string, now: number): boolean {
    const f = this.failing.get(address);
    return f !== undefined && now < f.downUntil;
  }

  markFailed(address: string, now: number): void {
    const f = this.failing.get(address) ?? { failures: 0, downUntil: 0 };
    f.failures++;
    f.downUntil = now + Math.min(FIRST_BACKOFF_MS * 2 ** (f.failures - 1), MAX_BACKOFF_MS);
    this.failing.set(address, f);
  }

  markAnswered(address: string): void {
    if (this.failing.size > 0) this.failing.delete(address);
  }
}
