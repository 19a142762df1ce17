import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnvFile } from '../../src/cli/env-file.js';

describe('the settings env file', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pier-env-file-'));
    file = join(dir, 'pier.env');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function load(text: string, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    writeFileSync(file, text);
    loadEnvFile(file, env);
    return env;
  }

  it('KEY=VALUE lines become environment variables', () => {
    expect(load('PIER_API_PORT=7781\nPIER_DOMAIN=example.com\n')).to.deep.equal({ PIER_API_PORT: '7781', PIER_DOMAIN: 'example.com' });
  });

  it('comments, indented comments and blank lines are skipped', () => {
    expect(load('# Pier settings\n\n   # indented\nPIER_DOMAIN=example.com\n\n')).to.deep.equal({ PIER_DOMAIN: 'example.com' });
  });

  it('double and single quotes around a value are removed', () => {
    expect(load('PIER_HOME="/srv/pier data"\nPIER_DOMAIN=\'example.com\'\n')).to.deep.equal({ PIER_HOME: '/srv/pier data', PIER_DOMAIN: 'example.com' });
  });

  it('mismatched quotes are kept as written', () => {
    expect(load('PIER_DOMAIN="example.com\'\n')).to.deep.equal({ PIER_DOMAIN: '"example.com\'' });
  });

  it('a leading "export " is accepted, as in a shell file', () => {
    expect(load('export PIER_DOMAIN=example.com\n')).to.deep.equal({ PIER_DOMAIN: 'example.com' });
  });

  it('a value containing "=" is kept whole', () => {
    expect(load('PIER_REDIS_URL=redis://:pa=ss@127.0.0.1:6379/0?x=1\n')).to.deep.equal({ PIER_REDIS_URL: 'redis://:pa=ss@127.0.0.1:6379/0?x=1' });
  });

  it('an empty value is set as an empty string', () => {
    expect(load('PIER_LOG_LEVEL=\n')).to.deep.equal({ PIER_LOG_LEVEL: '' });
  });

  it('Windows line endings do not leave a carriage return in the value', () => {
    expect(load('PIER_DOMAIN=example.com\r\nPIER_API_PORT=7781\r\n')).to.deep.equal({ PIER_DOMAIN: 'example.com', PIER_API_PORT: '7781' });
  });

  it('a variable already in the environment wins over the file', () => {
    expect(load('PIER_DOMAIN=from-file.com\nPIER_API_PORT=7781\n', { PIER_DOMAIN: 'from-env.com' })).to.deep.equal({
      PIER_DOMAIN: 'from-env.com',
      PIER_API_PORT: '7781',
    });
  });

  it('a variable set to an empty string in the environment also wins', () => {
    expect(load('PIER_DOMAIN=from-file.com\n', { PIER_DOMAIN: '' })).to.deep.equal({ PIER_DOMAIN: '' });
  });

  it('lines that are not KEY=VALUE are skipped', () => {
    expect(load('not a setting\nlower_case=1\nPIER_DOMAIN=example.com\n')).to.deep.equal({ PIER_DOMAIN: 'example.com' });
  });

  it('a missing file leaves the environment as it was', () => {
    const env = { PIER_DOMAIN: 'example.com' };
    loadEnvFile(join(dir, 'missing.env'), env);
    expect(env).to.deep.equal({ PIER_DOMAIN: 'example.com' });
  });
});
