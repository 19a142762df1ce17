import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import tls, { type PeerCertificate } from 'node:tls';
import { expect } from 'chai';
import { testCa, type IssuedCert, type TestCa } from '../helpers/certs.js';
import { get, waitFor } from '../helpers/http.js';
import { commitAll, repoRoot, TestPier } from '../helpers/test-pier.js';

interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  cert: PeerCertificate;
  protocol: string | null;
}

/** A Dockerfile app that answers with its name and the request headers it got, as JSON. */
const SERVER = `import http.server, json, os
NAME = open("/srv/app/name").read().strip()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"app": NAME, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    log_message = lambda self, *args: None
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`;

describe('router TLS: certificates, SNI, https-only, HSTS', function () {
  this.timeout(600_000);
  let pier: TestPier;
  let ca: TestCa;
  let shopCert: IssuedCert;
  let blogCert: IssuedCert;

  async function echoApp(name: string): Promise<string> {
    const dir = await pier.tempDir('pier-tls-app-');
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM pier/stack:bookworm\nRUN mkdir -p /srv/app\nCOPY . /srv/app/\nUSER 1000:1000\nCMD ["python3", "/srv/app/server.py"]\n');
    await writeFile(path.join(dir, 'server.py'), SERVER);
    await writeFile(path.join(dir, 'name'), `${name}\n`);
    await commitAll(dir, 'echo app');
    return dir;
  }

  before(async () => {
    pier = await TestPier.start();
    ca = await testCa(await pier.tempDir('pier-tls-ca-'));
    shopCert = await ca.issue(['shop.localhost']);
    blogCert = await ca.issue(['blog.localhost', '*.blog.test']);
    for (const app of ['shop', 'blog']) {
      const pushed = await pier.push(await echoApp(app), app);
      expect(pushed.code, pushed.stderr).to.equal(0);
    }
    const domain = await pier.cli(['domains:add', 'blog', '*.blog.test']);
    expect(domain.code, domain.stderr).to.equal(0);
  });

  after(async () => {
    await pier?.close();
  });

  const httpsPort = () => pier.settings.httpsPort;

  /** GET (or a POST of `body`) over HTTPS to the router with SNI `host`, trusting only the test CA. */
  function httpsGet(host: string, pathname = '/', body?: Buffer): Promise<TlsReply> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: httpsPort(), servername: host, headers: { host }, path: pathname, ca: ca.caPem, agent: false, method: body ? 'POST' : 'GET' },
        (res) => {
          const socket = res.socket as tls.TLSSocket;
          const cert = socket.getPeerCertificate();
          const protocol = socket.getProtocol();
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cert, protocol }));
          res.on('error', reject);
        },
      );
      req.setTimeout(5000, () => req.destroy(new Error(`no HTTPS answer within 5 s for ${host}`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A bare handshake: the negotiated protocol and the served certificate's fingerprint, or the error. */
  function handshake(servername: string, opts: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; fingerprint: string } | { error: string }> {
    return new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: httpsPort(), servername, ca: ca.caPem, ...opts }, () => {
        resolve({ protocol: socket.getProtocol(), fingerprint: socket.getPeerCertificate().fingerprint256 });
        socket.destroy();
      });
      socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
  }

  const fingerprintOf = (cert: IssuedCert) => new X509Certificate(cert.certPem).fingerprint256;

  it('certs:add installs a certificate per app and shows its names, issuer, expiry and fingerprint', async () => {
    const added = await pier.cli(['certs:add', 'shop', shopCert.certFile, shopCert.keyFile]);
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.contain('-----> Adding a certificate to shop');
    expect(added.stdout).to.contain('=====> shop certificate');
    expect(added.stdout).to.match(/ {7}Names: +shop\.localhost\n/);
    expect(added.stdout).to.match(/ {7}Issuer: +CN=Pier Test CA\n/);
    expect(added.stdout).to.match(/ {7}Expires: +\S+ \((29|30) days left\)\n/);
    expect(added.stdout).to.contain(`SHA256 ${fingerprintOf(shopCert)}`);
    expect(added.stdout).to.match(/ {7}Source: +manual\n/);
    const blog = await pier.cli(['certs:add', 'blog', blogCert.certFile, blogCert.keyFile]);
    expect(blog.code, blog.stderr).to.equal(0);

    const json = await pier.cli(['certs', 'blog', '--json']);
    expect(json.code, json.stderr).to.equal(0);
    const report = JSON.parse(json.stdout) as { app: string; certificate: Record<string, unknown> };
    expect(report.app).to.equal('blog');
    expect(report.certificate).to.include({ subject: 'CN=blog.localhost', issuer: 'CN=Pier Test CA', fingerprint: fingerprintOf(blogCert), source: 'manual' });
    expect(report.certificate.names).to.deep.equal(['blog.localhost', '*.blog.test']);
    expect(report.certificate.daysLeft).to.be.within(29, 30);
    expect(json.stdout).not.to.contain('PRIVATE KEY');

    const all = await pier.cli(['certs']);
    expect(all.stdout).to.match(/^APP +NAMES +EXPIRES +DAYS LEFT +SOURCE\nblog +blog\.localhost,\*\.blog\.test .*manual\nshop +shop\.localhost .*manual\n$/);
  });

  it('serves each host its own certificate by SNI (a wildcard one too), over TLS 1.2 or newer, with X-Forwarded-Proto https', async () => {
    const shop = await httpsGet('shop.localhost');
    expect(shop.status).to.equal(200);
    expect(shop.cert.subject.CN).to.equal('shop.localhost');
    expect(shop.cert.subjectaltname).to.equal('DNS:shop.localhost');
    const seen = JSON.parse(shop.body) as { app: string; headers: Record<string, string> };
    expect(seen.app).to.equal('shop');
    expect(seen.headers).to.include({ 'x-forwarded-proto': 'https', 'x-forwarded-port': String(httpsPort()), 'x-forwarded-host': 'shop.localhost' });
    expect(shop.protocol).to.be.oneOf(['TLSv1.2', 'TLSv1.3']);

    const blog = await httpsGet('eu.blog.test');
    expect(blog.cert.subjectaltname).to.equal('DNS:blog.localhost, DNS:*.blog.test');
    expect((JSON.parse(blog.body) as { app: string }).app).to.equal('blog');
    expect(await handshake('blog.localhost', { maxVersion: 'TLSv1.2' })).to.deep.equal({ protocol: 'TLSv1.2', fingerprint: fingerprintOf(blogCert) });
  });

  it('refuses TLS 1.1 and older, and a host without a certificate, at the handshake', async () => {
    // The client is allowed to offer TLS 1.0/1.1 at all, so the refusal is the router's.
    const old = await handshake('shop.localhost', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(old).to.deep.equal({ error: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    // A host no certificate names (a deeper subdomain than *.blog.test covers), an unknown host, and no SNI at all.
    for (const name of ['a.b.blog.test', 'nobody.localhost']) expect(await handshake(name)).to.have.property('error').that.matches(/ECONNRESET|ERR_SSL/);
    expect(await handshake('', { servername: undefined })).to.have.property('error').that.matches(/ECONNRESET|ERR_SSL/);
    // The router carries on serving the others.
    expect((await httpsGet('shop.localhost')).status).to.equal(200);
  });

  it('https-only redirects plain HTTP with 308 to the same URL over HTTPS; HSTS is sent over HTTPS only', async () => {
    expect((await get(pier.settings.httpPort, 'shop.localhost')).status).to.equal(200);
    for (const [key, value] of [['https-only', 'true'], ['hsts', 'true'], ['hsts-max-age', '600']]) {
      const set = await pier.cli(['proxy:set', 'shop', key!, value!]);
      expect(set.code, set.stderr).to.equal(0);
    }
    const redirected = await waitFor(() => get(pier.settings.httpPort, 'shop.localhost', { path: '/cart?item=1&q=a%20b' }), (r) => r.status === 308, 'the https-only redirect', 2000);
    expect(redirected.headers.location).to.equal(`https://shop.localhost:${httpsPort()}/cart?item=1&q=a%20b`);
    expect(redirected.headers['strict-transport-security']).to.equal(undefined);

    const secure = await waitFor(() => httpsGet('shop.localhost'), (r) => r.headers['strict-transport-security'] !== undefined, 'HSTS over HTTPS', 2000);
    expect(secure.headers['strict-transport-security']).to.equal('max-age=600');
    // The other app set neither: no redirect, no HSTS.
    const blogHttp = await get(pier.settings.httpPort, 'blog.localhost');
    expect(blogHttp.status).to.equal(200);
    expect(blogHttp.headers['strict-transport-security']).to.equal(undefined);
    expect((await httpsGet('blog.localhost')).headers['strict-transport-security']).to.equal(undefined);
  });

  it("the router's own pages over HTTPS carry HSTS too (maintenance, 413), and never over plain HTTP", async () => {
    const cli = async (args: string[]) => {
      const done = await pier.cli(args);
      expect(done.code, done.stderr).to.equal(0);
    };
    await cli(['maintenance:on', 'shop']);
    const down = await waitFor(() => httpsGet('shop.localhost'), (r) => r.status === 503, 'the maintenance page over HTTPS', 2000);
    expect(down.body).to.contain('down for maintenance');
    expect(down.headers['strict-transport-security']).to.equal('max-age=600');
    // Maintenance is answered before the https-only redirect: over plain HTTP, the same page without HSTS.
    const plain = await get(pier.settings.httpPort, 'shop.localhost');
    expect(plain.status).to.equal(503);
    expect(plain.headers['strict-transport-security']).to.equal(undefined);
    await cli(['maintenance:off', 'shop']);

    await cli(['proxy:set', 'shop', 'max-body-size', '1k']);
    const tooLarge = await waitFor(() => httpsGet('shop.localhost', '/', Buffer.alloc(2048)), (r) => r.status === 413, 'the 413 page over HTTPS', 2000);
    expect(tooLarge.body).to.contain('(1 KB)');
    expect(tooLarge.headers['strict-transport-security']).to.equal('max-age=600');
    await cli(['proxy:set', 'shop', 'max-body-size']);
    // An app without hsts gets none on its pages either.
    await cli(['maintenance:on', 'blog']);
    const blog = await waitFor(() => httpsGet('blog.localhost'), (r) => r.status === 503, 'the blog maintenance page', 2000);
    expect(blog.headers['strict-transport-security']).to.equal(undefined);
    await cli(['maintenance:off', 'blog']);
    expect((await waitFor(() => httpsGet('shop.localhost'), (r) => r.status === 200, 'shop served again', 2000)).headers['strict-transport-security']).to.equal('max-age=600');
  });

  it('negotiates http/1.1 by ALPN with a client that offers h2 first, and resumes TLS sessions', async () => {
    const alpn = (offered: string[]) =>
      new Promise<string | false>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: httpsPort(), servername: 'blog.localhost', ca: ca.caPem, ALPNProtocols: offered }, () => {
          resolve(socket.alpnProtocol ?? false);
          socket.destroy();
        });
        socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
        socket.on('error', reject);
      });
    expect(await alpn(['h2', 'http/1.1'])).to.equal('http/1.1');
    await alpn(['h2']).then(
      (protocol) => expect.fail(`an h2-only client negotiated ${protocol}`),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL'),
    );

    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const session = await new Promise<Buffer>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: httpsPort(), servername: 'blog.localhost', ca: ca.caPem, maxVersion: version });
        // TLS 1.3 sends its ticket after the handshake; a request makes sure it has arrived.
        socket.once('session', (s: Buffer) => {
          resolve(s);
          socket.destroy();
        });
        socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nhost: blog.localhost\r\n\r\n'));
        socket.setTimeout(5000, () => socket.destroy(new Error(`no ${version} session ticket within 5 s`)));
        socket.on('error', reject);
      });
      const reused = await new Promise<boolean>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: httpsPort(), servername: 'blog.localhost', ca: ca.caPem, maxVersion: version, session }, () => {
          resolve(socket.isSessionReused());
          socket.destroy();
        });
        socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
        socket.on('error', reject);
      });
      expect(reused, `${version} session resumed`).to.equal(true);
    }
  });

  it('refuses an expired, a mismatched or an unreadable pair with exit 1 and a reason, keeping the certificate served', async () => {
    const expired = await ca.issue(['shop.localhost'], { days: -1 });
    const other = await ca.issue(['shop.localhost']);
    const garbage = path.join(await pier.tempDir('pier-tls-bad-'), 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    const cases: [string[], RegExp][] = [
      [[expired.certFile, expired.keyFile], /The certificate expired on \S+Z\. Renew it with its issuer and add the new one\./],
      [[shopCert.certFile, other.keyFile], /The private key does not match the certificate \(CN=shop\.localhost\)\. Send the key the certificate was issued for\./],
      [[garbage, shopCert.keyFile], /the certificate file holds no PEM certificate/],
      [[path.join(path.dirname(garbage), 'missing.pem'), shopCert.keyFile], /Cannot read the certificate file .*missing\.pem: ENOENT/],
    ];
    for (const [files, reason] of cases) {
      const refused = await pier.cli(['certs:add', 'shop', ...files]);
      expect(refused.code, refused.stdout).to.equal(1);
      expect(refused.stderr).to.match(/^ ! {5}/).and.match(reason);
      expect(refused.stderr).not.to.contain('PRIVATE KEY');
    }
    expect(await handshake('shop.localhost')).to.have.property('fingerprint', fingerprintOf(shopCert));
    expect(JSON.parse((await pier.cli(['certs', 'shop', '--json'])).stdout).certificate.fingerprint).to.equal(fingerprintOf(shopCert));
  });

  it('serves a replaced certificate at once, without a router restart', async () => {
    const renewed = await ca.issue(['shop.localhost', 'www.shop.localhost']);
    const added = await pier.cli(['certs:add', 'shop', renewed.certFile, renewed.keyFile]);
    expect(added.code, added.stderr).to.equal(0);
    const served = await waitFor(() => handshake('shop.localhost'), (r) => 'fingerprint' in r && r.fingerprint === fingerprintOf(renewed), 'the renewed certificate', 2000);
    expect(served).to.have.property('fingerprint', fingerprintOf(renewed));
  });

  it('certs:remove stops HTTPS for the app (and its https-only redirect), leaving the other app served', async () => {
    const removed = await pier.cli(['certs:remove', 'shop']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(removed.stdout).to.contain('-----> Removed the certificate of shop');
    await waitFor(() => handshake('shop.localhost'), (r) => 'error' in r, 'the handshake to fail', 2000);
    // Without a certificate there is nowhere to redirect to: plain HTTP is served again.
    expect((await waitFor(() => get(pier.settings.httpPort, 'shop.localhost'), (r) => r.status === 200, 'plain HTTP', 2000)).status).to.equal(200);
    expect(JSON.parse((await pier.cli(['certs', 'shop', '--json'])).stdout)).to.deep.equal({ app: 'shop', certificate: null });
    expect((await pier.cli(['certs', 'shop'])).stdout).to.contain('=====> shop has no certificate; add one with: pier certs:add shop CERT_FILE KEY_FILE');
    const again = await pier.cli(['certs:remove', 'shop']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('shop has no certificate. Add one with: pier certs:add shop CERT_FILE KEY_FILE');
    expect((await httpsGet('blog.localhost')).status).to.equal(200);
  });

  it('an ACME plugin fills the same store through the certs capabilities, checked alike', async () => {
    const installed = await pier.cli(['plugins:install', path.join(repoRoot, 'test/fixtures/plugins/acme-fixture')]);
    expect(installed.code, installed.stderr).to.equal(0);
    const issued = await ca.issue(['shop.localhost']);
    const put = await pier.cli(['acme-fixture:put', 'shop', issued.certFile, issued.keyFile]);
    expect(put.code, put.stderr).to.equal(0);
    expect(put.stdout).to.equal(`installed ${fingerprintOf(issued)} for shop.localhost (source acme)\n`);
    await waitFor(() => handshake('shop.localhost'), (r) => 'fingerprint' in r && r.fingerprint === fingerprintOf(issued), 'the plugin\'s certificate', 2000);
    expect(JSON.parse((await pier.cli(['certs', 'shop', '--json'])).stdout).certificate.source).to.equal('acme');
    const expiring = await pier.cli(['acme-fixture:expiring', '60']);
    expect(expiring.stdout.split('\n').map((l) => l.split(' ')[0])).to.deep.equal(['blog', 'shop', '']);

    const expired = await ca.issue(['shop.localhost'], { days: -1 });
    const refused = await pier.cli(['acme-fixture:put', 'shop', expired.certFile, expired.keyFile]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('The certificate expired on');
    expect(await handshake('shop.localhost')).to.have.property('fingerprint', fingerprintOf(issued));
  });
});
