import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { UserError } from './errors.js';

/*
 * TLS certificates as Pier keeps them: what a PEM chain and key pair must be before it is stored (the
 * same checks whoever sends it: certs:add, or an ACME plugin later), the facts shown for it, and
 * which host names it covers. Pure: no Redis, no sockets; the clock is passed in.
 */

/** Who put a certificate in place: `certs:add`, or (later) an ACME plugin that renews its own. */
export const CERT_SOURCES = ['manual', 'acme'] as const;
export type CertSource = (typeof CERT_SOURCES)[number];

const PEM_CERT = '-----BEGIN CERTIFICATE-----';
const PEM_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

/** A pair as the CLI sends it and the API takes it, checked for shape; inspectCertificate checks the rest. */
export const certificateUploadSchema = z.object({
  cert: z
    .string()
    .max(256 * 1024, 'the certificate chain is larger than 256 KiB; send the leaf and its intermediates only')
    .refine((s) => s.includes(PEM_CERT), 'the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a DER file with: openssl x509 -inform der -in CERT -out cert.pem'),
  key: z
    .string()
    .max(64 * 1024, 'the key file is larger than 64 KiB; send the private key only')
    .refine((s) => PEM_KEY.test(s), 'the key file holds no PEM private key (-----BEGIN PRIVATE KEY-----); convert a DER key with: openssl pkey -inform der -in KEY -out key.pem'),
  source: z.enum(CERT_SOURCES).default('manual'),
});

/** What `pier certs` shows of a certificate; the PEM and key are never part of it. */
export interface CertificateFacts {
  /** The DNS names it is valid for: its subjectAltName entries (its CN when it has none). */
  names: string[];
  subject: string;
  issuer: string;
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the leaf, colon-separated hex (as `openssl x509 -fingerprint -sha256` prints it). */
  fingerprint: string;
}

/** A pair that passed every check, normalised: the chain as PEM blocks only, the key as PKCS#8 PEM. */
export interface CheckedCertificate {
  certPem: string;
  keyPem: string;
  facts: CertificateFacts;
}

/** A certificate or key that cannot be installed; the message names the problem and what to do. */
export class CertificateError extends UserError {}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseChain(certPem: string): X509Certificate[] {
  const blocks = certPem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new CertificateError('The certificate file holds no PEM certificate. Send the certificate in PEM form (-----BEGIN CERTIFICATE-----), leaf first.');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new CertificateError(`Certificate ${i + 1} of the file cannot be parsed as X.509. Check the file is the PEM the issuer sent, unaltered.`);
    }
  });
}

function parseKey(keyPem: string): KeyObject {
  try {
    return createPrivateKey(keyPem);
  } catch {
    // Node's message says nothing useful to a user, and must not echo key material anyway.
    throw new CertificateError('The private key cannot be read. Send an unencrypted PEM key (remove a passphrase with: openssl pkey -in KEY -out key.pem).');
  }
}

/** DNS names of a certificate: subjectAltName DNS entries, else the subject's CN (as TLS clients do). */
export function certificateNames(cert: X509Certificate): string[] {
  const sans = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4).toLowerCase());
  if (sans.length > 0) return [...new Set(sans)];
  const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

const oneLine = (dn: string) => dn.split('\n').join(', ');

function describe(cert: X509Certificate, i: number): string {
  return i === 0 ? 'The certificate' : `Certificate ${i + 1} of the chain (${oneLine(cert.subject)})`;
}

/**
 * Checks a chain and key as a whole before anything is stored: every certificate parses, the key
 * parses and belongs to the first one (the leaf), each next one issued the one before, none is
 * expired or not yet valid, and the leaf names at least one host.
 */
export function inspectCertificate(certPem: string, keyPem: string, now = new Date()): CheckedCertificate {
  const chain = parseChain(certPem);
  const key = parseKey(keyPem);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) {
    const owner = chain.findIndex((c) => c.checkPrivateKey(key));
    if (owner > 0) throw new CertificateError(`The key belongs to certificate ${owner + 1} of the file, not the first. Put the leaf certificate (the one for your host names) first, then its intermediates.`);
    throw new CertificateError(`The private key does not match the certificate (${oneLine(leaf.subject)}). Send the key the certificate was issued for.`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!)) {
      throw new CertificateError(`Certificate ${i + 2} of the chain did not issue certificate ${i + 1}. Order the file leaf first, then each issuer after the certificate it issued.`);
    }
  }
  for (const [i, cert] of chain.entries()) {
    const from = new Date(cert.validFrom);
    const to = new Date(cert.validTo);
    if (to.getTime() <= now.getTime()) throw new CertificateError(`${describe(cert, i)} expired on ${to.toISOString()}. Renew it with its issuer and add the new one.`);
    if (from.getTime() > now.getTime()) throw new CertificateError(`${describe(cert, i)} is not valid before ${from.toISOString()}. Check the server's clock, or add it once it is valid.`);
  }
  const names = certificateNames(leaf);
  if (names.length === 0) throw new CertificateError('The certificate names no host (no subjectAltName DNS entry, no CN). Issue one for the host names the app is served at.');
  return {
    certPem: chain.map((c) => c.toString()).join(''),
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }) as string,
    facts: {
      names,
      subject: oneLine(leaf.subject),
      issuer: oneLine(leaf.issuer),
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      fingerprint: leaf.fingerprint256,
    },
  };
}

/**
 * Whether a certificate name covers a host (both lowercase, no trailing dot): the same name, or a
 * wildcard `*.example.com` for exactly one more label (RFC 6125 §6.4.3: not example.com, not a.b.example.com).
 */
export function nameCovers(name: string, host: string): boolean {
  if (!name.startsWith('*.')) return name === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot) === name.slice(1);
}

export function namesCover(names: readonly string[], host: string): boolean {
  return names.some((n) => nameCovers(n, host));
}

/** Whole days until the certificate expires; negative once it has. */
export function daysLeft(notAfter: string, now = new Date()): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / 86_400_000);
}
