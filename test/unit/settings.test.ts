import { expect } from 'chai';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../src/settings.js';

describe('settings', () => {
  it('an empty environment gives the documented defaults', () => {
    expect(loadSettings({})).to.deep.equal({
      apiPort: 7780,
      httpPort: 80,
      httpsPort: 443,
      domain: 'localhost',
      redisUrl: 'redis://127.0.0.1:6379',
      home: '/var/lib/pier',
      instance: 'pier',
      caBundle: '/etc/ssl/certs/ca-certificates.crt',
      stackImage: 'pier/stack:bookworm',
      buildConcurrency: os.availableParallelism(),
      buildTimeoutSec: 1800,
      keepReleases: 5,
      minFreeDiskMb: 1024,
      logLevel: 'info',
      trustedProxies: [],
      routerWorkers: 1,
      reposDir: '/var/lib/pier/repos',
      hooksDir: '/var/lib/pier/hooks',
      sourcesDir: '/var/lib/pier/sources',
      tokensDir: '/var/lib/pier/tokens',
      buildpackCacheDir: '/var/lib/pier/buildpacks',
    });
  });

  it('PIER_* variables override the defaults', () => {
    const s = loadSettings({
      PIER_API_PORT: '17780',
      PIER_HTTP_PORT: '8080',
      PIER_HTTPS_PORT: '8443',
      PIER_DOMAIN: 'apps.example.com',
      PIER_REDIS_URL: 'redis://10.0.0.5:6380/2',
      PIER_HOME: '/srv/pier',
      PIER_INSTANCE: 'pier-test',
      PIER_BUILD_CONCURRENCY: '4',
      PIER_LOG_LEVEL: 'debug',
    });
    expect(s).to.include({
      apiPort: 17780,
      httpPort: 8080,
      httpsPort: 8443,
      domain: 'apps.example.com',
      redisUrl: 'redis://10.0.0.5:6380/2',
      home: '/srv/pier',
      instance: 'pier-test',
      buildConcurrency: 4,
      logLevel: 'debug',
      reposDir: '/srv/pier/repos',
    });
  });

  it('PIER_ROUTER_WORKERS is a count of router processes, 1 to 64', () => {
    expect(loadSettings({ PIER_ROUTER_WORKERS: '4' }).routerWorkers).to.equal(4);
    expect(() => loadSettings({ PIER_ROUTER_WORKERS: '0' })).to.throw('Invalid Pier settings (PIER_ROUTER_WORKERS: at least 1)');
    expect(() => loadSettings({ PIER_ROUTER_WORKERS: '65' })).to.throw('PIER_ROUTER_WORKERS: at most 64');
  });

  it('REDIS_URL and DATABASE_URL belong to apps and do not change Pier\'s own settings', () => {
    expect(loadSettings({ REDIS_URL: 'redis://elsewhere:1/0', DATABASE_URL: 'postgres://x' }).redisUrl).to.equal('redis://127.0.0.1:6379');
  });

  it('the domain is lowercased so Host matching is case-insensitive', () => {
    expect(loadSettings({ PIER_DOMAIN: 'Apps.Example.COM' }).domain).to.equal('apps.example.com');
  });

  it('a relative PIER_HOME is made absolute', () => {
    expect(loadSettings({ PIER_HOME: 'data/pier' }).home).to.equal(path.resolve('data/pier'));
  });

  it('a port that is not a number gives an error naming the variable and where to fix it', () => {
    expect(() => loadSettings({ PIER_API_PORT: 'http' })).to.throw(/^Invalid Pier settings \(PIER_API_PORT: .*\)\. Fix them in \/etc\/pier\/pier\.env or the environment\.$/);
  });

  it('a port above 65535 gives an error naming the variable', () => {
    expect(() => loadSettings({ PIER_HTTP_PORT: '70000' })).to.throw(/PIER_HTTP_PORT: .*65535.*Fix them in \/etc\/pier\/pier\.env/);
  });

  it('a fractional or negative port is refused', () => {
    expect(() => loadSettings({ PIER_HTTP_PORT: '80.5' })).to.throw(/PIER_HTTP_PORT/);
    expect(() => loadSettings({ PIER_API_PORT: '-1' })).to.throw(/PIER_API_PORT/);
  });

  it('every invalid variable is named in one message', () => {
    expect(() => loadSettings({ PIER_API_PORT: 'x', PIER_LOG_LEVEL: 'loud', PIER_INSTANCE: 'Bad_Name' }))
      .to.throw(/PIER_API_PORT/)
      .and.to.match(/PIER_LOG_LEVEL/)
      .and.to.match(/PIER_INSTANCE: lowercase letters, digits and dashes/);
  });

  it('a domain with a slash or a space is refused with an example of a DNS name', () => {
    expect(() => loadSettings({ PIER_DOMAIN: 'example.com/apps' })).to.throw(/PIER_DOMAIN: a DNS name such as example\.com/);
    expect(() => loadSettings({ PIER_DOMAIN: 'my domain' })).to.throw(/PIER_DOMAIN/);
  });

  it('a Redis URL that is not a URL is refused', () => {
    expect(() => loadSettings({ PIER_REDIS_URL: '127.0.0.1:6379' })).to.throw(/PIER_REDIS_URL/);
  });

  it('a build concurrency outside 1..64 is refused', () => {
    expect(() => loadSettings({ PIER_BUILD_CONCURRENCY: '0' })).to.throw(/PIER_BUILD_CONCURRENCY/);
    expect(() => loadSettings({ PIER_BUILD_CONCURRENCY: '65' })).to.throw(/PIER_BUILD_CONCURRENCY/);
  });

  it('keeping no release image, or a negative free-disk floor, is refused', () => {
    expect(() => loadSettings({ PIER_KEEP_RELEASES: '0' })).to.throw(/PIER_KEEP_RELEASES: at least 1 \(the current release\)/);
    expect(() => loadSettings({ PIER_MIN_FREE_DISK_MB: '-5' })).to.throw(/PIER_MIN_FREE_DISK_MB: megabytes, 0 or more/);
    expect(loadSettings({ PIER_KEEP_RELEASES: '3', PIER_MIN_FREE_DISK_MB: '0' })).to.include({ keepReleases: 3, minFreeDiskMb: 0 });
  });

  it('trusted proxies are a comma-separated list of IPs and CIDR ranges', () => {
    expect(loadSettings({ PIER_TRUSTED_PROXIES: ' 10.0.0.0/8, ::1,192.168.1.7 ,' }).trustedProxies).to.deep.equal(['10.0.0.0/8', '::1', '192.168.1.7']);
  });

  it('a trusted proxy that is no IP or CIDR range is refused, naming the entry', () => {
    expect(() => loadSettings({ PIER_TRUSTED_PROXIES: '10.0.0.0/8,proxy.example.com' })).to.throw(/PIER_TRUSTED_PROXIES: "proxy\.example\.com" is not an IP address or CIDR range/);
    expect(() => loadSettings({ PIER_TRUSTED_PROXIES: '10.0.0.0/33' })).to.throw(/PIER_TRUSTED_PROXIES/);
  });

  it('a build timeout below one second is refused, naming the unit', () => {
    expect(() => loadSettings({ PIER_BUILD_TIMEOUT: '0' })).to.throw(/PIER_BUILD_TIMEOUT.*seconds/);
    expect(loadSettings({ PIER_BUILD_TIMEOUT: '60' }).buildTimeoutSec).to.equal(60);
  });
});
