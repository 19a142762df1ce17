/**
 * Fallback load generator, used when wrk is not installed: `connections` keep-alive loops for
 * `seconds`, in its own process. Prints one JSON line: { requests, seconds, bad, errors, p50Ms, p99Ms }.
 */
import http from 'node:http';

const [url = '', host = '', connectionsArg = '32', secondsArg = '5'] = process.argv.slice(2);
const connections = Number(connectionsArg);
const seconds = Number(secondsArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies: number[] = [];
let bad = 0;
let errors = 0;

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const start = performance.now();
const end = start + seconds * 1000;
async function loop(): Promise<void> {
  while (performance.now() < end) {
    const t = performance.now();
    try {
      const status = await once();
      if (status < 200 || status >= 400) bad++;
      latencies.push(performance.now() - t);
    } catch {
      errors++;
    }
  }
}
await Promise.all(Array.from({ length: connections }, loop));
const elapsed = (performance.now() - start) / 1000;
agent.destroy();
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
process.stdout.write(JSON.stringify({ requests: latencies.length, seconds: elapsed, bad, errors, p50Ms: pct(0.5), p99Ms: pct(0.99) }) + '\n');
