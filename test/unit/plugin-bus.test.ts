import { expect } from 'chai';
import { dispatch, type EventHandler } from '../../src/plugins/bus.js';

/** A handler that records its turn in `calls`, then answers with `result` or fails with `error`. */
function handler(plugin: string, calls: string[], behaviour: { result?: unknown; error?: string } = {}): EventHandler {
  return {
    plugin,
    call: async (payload) => {
      calls.push(`${plugin} ${JSON.stringify(payload)}`);
      if (behaviour.error) throw new Error(`plugin "${plugin}" failed: ${behaviour.error}`);
      return behaviour.result;
    },
  };
}

describe('the plugin event bus', () => {
  const build = { app: 'web', buildId: 'b1', commit: 'abc', origin: 'git' as const };
  const deploy = { app: 'web', version: 3, image: 'img', description: 'Deploy abc', createdBy: 'admin' };

  it('a veto event fails with the first failing handler, and the handlers after it do not run', async () => {
    const calls: string[] = [];
    const warnings: string[] = [];
    const handlers = [handler('a', calls), handler('b', calls, { error: 'builds are frozen' }), handler('c', calls)];
    const failure = await dispatch('pre-build', handlers, build, (w) => warnings.push(w)).then(() => undefined, (err: Error) => err);
    expect(failure?.message).to.equal('plugin "b" failed: builds are frozen');
    expect(calls.map((c) => c.split(' ')[0])).to.deep.equal(['a', 'b']);
    expect(warnings).to.deep.equal([]);
  });

  it('a notify event runs every handler in order; failures become warnings and the payload stays as it was', async () => {
    const calls: string[] = [];
    const warnings: string[] = [];
    const handlers = [handler('a', calls, { error: 'timed out after 30s' }), handler('b', calls, { result: { ignored: true } }), handler('c', calls)];
    const result = await dispatch('post-deploy', handlers, deploy, (w) => warnings.push(w));
    expect(result).to.deep.equal(deploy);
    expect(calls.map((c) => c.split(' ')[0])).to.deep.equal(['a', 'b', 'c']);
    expect(warnings).to.deep.equal(['plugin "a" failed: timed out after 30s']);
  });

  it('a pipeline event feeds each handler the config the one before it returned', async () => {
    const calls: string[] = [];
    const input = { app: 'web', hosts: ['web.localhost'], upstreams: ['10.0.0.2:5000'], config: '' };
    const handlers = [
      handler('base', calls, { result: { config: 'server {}' } }),
      handler('silent', calls),
      handler('gzip', calls, { result: { config: 'server { gzip on; }' } }),
    ];
    const result = await dispatch('proxy-config-render', handlers, input, () => undefined);
    expect(result.config).to.equal('server { gzip on; }');
    expect(calls[1]).to.contain('"config":"server {}"');
    expect(calls[2]).to.contain('"config":"server {}"');
  });

  it('a pipeline handler that fails or returns the wrong type is skipped with a warning', async () => {
    const calls: string[] = [];
    const warnings: string[] = [];
    const input = { app: 'web', hosts: [], upstreams: [], config: 'pier' };
    const handlers = [handler('broken', calls, { error: 'boom' }), handler('typo', calls, { result: { config: 42 } }), handler('good', calls, { result: { config: 'good' } })];
    const result = await dispatch('proxy-config-render', handlers, input, (w) => warnings.push(w));
    expect(result.config).to.equal('good');
    expect(warnings[0]).to.equal('plugin "broken" failed: boom');
    expect(warnings[1]).to.include('plugin "typo" failed in proxy-config-render: its result is not valid').and.include('config');
  });

  it('an event nobody handles resolves with its payload', async () => {
    expect(await dispatch('app-created', [], { app: 'web' }, () => undefined)).to.deep.equal({ app: 'web' });
  });
});
