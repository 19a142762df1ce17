import { expect } from 'chai';
import { commandText } from '../../src/release/one-off-service.js';
import { commandLine, containerSpec, type InstanceSpec } from '../../src/scheduler/container-spec.js';
import type { Release } from '../../src/state/release-store.js';

const buildpack = { kind: 'buildpack', port: 5000, user: '1000:1000' } as const;
const image = { kind: 'image', port: 8080, user: '1000:1000' } as const;

const release: Release = {
  version: 4,
  image: 'pt/app-demo:b1',
  config: { GREETING: 'bonjour' },
  processTypes: { web: 'node server.js' },
  runtime: buildpack,
  description: 'Deploy abc',
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'admin',
};

const spec = (over: Partial<InstanceSpec> = {}): InstanceSpec => ({
  instance: 'pt',
  network: 'pt',
  app: 'demo',
  release,
  process: 'run',
  index: 4821,
  command: ['ls', '-la'],
  settings: { restartPolicy: { name: 'on-failure', maxRetries: 10 }, stopTimeoutSec: 30, resources: {}, stopped: [] },
  globalConfig: {},
  mounts: [],
  oneOff: { tty: true, interactive: true },
  name: 'pt-demo-run-4821-abcd',
  ...over,
});

describe('one-off commands and containers', () => {
  describe('commandLine for an argv (pier run)', () => {
    it('a buildpack image gets the argv as it is: pier-launch starts bash for none, runs one word as a bash line, execs more', () => {
      expect(commandLine(buildpack, [])).to.deep.equal([]);
      expect(commandLine(buildpack, ['echo $HOME'])).to.deep.equal(['echo $HOME']);
      expect(commandLine(buildpack, ['echo', 'a b'])).to.deep.equal(['echo', 'a b']);
    });

    it('an image runtime gets a shell for none, sh -c for one word, and the argv itself for more', () => {
      const shell = commandLine(image, [])!;
      expect(shell.slice(0, 2)).to.deep.equal(['/bin/sh', '-c']);
      expect(shell[2]).to.contain('exec bash').and.contain('exec sh');
      expect(commandLine(image, ['echo $HOME'])).to.deep.equal(['/bin/sh', '-c', 'echo $HOME']);
      expect(commandLine(image, ['printf', '%s', 'a b'])).to.deep.equal(['printf', '%s', 'a b']);
    });

    it('Procfile lines are unchanged by it', () => {
      expect(commandLine(buildpack, 'node server.js')).to.deep.equal(['node server.js']);
      expect(commandLine(image, '')).to.equal(undefined);
    });
  });

  describe('containerSpec of a one-off', () => {
    it('is labelled a run, named run.N in DYNO, attached with a TTY when asked, removed by Docker when it exits, and never restarted', () => {
      const options = containerSpec(spec());
      expect(options.Labels).to.include({ 'pier.role': 'run', 'pier.process': 'run', 'pier.index': '4821' });
      expect(options.Env).to.include('DYNO=run.4821').and.include('GREETING=bonjour');
      expect(options).to.include({ Tty: true, OpenStdin: true, StdinOnce: true });
      expect(options.HostConfig).to.include({ AutoRemove: true, Privileged: false });
      expect(options.HostConfig!.RestartPolicy).to.deep.equal({ Name: 'no' });
      expect(options.HostConfig!.LogConfig!.Type).to.equal('json-file');
    });

    it('keeps no Docker log when its output is stored elsewhere (run:detached)', () => {
      const options = containerSpec(spec({ oneOff: { tty: false, interactive: false, unlogged: true } }));
      expect(options.HostConfig!.LogConfig).to.deep.equal({ Type: 'none', Config: {} });
      expect(options).to.include({ Tty: false, OpenStdin: false });
    });

    it('instances are not removed when they exit: Docker restarts them', () => {
      expect(containerSpec(spec({ oneOff: undefined, process: 'web', index: 1, command: '' })).HostConfig).to.include({ AutoRemove: false });
    });
  });

  describe('commandText', () => {
    it('shows an argv as a shell would take it, quoting only what needs it', () => {
      expect(commandText(['sh', '-c', "echo 'hi'; exit 3"])).to.equal(`sh -c 'echo '\\''hi'\\''; exit 3'`);
      expect(commandText(['ls', '-la', '/app'])).to.equal('ls -la /app');
    });

    it('a single word is a shell line already, and no command is a shell', () => {
      expect(commandText(['echo $HOME; ls'])).to.equal('echo $HOME; ls');
      expect(commandText([])).to.equal('bash');
    });
  });
});
