import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, ApiError } from '../../src/cli/api-client.js';

/** A real HTTP server on loopback whose handler the test picks; returns a client for it. */
async function serve(handler: http.RequestListener): Promise<{ client: ApiClient; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    client: new ApiClient(url, 'the-token'),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as ApiError);

describe('the CLI\'s API client', () => {
  it('sends the token and a JSON body, and reads the JSON answer', async () => {
    let seen: { auth?: string; type?: string; body: string } | undefined;
    const { client, close } = await serve((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen = { auth: req.headers.authorization, type: req.headers['content-type'], body };
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    });
    try {
      expect(await client.json('POST', '/api/x', { a: 1 })).to.deep.equal({ ok: true });
      expect(seen).to.deep.equal({ auth: 'Bearer the-token', type: 'application/json', body: '{"a":1}' });
    } finally {
      await close();
    }
  });

  it('gives lines as they arrive, before the response ends', async () => {
    let finish: (() => void) | undefined;
    const { client, close } = await serve((_req, res) => {
      res.write('first\nsec');
      finish = () => res.end('ond\nlast');
    });
    try {
      const lines: string[] = [];
      await client.lines('/api/stream', (line) => {
        lines.push(line);
        if (line === 'first') setTimeout(() => finish!(), 300);
      });
      expect(lines).to.deep.equal(['first', 'second', 'last']);
    } finally {
      await close();
    }
  });

  it('an error answer becomes its JSON error, a 401 says so', async () => {
    const { client, close } = await serve((_req, res) => {
      res.statusCode = 401;
      res.end('{"error":"a valid token is required"}');
    });
    try {
      const err = await failure(client.json('GET', '/api/apps'));
      expect(err).to.be.instanceOf(ApiError);
      expect(err!.message).to.equal('401 Unauthorized: a valid token is required');
    } finally {
      await close();
    }
  });

  it('a stream the server breaks off says so; an error of the line handler is its own', async () => {
    const { client, close } = await serve((_req, res) => {
      res.write('one line\n');
      setTimeout(() => res.socket?.destroy(), 100);
    });
    try {
      const cut = await failure(client.follow('/api/logs', () => undefined));
      expect(cut!.message).to.match(/^The Pier API at http:\/\/127\.0\.0\.1:\d+ cut the stream off \(did the daemon stop or restart\?\)\. Run the command again to go on\.$/);
      const own = await failure(
        client.lines('/api/logs', () => {
          throw new Error('not JSON');
        }),
      );
      expect(own!.message).to.equal('not JSON');
    } finally {
      await close();
    }
  });

  it('no daemon listening: the error names the address and what to check', async () => {
    const { client, close } = await serve(() => undefined);
    await close();
    const err = await failure(client.json('GET', '/api/apps'));
    expect(err!.message).to.match(/^Cannot reach the Pier API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\. Is the daemon running\? Set PIER_URL to point elsewhere\.$/);
  });
});
