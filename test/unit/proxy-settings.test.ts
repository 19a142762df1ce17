import { expect } from 'chai';
import {
  DEFAULT_PROXY_SETTINGS,
  effectiveProxySettings,
  parseProxyValue,
  PROXY_KEY_NAMES,
  ProxySettingError,
  proxyReport,
  proxySettingSchema,
} from '../../src/proxy-settings.js';

const issueOf = (key: string, value: string) => {
  const parsed = proxySettingSchema.safeParse({ key, value });
  return parsed.success ? undefined : parsed.error.issues[0]!.message;
};

describe('proxy settings', () => {
  it('the defaults are those the documentation names', () => {
    expect(DEFAULT_PROXY_SETTINGS).to.deep.equal({
      connectTimeoutMs: 5000,
      responseTimeoutMs: 30_000,
      idleTimeoutMs: 65_000,
      maxBodyBytes: 100 * 1024 ** 2,
      maxHeaderBytes: 16 * 1024,
      httpsOnly: false,
      hsts: false,
      hstsMaxAgeSec: 31_536_000,
      loadBalancing: 'round-robin',
      accessLog: true,
    });
  });

  it('durations take seconds or a unit; sizes take bytes or k, m, g', () => {
    expect(parseProxyValue('response-timeout', '45')).to.equal(45_000);
    expect(parseProxyValue('response-timeout', '1.5s')).to.equal(1500);
    expect(parseProxyValue('connect-timeout', '250ms')).to.equal(250);
    expect(parseProxyValue('idle-timeout', '2m')).to.equal(120_000);
    expect(parseProxyValue('max-body-size', '512k')).to.equal(512 * 1024);
    expect(parseProxyValue('max-body-size', '10MB')).to.equal(10 * 1024 ** 2);
    expect(parseProxyValue('max-body-size', '0')).to.equal(0);
    expect(parseProxyValue('max-header-size', '64k')).to.equal(64 * 1024);
    expect(parseProxyValue('https-only', 'on')).to.equal(true);
    expect(parseProxyValue('load-balancing', 'least-connections')).to.equal('least-connections');
  });

  it('a bad value is refused with the key, the value and the rule', () => {
    expect(issueOf('response-timeout', 'soon')).to.equal('response-timeout "soon" is not a duration from 0.1s to 3600s, in seconds or with a unit ms, s, m or h (e.g. 30, 30s, 500ms, 2m)');
    expect(issueOf('connect-timeout', '10ms')).to.include('connect-timeout "10ms" is not a duration from 0.1s');
    expect(issueOf('max-header-size', '128k')).to.include('max-header-size "128k" is not a size from 1k to 64k');
    expect(issueOf('load-balancing', 'random')).to.equal('load-balancing "random" is not one of: round-robin, least-connections');
    expect(issueOf('hsts', 'maybe')).to.equal('hsts "maybe" is not true or false');
    expect(() => parseProxyValue('max-body-size', '-1')).to.throw(ProxySettingError);
  });

  it('an unknown key is refused with the list of keys', () => {
    expect(issueOf('timeout', '5')).to.equal(`"timeout" is not a proxy setting; the settings are: ${PROXY_KEY_NAMES.join(', ')}, and --global type`);
    // Not a key of the object's prototype either.
    expect(issueOf('constructor', '5')).to.match(/^"constructor" is not a proxy setting/);
  });

  it('the data plane is refused as a per-app setting, naming the global one', () => {
    expect(issueOf('type', 'nginx')).to.equal('type is a global setting, the data plane serving every app: pier proxy:set --global type builtin|nginx (or PUT /api/proxy/type)');
  });

  it("an app's value wins over the global one, which wins over the default", () => {
    const s = effectiveProxySettings({ 'response-timeout': '1' }, { 'response-timeout': '2', 'max-body-size': '1m' });
    expect(s.responseTimeoutMs).to.equal(1000);
    expect(s.maxBodyBytes).to.equal(1024 ** 2);
    expect(s.connectTimeoutMs).to.equal(5000);
  });

  it('a stored value that no longer parses falls back to the next level', () => {
    expect(effectiveProxySettings({ 'response-timeout': 'bogus' }, { 'response-timeout': '7' }).responseTimeoutMs).to.equal(7000);
    expect(effectiveProxySettings({}, { 'load-balancing': 'bogus' }).loadBalancing).to.equal('round-robin');
  });

  it('the report names where each value comes from', () => {
    const report = proxyReport({ 'max-body-size': '1m' }, { 'max-body-size': '2m', 'idle-timeout': '10s' }, 'builtin');
    expect(report.map((r) => r.key)).to.deep.equal([...PROXY_KEY_NAMES, 'type']);
    expect(report.find((r) => r.key === 'max-body-size')).to.include({ value: '1m', source: 'app' });
    expect(report.find((r) => r.key === 'idle-timeout')).to.include({ value: '10s', source: 'global' });
    expect(report.find((r) => r.key === 'connect-timeout')).to.include({ value: '5s', source: 'default' });
    // The data plane is global: the default until switched.
    expect(report.at(-1)).to.include({ key: 'type', value: 'builtin', source: 'default' });
    expect(proxyReport({}, {}, 'nginx').at(-1)).to.include({ key: 'type', value: 'nginx', source: 'global' });
  });
});
