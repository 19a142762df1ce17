import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { CertificateError, certificateUploadSchema, daysLeft, inspectCertificate, nameCovers } from '../../src/certificates.js';
import { httpsLocation } from '../../src/router/tls-certificates.js';
import { testCa, type IssuedCert, type TestCa } from '../helpers/certs.js';

describe('certificates', function () {
  this.timeout(30_000);
  let dir: string;
  let ca: TestCa;
  let shop: IssuedCert;
  let other: IssuedCert;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pier-certs-'));
    ca = await testCa(dir);
    shop = await ca.issue(['shop.example.test', '*.shop.example.test']);
    other = await ca.issue(['blog.example.test']);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const refused = (cert: string, key: string, now?: Date) => {
    try {
      inspectCertificate(cert, key, now);
    } catch (err) {
      expect(err).to.be.instanceOf(CertificateError);
      return (err as Error).message;
    }
    throw new Error('the pair was accepted');
  };

  describe('a pair to install', () => {
    it('is accepted with its chain, and described by names, issuer, dates and SHA-256 fingerprint', () => {
      const checked = inspectCertificate(`some text an editor left\n${shop.certPem}${ca.caPem}`, shop.keyPem);
      expect(checked.facts.names).to.deep.equal(['shop.example.test', '*.shop.example.test']);
      expect(checked.facts.subject).to.equal('CN=shop.example.test');
      expect(checked.facts.issuer).to.equal('CN=Pier Test CA');
      expect(checked.facts.fingerprint).to.equal(new X509Certificate(shop.certPem).fingerprint256).and.match(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(Date.parse(checked.facts.notAfter) - Date.now()).to.be.within(29 * 86_400_000, 31 * 86_400_000);
      expect(checked.certPem).to.match(/^-----BEGIN CERTIFICATE-----/).and.not.contain('some text');
      expect(checked.certPem.match(/BEGIN CERTIFICATE/g)).to.have.length(2);
      expect(checked.keyPem).to.match(/^-----BEGIN PRIVATE KEY-----/);
    });

    it('is refused when the key belongs to another certificate', () => {
      expect(refused(shop.certPem, other.keyPem)).to.equal('The private key does not match the certificate (CN=shop.example.test). Send the key the certificate was issued for.');
    });

    it('is refused once expired, and before it is valid, naming the date', () => {
      expect(refused(shop.certPem, shop.keyPem, new Date(Date.now() + 40 * 86_400_000))).to.match(/^The certificate expired on \d{4}-\d\d-\d\dT.*Z\. Renew it with its issuer and add the new one\.$/);
      expect(refused(shop.certPem, shop.keyPem, new Date(Date.now() - 86_400_000))).to.match(/^The certificate is not valid before .*Z\. Check the server's clock, or add it once it is valid\.$/);
    });

    it('is refused when the leaf is not first, or a certificate of the chain did not issue the one before', () => {
      expect(refused(ca.caPem + shop.certPem, shop.keyPem)).to.contain('The key belongs to certificate 2 of the file, not the first. Put the leaf certificate');
      expect(refused(shop.certPem + other.certPem, shop.keyPem)).to.contain('Certificate 2 of the chain did not issue certificate 1.');
    });

    it('is refused when the certificate or key cannot be read, without echoing the key', () => {
      expect(refused('no pem here', shop.keyPem)).to.contain('holds no PEM certificate');
      expect(refused('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n', shop.keyPem)).to.contain('Certificate 1 of the file cannot be parsed as X.509');
      const broken = shop.keyPem.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
      const message = refused(shop.certPem, broken);
      expect(message).to.contain('The private key cannot be read. Send an unencrypted PEM key');
      expect(message).not.to.contain('AAAAAAAAAA');
    });
  });

  it('the upload schema wants PEM in both files and defaults the source to manual', () => {
    expect(certificateUploadSchema.parse({ cert: shop.certPem, key: shop.keyPem }).source).to.equal('manual');
    const der = certificateUploadSchema.safeParse({ cert: 'MIIB...', key: shop.keyPem });
    expect(der.success).to.equal(false);
    expect(der.error?.issues[0]?.message).to.contain('openssl x509 -inform der');
    expect(certificateUploadSchema.safeParse({ cert: shop.certPem, key: shop.certPem }).error?.issues[0]?.message).to.contain('holds no PEM private key');
    expect(certificateUploadSchema.safeParse({ cert: shop.certPem, key: shop.keyPem, source: 'stolen' }).success).to.equal(false);
  });

  it('a name covers its own host, and a wildcard exactly one more label', () => {
    expect(nameCovers('shop.example.test', 'shop.example.test')).to.equal(true);
    expect(nameCovers('shop.example.test', 'www.shop.example.test')).to.equal(false);
    expect(nameCovers('*.example.test', 'shop.example.test')).to.equal(true);
    expect(nameCovers('*.example.test', 'example.test')).to.equal(false);
    expect(nameCovers('*.example.test', 'a.b.example.test')).to.equal(false);
    expect(nameCovers('*.example.test', '.example.test')).to.equal(false);
  });

  it('counts whole days left, negative once expired', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(daysLeft('2026-01-31T12:00:00.000Z', now)).to.equal(30);
    expect(daysLeft('2025-12-31T12:00:00.000Z', now)).to.equal(-1);
  });

  it('an https-only redirect keeps host and target, and names the HTTPS port unless it is 443', () => {
    expect(httpsLocation('shop.example.test:8080', '/cart?id=1', 443)).to.equal('https://shop.example.test/cart?id=1');
    expect(httpsLocation('shop.example.test', '/', 8443)).to.equal('https://shop.example.test:8443/');
    expect(httpsLocation('[::1]:80', '/x', 443)).to.equal('https://[::1]/x');
    expect(httpsLocation('shop.example.test', '*', 443)).to.equal('https://shop.example.test/');
  });
});
