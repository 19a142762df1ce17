import { expect } from 'chai';
import { RouteTable, resolveHost, stripPort } from '../../src/router/route-table.js';
import type { RawProxySettings } from '../../src/proxy-settings.js';
import type { State } from '../../src/state/index.js';

/** Just enough of State for RouteTable.load(): apps with routes (and `proxy:set` values, maintenance), no Redis. */
function fakeState(routes: Record<string, string[]>, proxy: Record<string, RawProxySettings> = {}, maintenance: Record<string, number> = {}): State {
  const fake = {
    apps: {
      list: async () => Object.keys(routes).map((name) => ({ name, createdAt: '', currentRelease: 0 })),
      exists: async (name: string) => name in routes,
    },
    routes: {
      get: async (app: string) => (app in routes ? { app, upstreams: routes[app]! } : undefined),
    },
    domains: {
      globalDomain: async (initial: string) => initial,
      owners: async () => ({}),
    },
    proxy: { get: async (app: string | undefined) => proxy[app ?? '*'] ?? {} },
    maintenance: { get: async (app: string) => (app in maintenance ? { retryAfterSec: maintenance[app]!, since: '' } : undefined) },
  };
  return fake as unknown as State;
}

async function tableWith(routes: Record<string, string[]>): Promise<RouteTable> {
  const table = new RouteTable(fakeState(routes), 'localhost');
  await table.load();
  return table;
}

async function tableFor(apps: string[], domain = 'localhost'): Promise<RouteTable> {
  const table = new RouteTable(fakeState(Object.fromEntries(apps.map((a) => [a, ['10.0.0.2:5000']]))), domain);
  await table.load();
  return table;
}

describe('route table host parsing', () => {
  describe('stripPort', () => {
    it('a host without a port is unchanged', () => {
      expect(stripPort('app.localhost')).to.equal('app.localhost');
    });

    it('the port is removed from host:port', () => {
      expect(stripPort('app.localhost:8080')).to.equal('app.localhost');
    });

    it('an IPv6 literal keeps its brackets and loses its port', () => {
      expect(stripPort('[::1]:8080')).to.equal('[::1]');
      expect(stripPort('[2001:db8::1]')).to.equal('[2001:db8::1]');
    });

    it('an empty host stays empty', () => {
      expect(stripPort('')).to.equal('');
    });
  });

  describe('appFor', () => {
    it('<app>.<domain> names the app', async () => {
      expect((await tableFor(['web'])).appFor('web.localhost')).to.equal('web');
    });

    it('a port in the Host header is ignored', async () => {
      expect((await tableFor(['web'])).appFor('web.localhost:8080')).to.equal('web');
    });

    it('the Host header is matched case-insensitively', async () => {
      expect((await tableFor(['web'], 'apps.example.com')).appFor('WEB.Apps.Example.com')).to.equal('web');
    });

    it('a host under the domain with no such app names no app', async () => {
      expect((await tableFor(['web'])).appFor('other.localhost')).to.equal(undefined);
    });

    it('the bare domain, another domain and a missing Host name no app', async () => {
      const table = await tableFor(['web']);
      expect(table.appFor('localhost')).to.equal(undefined);
      expect(table.appFor('web.example.com')).to.equal(undefined);
      expect(table.appFor('web')).to.equal(undefined);
      expect(table.appFor('')).to.equal(undefined);
      expect(table.appFor(undefined)).to.equal(undefined);
    });

    it('a deeper subdomain does not match the app one level below it', async () => {
      expect((await tableFor(['web'])).appFor('www.web.localhost')).to.equal(undefined);
    });

    it('a domain that merely ends with the same letters does not match', async () => {
      expect((await tableFor(['web'], 'example.com')).appFor('web.badexample.com')).to.equal(undefined);
    });
  });
});

describe('which app a host name reaches', () => {
  const map = {
    globalDomain: 'apps.test',
    apps: new Set(['shop', 'blog']),
    owners: { 'shop.example.com': 'shop', '*.example.com': 'blog', '*.deep.example.com': 'shop', 'blog.apps.test': 'shop' },
  };

  it('an app is reached at <app>.<global domain>', () => {
    expect(resolveHost('blog.apps.test', { ...map, owners: {} })).to.equal('blog');
  });

  it('a custom domain wins over the global-domain name', () => {
    expect(resolveHost('blog.apps.test', map)).to.equal('shop');
    expect(resolveHost('shop.example.com', map)).to.equal('shop');
  });

  it('a wildcard covers subdomains of any depth, the most specific first, but not the bare domain', () => {
    expect(resolveHost('www.example.com', map)).to.equal('blog');
    expect(resolveHost('a.b.example.com', map)).to.equal('blog');
    expect(resolveHost('x.deep.example.com', map)).to.equal('shop');
    expect(resolveHost('example.com', map)).to.equal(undefined);
  });

  it('unknown names and other apps of the global domain reach nothing', () => {
    expect(resolveHost('nope.apps.test', map)).to.equal(undefined);
    expect(resolveHost('apps.test', map)).to.equal(undefined);
  });
});

describe('picking an upstream', () => {
  it('takes the upstreams in turn', async () => {
    const table = await tableWith({ web: ['a', 'b', 'c'] });
    expect([1, 2, 3, 4].map(() => table.pick('web'))).to.deep.equal(['a', 'b', 'c', 'a']);
  });

  it('passes over those the caller skips (tried, down), keeping the rotation', async () => {
    const table = await tableWith({ web: ['a', 'b', 'c'] });
    expect(table.pick('web', (u) => u === 'a')).to.equal('b');
    expect(table.pick('web', (u) => u === 'a')).to.equal('c');
    expect(table.pick('web', (u) => u === 'a')).to.equal('b');
  });

  it('names none when every upstream is skipped, the app has none, or there is no such app', async () => {
    const table = await tableWith({ web: ['a', 'b'], idle: [] });
    expect(table.pick('web', () => true)).to.equal(undefined);
    expect(table.pick('idle')).to.equal(undefined);
    expect(table.pick('ghost')).to.equal(undefined);
  });
});

describe('least-connections', () => {
  const loads = (l: Record<string, number>) => (u: string) => l[u] ?? 0;

  it('takes the upstream with the fewest requests in flight', async () => {
    const table = await tableWith({ web: ['a', 'b', 'c'] });
    expect(table.pickLeastLoaded('web', loads({ a: 2, b: 1, c: 3 }))).to.equal('b');
    expect(table.pickLeastLoaded('web', loads({ a: 2, b: 4, c: 3 }))).to.equal('a');
  });

  it('breaks ties round-robin, so idle upstreams share the work', async () => {
    const table = await tableWith({ web: ['a', 'b', 'c'] });
    const idle = loads({});
    expect([1, 2, 3, 4].map(() => table.pickLeastLoaded('web', idle))).to.deep.equal(['a', 'b', 'c', 'a']);
    expect(table.pickLeastLoaded('web', loads({ a: 1, b: 1, c: 1 }))).to.equal('b');
  });

  it('passes over skipped upstreams and names none when all are skipped', async () => {
    const table = await tableWith({ web: ['a', 'b'] });
    expect(table.pickLeastLoaded('web', loads({ a: 0, b: 5 }), (u) => u === 'a')).to.equal('b');
    expect(table.pickLeastLoaded('web', loads({}), () => true)).to.equal(undefined);
    expect(table.pickLeastLoaded('ghost', loads({}))).to.equal(undefined);
  });
});

describe('what a route carries', () => {
  it("an app's proxy settings win over the global ones; an unknown app gets the global ones", async () => {
    const table = new RouteTable(fakeState({ web: ['a'], other: ['b'] }, { web: { 'max-body-size': '1m' }, '*': { 'max-body-size': '2m', 'load-balancing': 'least-connections' } }), 'localhost');
    await table.load();
    expect(table.settings('web')).to.include({ maxBodyBytes: 1024 ** 2, loadBalancing: 'least-connections' });
    expect(table.settings('other').maxBodyBytes).to.equal(2 * 1024 ** 2);
    expect(table.settings(undefined).maxBodyBytes).to.equal(2 * 1024 ** 2);
  });

  it('maintenance mode and its Retry-After', async () => {
    const table = new RouteTable(fakeState({ web: ['a'], other: ['b'] }, {}, { web: 90 }), 'localhost');
    await table.load();
    expect(table.route('web')!.maintenance).to.deep.equal({ retryAfterSec: 90 });
    expect(table.route('other')!.maintenance).to.equal(undefined);
  });
});

describe('refreshes that finish out of order', () => {
  it('a refresh that read an app before its destroy cannot bring it back after the one that read it gone', async () => {
    const routes: Record<string, string[]> = { web: ['10.0.0.2:5000'] };
    const state = fakeState(routes);
    const table = new RouteTable(state, 'localhost');
    await table.load();
    // The first refresh reads the route while the app exists, and its read answers last.
    let answerLate!: () => void;
    const late = new Promise<void>((resolve) => (answerLate = resolve));
    const get = state.routes.get.bind(state.routes);
    state.routes.get = async (app: string) => {
      const route = await get(app);
      await late;
      return route;
    };
    const before = table.refresh('web');
    await new Promise((r) => setImmediate(r));
    delete routes.web;
    await table.refresh('web');
    expect(table.appFor('web.localhost')).to.equal(undefined);
    answerLate();
    await before;
    expect(table.appFor('web.localhost'), 'the older refresh is superseded').to.equal(undefined);
    expect(table.route('web')).to.equal(undefined);
  });
});
