import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { certificateUploadSchema } from '../../certificates.js';
import type { CertificateInfo } from '../../release/cert-service.js';
import { appName, checked, client, out, UsageError } from '../common.js';
import { formatTable } from '../table.js';

type Shown = CertificateInfo & { daysLeft: number };

const INDENT = '       ';

const expiry = (c: Shown) => (c.daysLeft < 0 ? `${c.notAfter} (expired)` : `${c.notAfter} (${c.daysLeft} days left)`);

function print(c: Shown): void {
  out(`=====> ${c.app} certificate`);
  const rows: [string, string][] = [
    ['Names', c.names.join(', ')],
    ['Subject', c.subject],
    ['Issuer', c.issuer],
    ['Not before', c.notBefore],
    ['Expires', expiry(c)],
    ['Fingerprint', `SHA256 ${c.fingerprint}`],
    ['Source', c.source],
    ['Added', c.addedAt],
  ];
  for (const [label, value] of rows) out(`${INDENT}${`${label}:`.padEnd(14)}${value}`);
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Give the path of a PEM file.`);
  }
}

/** certs:* (Dokku's certs:add, certs:remove, certs:report) */
export function registerCertCommands(program: Command): void {
  program
    .command('certs [app]')
    .alias('certs:report')
    .description("Show an app's TLS certificate (names, issuer, expiry, fingerprint, source); every app's without APP")
    .option('--json', 'print JSON')
    .action(async (app: string | undefined, opts: { json?: boolean }) => {
      const api = await client();
      if (app === undefined) {
        const all = await api.json<Shown[]>('GET', '/api/certs');
        if (opts.json) return out(JSON.stringify(all, null, 2));
        if (all.length === 0) return out('No app has a certificate. Add one with: pier certs:add APP CERT_FILE KEY_FILE');
        return out(formatTable(['APP', 'NAMES', 'EXPIRES', 'DAYS LEFT', 'SOURCE'], all.map((c) => [c.app, c.names.join(','), c.notAfter, String(c.daysLeft), c.source])));
      }
      const report = await api.json<{ app: string; certificate: Shown | null }>('GET', `/api/apps/${appName(app)}/certs`);
      if (opts.json) return out(JSON.stringify(report, null, 2));
      if (!report.certificate) return out(`=====> ${app} has no certificate; add one with: pier certs:add ${app} CERT_FILE KEY_FILE`);
      print(report.certificate);
    });

  program
    .command('certs:add <app> <cert-file> <key-file>')
    .description('Serve the app over HTTPS with this certificate (PEM chain, leaf first) and private key (PEM); replaces its certificate')
    .action(async (app: string, certFile: string, keyFile: string) => {
      appName(app);
      const body = checked(certificateUploadSchema, { cert: await readPem(certFile, 'certificate'), key: await readPem(keyFile, 'key') });
      out(`-----> Adding a certificate to ${app}`);
      print(await (await client()).json<Shown>('PUT', `/api/apps/${app}/certs`, body));
    });

  program
    .command('certs:remove <app>')
    .description('Remove the app\'s certificate: HTTPS to its hosts stops at the handshake')
    .action(async (app: string) => {
      await (await client()).json('DELETE', `/api/apps/${appName(app)}/certs`);
      out(`-----> Removed the certificate of ${app}`);
    });
}
