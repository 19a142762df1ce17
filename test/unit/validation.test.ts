import { expect } from 'chai';
import {
  appNameSchema,
  configKeySchema,
  configValueSchema,
  configVarsSchema,
  parseConfigPairs,
  parseProcfile,
  parseReleaseYaml,
} from '../../src/validation.js';

/** The message a user would see for `value`, or undefined when it is accepted. */
function refusal(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: Array<{ message: string }> } } }, value: unknown) {
  const result = schema.safeParse(value);
  return result.success ? undefined : result.error!.issues[0]!.message;
}

describe('validation', () => {
  describe('app names', () => {
    it('a lowercase name with digits and dashes is accepted', () => {
      expect(refusal(appNameSchema, 'my-app-2')).to.equal(undefined);
    });

    it('a one-letter name is accepted', () => {
      expect(refusal(appNameSchema, 'a')).to.equal(undefined);
    });

    it('a name of 63 characters, the longest DNS label, is accepted', () => {
      const name = 'a' + 'b'.repeat(62);
      expect(name).to.have.length(63);
      expect(refusal(appNameSchema, name)).to.equal(undefined);
    });

    it('a name of 64 characters is refused with a message naming the rule', () => {
      const name = 'a' + 'b'.repeat(63);
      expect(refusal(appNameSchema, name)).to.include('DNS labels').and.include('up to 62');
    });

    it('an app name with an underscore is refused with a message naming the rule', () => {
      expect(refusal(appNameSchema, 'my_app')).to.include('lowercase letters, digits or dashes').and.include('"my-app"');
    });

    it('an app name with capitals is refused', () => {
      expect(refusal(appNameSchema, 'MyApp')).to.include('DNS labels');
    });

    it('an app name starting with a digit or a dash is refused', () => {
      expect(refusal(appNameSchema, '1app')).to.include('start with a lowercase letter');
      expect(refusal(appNameSchema, '-app')).to.include('start with a lowercase letter');
    });

    it('an empty app name is refused', () => {
      expect(refusal(appNameSchema, '')).to.include('DNS labels');
    });

    it('an app name with a dot or a slash is refused, so it cannot escape its host label or path', () => {
      expect(refusal(appNameSchema, 'my.app')).to.include('DNS labels');
      expect(refusal(appNameSchema, '../app')).to.include('DNS labels');
    });
  });

  describe('config keys and values', () => {
    it('environment-variable names are accepted, including a leading underscore and lowercase letters', () => {
      for (const key of ['DATABASE_URL', '_PRIVATE', 'greeting', 'A1']) expect(refusal(configKeySchema, key), key).to.equal(undefined);
    });

    it('a key starting with a digit is refused with a message naming the rule', () => {
      expect(refusal(configKeySchema, '1KEY')).to.include('not starting with a digit').and.include('"DATABASE_URL"');
    });

    it('a key with a dash, a space or a dot is refused', () => {
      for (const key of ['MY-KEY', 'MY KEY', 'MY.KEY', '']) expect(refusal(configKeySchema, key), key).to.include('environment variable names');
    });

    it('a value of exactly 64 KiB is accepted and one byte more is refused with the limit named', () => {
      expect(refusal(configValueSchema, 'x'.repeat(64 * 1024))).to.equal(undefined);
      expect(refusal(configValueSchema, 'x'.repeat(64 * 1024 + 1))).to.equal('Config values are limited to 64 KiB');
    });

    it('a set of vars with one bad key is refused as a whole', () => {
      expect(configVarsSchema.safeParse({ GOOD: '1', 'BAD-KEY': '2' }).success).to.equal(false);
      expect(configVarsSchema.safeParse({ GOOD: '1', ALSO_GOOD: '' }).success).to.equal(true);
    });
  });

  describe('parseConfigPairs', () => {
    it('KEY=VALUE pairs become a map', () => {
      expect(parseConfigPairs(['GREETING=hello', 'WORKERS=4'])).to.deep.equal({ GREETING: 'hello', WORKERS: '4' });
    });

    it('a value containing "=" keeps everything after the first "="', () => {
      expect(parseConfigPairs(['DATABASE_URL=postgres://u:p@db/app?sslmode=require&a=b', 'TOKEN=abc=='])).to.deep.equal({
        DATABASE_URL: 'postgres://u:p@db/app?sslmode=require&a=b',
        TOKEN: 'abc==',
      });
    });

    it('an empty value is kept as an empty string', () => {
      expect(parseConfigPairs(['EMPTY='])).to.deep.equal({ EMPTY: '' });
    });

    it('a value with spaces and quotes is kept verbatim', () => {
      expect(parseConfigPairs(['MOTD="hello world" it\'s me'])).to.deep.equal({ MOTD: '"hello world" it\'s me' });
    });

    it('the last of two pairs with the same key wins', () => {
      expect(parseConfigPairs(['A=1', 'A=2'])).to.deep.equal({ A: '2' });
    });

    it('a word without "=" is refused with an example of the right form', () => {
      expect(() => parseConfigPairs(['GREETING'])).to.throw('"GREETING" is not KEY=VALUE. Example: pier config:set myapp GREETING=hello');
    });

    it('a pair with nothing before "=" is refused', () => {
      expect(() => parseConfigPairs(['=hello'])).to.throw('"=hello" is not KEY=VALUE');
    });

    it('a pair whose key is not an environment variable name is refused naming the key and the rule', () => {
      expect(() => parseConfigPairs(['MY-KEY=1'])).to.throw(/Invalid config key "MY-KEY": Config keys are environment variable names/);
    });

    it('no pairs give an empty map', () => {
      expect(parseConfigPairs([])).to.deep.equal({});
    });
  });

  describe('parseProcfile', () => {
    it('"type: command" lines become process types', () => {
      expect(parseProcfile('web: npm start\nworker: node worker.js\n')).to.deep.equal({ web: 'npm start', worker: 'node worker.js' });
    });

    it('comments and blank lines are ignored', () => {
      const text = '# the web process\n\nweb: npm start\n   \n  # indented comment\nclock: node clock.js\n';
      expect(parseProcfile(text)).to.deep.equal({ web: 'npm start', clock: 'node clock.js' });
    });

    it('Windows line endings are accepted', () => {
      expect(parseProcfile('web: npm start\r\nworker: node w.js\r\n')).to.deep.equal({ web: 'npm start', worker: 'node w.js' });
    });

    it('a command containing colons and "#" is kept whole', () => {
      expect(parseProcfile('web: node server.js --url http://localhost:5000 # not a comment')).to.deep.equal({
        web: 'node server.js --url http://localhost:5000 # not a comment',
      });
    });

    it('spaces around the colon are optional', () => {
      expect(parseProcfile('web:npm start\nworker  :   node w.js  ')).to.deep.equal({ web: 'npm start', worker: 'node w.js' });
    });

    it('process types may use digits, "_" and "-"', () => {
      expect(parseProcfile('release_phase-2: ./migrate')).to.deep.equal({ 'release_phase-2': './migrate' });
    });

    it('a line without a colon is refused naming its line number and text', () => {
      expect(() => parseProcfile('# comment\n\nnpm start\n')).to.throw('Procfile line 3 is not "type: command": "npm start"');
    });

    it('a type without a command is refused', () => {
      expect(() => parseProcfile('web:\n')).to.throw('Procfile line 1 is not "type: command": "web:"');
    });

    it('a process type with a dot is refused', () => {
      expect(() => parseProcfile('web: ok\nweb.1: npm start')).to.throw('Procfile line 2 is not "type: command"');
    });

    it('an empty Procfile has no process types', () => {
      expect(parseProcfile('')).to.deep.equal({});
    });
  });

  describe('parseReleaseYaml', () => {
    it('default_process_types of a typical bin/release become process types, and other sections are ignored', () => {
      const yaml = ['---', 'addons: []', 'default_process_types:', '  web: npm start', '  worker: node worker.js', 'config_vars:', '  FOO: bar', ''].join('\n');
      expect(parseReleaseYaml(yaml)).to.deep.equal({ web: 'npm start', worker: 'node worker.js' });
    });

    it('double- and single-quoted commands are unquoted', () => {
      const yaml = 'default_process_types:\n  web: "node server.js --port=$PORT"\n  worker: \'python -m worker\'\n';
      expect(parseReleaseYaml(yaml)).to.deep.equal({ web: 'node server.js --port=$PORT', worker: 'python -m worker' });
    });

    it('a command with quotes only inside is left as written', () => {
      expect(parseReleaseYaml('default_process_types:\n  web: bash -c "npm start"\n')).to.deep.equal({ web: 'bash -c "npm start"' });
    });

    it('a blank line inside the section does not end it', () => {
      expect(parseReleaseYaml('default_process_types:\n  web: a\n\n  worker: b\n')).to.deep.equal({ web: 'a', worker: 'b' });
    });

    it('Windows line endings are accepted', () => {
      expect(parseReleaseYaml('default_process_types:\r\n  web: npm start\r\n')).to.deep.equal({ web: 'npm start' });
    });

    it('output without default_process_types gives no process types', () => {
      expect(parseReleaseYaml('---\naddons: []\nconfig_vars:\n  web: not-a-process\n')).to.deep.equal({});
      expect(parseReleaseYaml('')).to.deep.equal({});
    });
  });
});
