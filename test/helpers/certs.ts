import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface TestCa {
  /** The CA certificate, for clients to trust. */
  caPem: string;
  caFile: string;
  /** A leaf for these DNS names (the first is the CN); `days: -1` makes one that expired yesterday. */
  issue(names: string[], opts?: { days?: number }): Promise<IssuedCert>;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A throwaway certificate authority in `dir`, made with openssl (EC keys: fast to generate). */
export async function testCa(dir: string): Promise<TestCa> {
  const caFile = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  await exec('openssl', ['req', '-x509', ...EC_KEY, '-keyout', caKey, '-out', caFile, '-subj', '/CN=Pier Test CA', '-days', '30']);
  let serial = 1;
  return {
    caFile,
    caPem: await readFile(caFile, 'utf8'),
    async issue(names, { days = 30 } = {}) {
      const base = path.join(dir, `${names[0]!.replace(/\*/g, 'star')}-${++serial}`);
      const [keyFile, csr, ext, certFile] = ['.key', '.csr', '.ext', '.crt'].map((e) => base + e) as [string, string, string, string];
      await exec('openssl', ['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${names[0]}`]);
      await writeFile(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
      await exec('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial), '-days', String(days), '-extfile', ext, '-out', certFile]);
      return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
    },
  };
}
