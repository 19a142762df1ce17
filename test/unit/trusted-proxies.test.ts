import { expect } from 'chai';
import { TrustedProxies, trustedProxyProblem } from '../../src/router/trusted-proxies.js';
import { UpstreamHealth } from '../../src/router/upstream-health.js';

describe('trusted proxies', () => {
  it('trusts nobody by default, loopback included', () => {
    const none = new TrustedProxies([]);
    expect(none.trusts('127.0.0.1')).to.equal(false);
    expect(none.trusts('::1')).to.equal(false);
  });

  it('matches single addresses and CIDR ranges of both families', () => {
    const t = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']);
    expect(t.trusts('10.20.30.40')).to.equal(true);
    expect(t.trusts('192.168.1.7')).to.equal(true);
    expect(t.trusts('192.168.1.8')).to.equal(false);
    expect(t.trusts('fd12::1')).to.equal(true);
    expect(t.trusts('::1')).to.equal(true);
    expect(t.trusts('2001:db8::1')).to.equal(false);
  });

  it('matches an IPv4 peer of a dual-stack listener (::ffff:a.b.c.d) against IPv4 ranges', () => {
    expect(new TrustedProxies(['127.0.0.1']).trusts('::ffff:127.0.0.1')).to.equal(true);
  });

  it('names what is wrong with an entry that is no IP or range', () => {
    expect(trustedProxyProblem('10.0.0.0/8')).to.equal(undefined);
    expect(trustedProxyProblem('lb.example.com')).to.match(/"lb\.example\.com" is not an IP address or CIDR range/);
    expect(trustedProxyProblem('10.0.0.0/33')).to.not.equal(undefined);
    expect(trustedProxyProblem('::1/129')).to.not.equal(undefined);
    expect(trustedProxyProblem('10.0.0.0/8/1')).to.not.equal(undefined);
    expect(trustedProxyProblem('10.0.0.0/x')).to.not.equal(undefined);
    expect(() => new TrustedProxies(['nope'])).to.throw(/"nope"/);
  });
});

describe('upstream health', () => {
  it('an upstream that failed is down for a second, longer after each new failure, up to 10 s', () => {
    const h = new UpstreamHealth();
    h.markFailed('a', 0);
    expect(h.isDown('a', 999)).to.equal(true);
    expect(h.isDown('a', 1000)).to.equal(false);
    h.markFailed('a', 1000);
    expect(h.isDown('a', 2999)).to.equal(true);
    for (let i = 0; i < 10; i++) h.markFailed('a', 5000);
    expect(h.isDown('a', 14_999)).to.equal(true);
    expect(h.isDown('a', 15_000)).to.equal(false);
  });

  it('an answer brings it back at once and resets its back-off', () => {
    const h = new UpstreamHealth();
    h.markFailed('a', 0);
    h.markFailed('a', 0);
    h.markAnswered('a');
    expect(h.isDown('a', 1)).to.equal(false);
    h.markFailed('a', 10);
    expect(h.isDown('a', 1011)).to.equal(false);
  });

  it('other upstreams are unaffected', () => {
    const h = new UpstreamHealth();
    h.markFailed('a', 0);
    expect(h.isDown('b', 1)).to.equal(false);
  });
});
