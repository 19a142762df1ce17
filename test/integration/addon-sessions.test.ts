import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import { cliOnTerminal, cliWithFile } from '../helpers/cli-io.js';
import { TestPier, run, usePier } from '../helpers/test-pier.js';

/**
 * What differs between the add-ons: a client session's input and answer, a data set of several MB
 * (random, so the dump does not compress it away) and a fingerprint of it, and how to wipe it.
 */
const KINDS = [
  {
    kind: 'postgres',
    title: 'Postgres',
    query: 'SELECT 6 * 7 AS answer;\n',
    answer: /answer\s*\r*\n-+\r*\n\s*42\r*\n/,
    prompt: 'streamdb=#',
    quit: '\\q\n',
    fill: "CREATE TABLE big AS SELECT g AS id, gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text AS filler FROM generate_series(1, 60000) g;\n",
    fingerprint: "SELECT count(*) || ' ' || md5(string_agg(filler, '' ORDER BY id)) FROM big;\n",
    wipe: 'TRUNCATE big;\n',
  },
  {
    kind: 'redis',
    title: 'Redis',
    query: 'PING\n',
    answer: /PONG\r*\n/,
    prompt: '127.0.0.1:6379>',
    quit: 'quit\n',
    fill: `EVAL "for i = 1, 60000 do redis.call('SET', 'big:' .. i, redis.sha1hex(i .. 'a') .. redis.sha1hex(i .. 'b') .. redis.sha1hex(i .. 'c')) end" 0\n`,
    fingerprint: 'DBSIZE\nDEBUG DIGEST\n',
    wipe: 'FLUSHALL\n',
  },
] as const;

describe('add-on sessions: connect, export and import attached to the caller, and creates that fail half-way', function () {
  this.timeout(600_000);
  const docker = new Docker();
  let pier: TestPier;
  usePier(undefined, (p) => (pier = p));
  const container = (kind: string, name: string) => `${pier.settings.instance}-${kind}-${name}`;
  const passwordFile = (kind: string, name: string) => path.join(pier.settings.home, 'plugin-data', kind, `${name}.password`);
  const exists = (what: { inspect(): Promise<unknown> }) => what.inspect().then(() => true, () => false);

  before(async () => {
    const created = await Promise.all(KINDS.map((k) => pier.cli([`${k.kind}:create`, 'streamdb'])));
    for (const c of created) expect(c.code, c.stderr).to.equal(0);
  });

  for (const k of KINDS) {
    describe(k.kind, () => {
      const sql = async (input: string) => {
        const r = await pier.cli([`${k.kind}:connect`, 'streamdb'], {}, input);
        expect(r.code, r.stderr).to.equal(0);
        return r.stdout;
      };

      it('connect runs what is piped in through the client, and exits with its code', async () => {
        expect(await sql(k.query)).to.match(k.answer);
        const failing = await pier.cli([`${k.kind}:connect`, 'streamdb'], {}, k.kind === 'postgres' ? 'SELECT nonsense;\n' : 'NOSUCHCOMMAND\n');
        if (k.kind === 'postgres') {
          expect(failing.code).to.equal(3);
          expect(failing.stderr).to.contain('column "nonsense" does not exist');
        } else {
          expect(failing.stdout).to.match(/ERR unknown command/);
        }
      });

      it('connect on a terminal is an interactive session: the prompt, the answer, the exit', async () => {
        const session = await cliOnTerminal(pier, [`${k.kind}:connect`, 'streamdb'], [
          // Enter on a keyboard is a carriage return; only a terminal's cooked mode turns it into a newline.
          { after: k.prompt, type: `${k.query.trimEnd()}\r` },
          // After the next prompt, not the answer alone: a client going back to raw mode flushes what was typed before.
          { after: new RegExp(`${k.answer.source}[\\s\\S]*${k.prompt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), type: `${k.quit.trimEnd()}\r` },
        ]);
        expect(session.code, session.stdout).to.equal(0);
        // Only an interactive client prints its prompt: the client is on a terminal too.
        expect(session.stdout, JSON.stringify(session.stdout)).to.contain(k.prompt);
        expect(session.stdout, JSON.stringify(session.stdout)).to.match(k.answer);
      });

      it('a dump of several MB round-trips through export and import, streamed both ways', async () => {
        await sql(k.fill);
        const before = await sql(k.fingerprint);
        const dump = path.join(await pier.tempDir(), 'dump');
        const exported = await cliWithFile(pier, [`${k.kind}:export`, 'streamdb'], '>', dump);
        expect(exported.code, exported.stderr).to.equal(0);
        // Beyond what one API request would carry (1 MiB), let alone the 768 KiB the CLI once took on stdin.
        expect((await stat(dump)).size).to.be.greaterThan(4 * 1024 * 1024);
        await sql(k.wipe);
        expect(await sql(k.fingerprint)).not.to.equal(before);
        const imported = await cliWithFile(pier, [`${k.kind}:import`, 'streamdb'], '<', dump);
        expect(imported.code, imported.stderr).to.equal(0);
        expect(imported.stdout).to.contain(`-----> Importing into ${k.title} service streamdb`);
        expect(await sql(k.fingerprint)).to.equal(before);
      });

      it('import refuses a terminal for stdin, and says to pipe a dump in', async () => {
        const refused = await cliOnTerminal(pier, [`${k.kind}:import`, 'streamdb'], []);
        expect(refused.code).to.equal(1);
        expect(refused.stdout).to.contain(`Pipe a dump in: pier ${k.kind}:import streamdb < dump`);
      });
    });
  }

  describe('a create that fails', () => {
    it('leaves nothing behind for a version that is not available', async () => {
      const r = await pier.cli(['postgres:create', 'unversioned', '--version', '9']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('Postgres 9 is not available; available versions: 15.');
      expect(existsSync(passwordFile('postgres', 'unversioned'))).to.equal(false);
    });

    it('refuses a name whose container exists already, touching neither it nor anything else', async () => {
      const name = container('postgres', 'taken');
      const squatter = await docker.createContainer({ name, Image: 'pier/stack:bookworm', Cmd: ['sleep', '600'], Labels: { 'pier.instance': pier.settings.instance } });
      await squatter.start();
      const r = await pier.cli(['postgres:create', 'taken']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`A container named ${name} exists already, and Pier has no Postgres service taken on record. Remove the container (docker rm -f ${name}) or pick another name.`);
      expect((await squatter.inspect()).Config.Cmd).to.deep.equal(['sleep', '600']);
      expect(await exists(docker.getVolume(`${name}-data`))).to.equal(false);
      expect(existsSync(passwordFile('postgres', 'taken'))).to.equal(false);
      await squatter.remove({ force: true });
    });

    it('that cannot start its service removes its container and password, keeps a volume that held data, and says what to do', async () => {
      const name = container('postgres', 'broken');
      // Data from before, which this PostgreSQL cannot read: the service crashes as it starts.
      await docker.createVolume({ Name: `${name}-data` });
      const seeded = await run('docker', ['run', '--rm', '-v', `${name}-data:/data`, 'pier/stack:bookworm', 'sh', '-c', 'echo 99 > /data/PG_VERSION']);
      expect(seeded.code, seeded.stderr).to.equal(0);
      const started = Date.now();
      const r = await pier.cli(['postgres:create', 'broken']);
      expect(r.code).to.equal(1);
      // A crash is seen at once, not after the two minutes a slow first start may take.
      expect(Date.now() - started).to.be.below(60_000);
      expect(r.stderr, r.stderr).to.contain(' !     Creating Postgres service broken failed: Postgres service broken exited as it started');
      expect(r.stderr).to.contain('Its last log lines:');
      expect(r.stderr).to.contain(`Its volume ${name}-data held data before, so it stays; nothing else was kept. Fix the cause, then: pier postgres:create broken`);
      expect(await exists(docker.getContainer(name))).to.equal(false);
      expect(await exists(docker.getVolume(`${name}-data`))).to.equal(true);
      expect(existsSync(passwordFile('postgres', 'broken'))).to.equal(false);
      const listed = JSON.parse((await pier.cli(['postgres:list', '--json'])).stdout) as Array<{ name: string }>;
      expect(listed.map((s) => s.name)).to.deep.equal(['streamdb']);
    });
  });
});
