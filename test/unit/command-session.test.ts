import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { expect } from 'chai';
import { CommandSession } from '../../src/plugins/command-session.js';
import type { AttachedSession } from '../../src/scheduler/scheduler.js';

const handoff = { exec: { service: 'db', cmd: ['psql'], user: 'postgres' } };

/** A command in a service that echoes its stdin in capitals and exits 7 at its end. */
function shouting(): AttachedSession & { sizes: string[] } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const exit = text(stdin).then((input) => {
    stdout.end(input.toUpperCase());
    stderr.end();
    return 7;
  });
  const sizes: string[] = [];
  return { stdin, stdout, stderr, sizes, wait: () => exit, resize: async (c, r) => void sizes.push(`${c}x${r}`), kill: async () => void stdin.end() };
}

describe("a plugin's stream command session", () => {
  it("the plugin's output comes first, then the service command's, fed with what was typed before the handoff; its exit code is the session's", async () => {
    const service = shouting();
    const attached: unknown[] = [];
    const session = new CommandSession(
      async (onOutput) => {
        onOutput('stdout', '-----> Importing\n');
        return handoff;
      },
      async (h, size) => {
        attached.push(h, size);
        return service;
      },
    );
    await session.resize(80, 24);
    session.stdin.end('select 1;\n');
    const [out, code] = await Promise.all([text(session.stdout), session.wait()]);
    expect(out).to.equal('-----> Importing\nSELECT 1;\n');
    expect(code).to.equal(7);
    expect(attached).to.deep.equal([handoff, { cols: 80, rows: 24 }]);
  });

  it('a command that resolves with an exit code ends the session with it, and nothing is attached', async () => {
    let attached = false;
    const session = new CommandSession(
      async (onOutput) => {
        onOutput('stderr', ' !     No Postgres service db\n');
        return 1;
      },
      async () => {
        attached = true;
        return shouting();
      },
    );
    session.stdin.end('ignored');
    const [err, code] = await Promise.all([text(session.stderr), session.wait(), text(session.stdout)]);
    expect([err, code, attached]).to.deep.equal([' !     No Postgres service db\n', 1, false]);
  });

  it('a caller gone before the handoff attaches nothing', async () => {
    let release!: () => void;
    const decided = new Promise<void>((resolve) => (release = resolve));
    let attached = false;
    const session = new CommandSession(
      async () => {
        await decided;
        return handoff;
      },
      async () => {
        attached = true;
        return shouting();
      },
    );
    await session.kill();
    release();
    expect(await session.wait()).to.equal(137);
    expect(attached).to.equal(false);
  });

  it('a plugin that fails fails the session, with its message', async () => {
    const session = new CommandSession(
      async () => {
        throw new Error('plugin "postgres" failed in command postgres:connect: timed out after 600s');
      },
      async () => shouting(),
    );
    const failure = await session.wait().then(() => undefined, (err: Error) => err.message);
    expect(failure).to.equal('plugin "postgres" failed in command postgres:connect: timed out after 600s');
  });
});
