import { expect } from 'chai';
import { parseChildMessage } from '../../src/plugins/protocol.js';
import { matchRoute } from '../../src/plugins/routes.js';

function refusal(raw: unknown): string | undefined {
  try {
    parseChildMessage(raw);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('the plugin IPC protocol', () => {
  const ready = { type: 'ready', events: ['post-deploy'], commands: [{ name: 'hello', help: 'Print a greeting', usage: 'NAME' }], routes: ['GET /status'] };

  it('a registration with known events, documented commands and routes is accepted', () => {
    expect(parseChildMessage(ready)).to.deep.equal(ready);
  });

  it('a registration of an event Pier does not know is refused, naming the known ones', () => {
    const message = refusal({ ...ready, events: ['post-deploys'] });
    expect(message).to.include('ready: events.0').and.include("'post-deploy'").and.include("received 'post-deploys'");
  });

  it('a command without help text is refused', () => {
    expect(refusal({ ...ready, commands: [{ name: 'hello', help: '' }] })).to.include('every command needs help text');
  });

  it('a command name that would not fit `pier plugin:command` is refused', () => {
    expect(refusal({ ...ready, commands: [{ name: 'Hello World', help: 'x' }] })).to.include('command names are lowercase');
  });

  it('a route that is not "METHOD /path" is refused with an example', () => {
    expect(refusal({ ...ready, routes: ['/status'] })).to.include('"GET /status"');
  });

  it('replies, RPCs and output name the call they belong to', () => {
    expect(parseChildMessage({ type: 'reply', id: 3, ok: false, error: 'boom' })).to.deep.equal({ type: 'reply', id: 3, ok: false, error: 'boom' });
    expect(parseChildMessage({ type: 'rpc', id: 1, call: 3, method: 'kv.get', params: { key: 'k' } })).to.include({ call: 3, method: 'kv.get' });
    expect(refusal({ type: 'output', call: 3, stream: 'stdin', data: 'x' })).to.include('output: stream');
  });

  it('output is text, or bytes as base64 (a dump on stdout), and no other encoding', () => {
    expect(parseChildMessage({ type: 'output', call: 3, stream: 'stdout', data: 'AAE=', encoding: 'base64' })).to.include({ encoding: 'base64' });
    expect(refusal({ type: 'output', call: 3, stream: 'stdout', data: 'x', encoding: 'hex' })).to.include('output: encoding');
  });

  it('a message of an unknown type, or not an object at all, is refused', () => {
    expect(refusal({ type: 'shell', command: 'rm -rf /' })).to.include('does not understand');
    expect(refusal('hello')).to.include('does not understand');
    expect(refusal(null)).to.include('does not understand');
  });
});

describe('plugin routes', () => {
  const keys = ['GET /status', 'GET /databases/:id', 'POST /databases', 'GET /databases/:id/backups'];

  it('a static path matches its route', () => {
    expect(matchRoute(keys, 'GET', '/status')).to.deep.equal({ key: 'GET /status', params: {} });
  });

  it('a :name segment matches one segment and becomes a param', () => {
    expect(matchRoute(keys, 'GET', '/databases/db-1')).to.deep.equal({ key: 'GET /databases/:id', params: { id: 'db-1' } });
    expect(matchRoute(keys, 'GET', '/databases/db-1/backups')).to.deep.equal({ key: 'GET /databases/:id/backups', params: { id: 'db-1' } });
  });

  it('the method must match too, and a longer or shorter path matches nothing', () => {
    expect(matchRoute(keys, 'DELETE', '/status')).to.equal(undefined);
    expect(matchRoute(keys, 'GET', '/status/extra')).to.equal(undefined);
    expect(matchRoute(keys, 'GET', '/')).to.equal(undefined);
  });
});
