import { expect } from 'chai';
import { parseNginxAccessLine } from '../../src/router/nginx/nginx-access-log.js';

const TAG = 'pier_0123abcd';
const datagram = (json: string, tag = TAG) => `<190>Dec  1 10:49:08 ${tag}: ${json}`;
const line = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ app: 'web', host: 'web.localhost', method: 'GET', path: '/a?b=1', status: 200, bytes: 312, seconds: '0.012', upstream: '10.0.0.5:5000', request_id: 'req-1', ...over });

describe('nginx access log lines', () => {
  it('reads nginx\'s syslog datagram as the built-in router\'s request record', () => {
    expect(parseNginxAccessLine(datagram(line()), TAG)).to.deep.equal({
      app: 'web',
      host: 'web.localhost',
      method: 'GET',
      path: '/a?b=1',
      status: 200,
      bytes: 312,
      durationMs: 12,
      upstream: '10.0.0.5:5000',
      requestId: 'req-1',
    });
  });

  it('names the last instance tried, none when no instance answered, and no app for hosts nobody owns', () => {
    expect(parseNginxAccessLine(datagram(line({ upstream: '10.0.0.5:5000, 10.0.0.6:5000' })), TAG)!.upstream).to.equal('10.0.0.6:5000');
    expect(parseNginxAccessLine(datagram(line({ upstream: '' })), TAG)!.upstream).to.equal(undefined);
    expect(parseNginxAccessLine(datagram(line({ upstream: '-' })), TAG)!.upstream).to.equal(undefined);
    expect(parseNginxAccessLine(datagram(line({ app: '' })), TAG)!.app).to.equal(undefined);
  });

  it('ignores datagrams without the tag of this daemon\'s nginx, and lines it cannot read', () => {
    expect(parseNginxAccessLine(datagram(line(), 'pier_other'), TAG)).to.equal(undefined);
    expect(parseNginxAccessLine(datagram('{"app":"web","path":"/trunc'), TAG)).to.equal(undefined);
    expect(parseNginxAccessLine(datagram('{"status":"200"}'), TAG)).to.equal(undefined);
  });
});
