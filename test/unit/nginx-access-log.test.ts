import { expect } from 'chai';
import { createLogger } from '../../src/log.js';
import { AccessLog } from '../../src/router/access-log.js';
import { splitAccessLines } from '../../src/router/nginx/nginx-access-log.js';
import type { AccessLogBatch } from '../../src/state/event-store.js';

const RECORD = '2026-12-01T12:00:00.123Z {"host":"web.localhost","method":"GET","path":"/a?b=\\"1\\"","status":200,"bytes":312,"duration_ms":12,"upstream":"10.0.0.5:5000","request_id":"req-1"}\n';

/** Every call splitAccessLines makes, as strings. */
function split(chunk: string): { used: number; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const used = splitAccessLines(Buffer.from(chunk), (app, record) => lines.push([app, record.toString()]));
  return { used, lines };
}

describe('nginx access log file lines', () => {
  it('gives each line\'s app and its record (time, JSON line, newline) as nginx wrote them', () => {
    const { used, lines } = split(`web\t${RECORD}blog\t${RECORD}`);
    expect(lines).to.deep.equal([
      ['web', RECORD],
      ['blog', RECORD],
    ]);
    expect(used).to.equal(Buffer.byteLength(`web\t${RECORD}blog\t${RECORD}`));
  });

  it('leaves a line nginx is still writing for the next read, counting bytes, not characters', () => {
    const whole = `web\t${RECORD.replace('/a', '/é…')}`;
    const { used, lines } = split(`${whole}web\t2026-12-01T12:00:00.124Z {"host":"web.loc`);
    expect(lines).to.deep.equal([['web', whole.slice(4)]]);
    expect(used).to.equal(Buffer.byteLength(whole));
    expect(split('web\t2026-12-01T12:00').used).to.equal(0);
  });

  it('skips a line without an app (a server that sets none) or without a tab', () => {
    const { lines } = split(`\t${RECORD}no tab here\nweb\t${RECORD}`);
    expect(lines.map(([app]) => app)).to.deep.equal(['web']);
  });

  it('batches ready records into the app\'s log as the built-in router\'s lines, under the same cap', async () => {
    const written: AccessLogBatch[][] = [];
    const access = new AccessLog(async (batches) => void written.push(batches), createLogger('silent'), { flushMs: 10_000, batchLines: 3, maxQueued: 3 });
    const record = Buffer.from(RECORD);
    access.recordLine('web', record);
    access.recordLine('blog', record);
    access.record({ app: 'web', host: 'web.localhost', method: 'GET', path: '/', status: 200, bytes: 1, durationMs: 0, upstream: undefined, requestId: 'r' });
    // In flight: the cap holds the next three, the fourth is dropped.
    for (let i = 0; i < 4; i++) access.recordLine('web', record);
    await access.close();
    const lines = written.flat().flatMap(({ app, bytes, ends }) => ends.map((end, i) => [app, bytes.toString('utf8', i === 0 ? 0 : ends[i - 1], end)]));
    expect(lines.filter(([app]) => app === 'blog')).to.deep.equal([['blog', RECORD]]);
    expect(lines.filter(([app, line]) => app === 'web' && line === RECORD)).to.have.length(4);
    expect(lines).to.have.length(6);
  });
});
