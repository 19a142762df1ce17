import { spawn } from 'node:child_process';
import { run, type RunResult, type TestPier } from './test-pier.js';

/** The CLI with its stdout or stdin a file: export and import move bytes, which must arrive unchanged. */
export function cliWithFile(pier: TestPier, args: string[], redirect: '>' | '<', file: string) {
  const cli = pier.cliCommand(args);
  return run('sh', ['-c', `exec "$@" ${redirect} "$PIER_TEST_FILE"`, 'sh', cli.cmd, ...cli.args], { env: { ...cli.env, PIER_TEST_FILE: file } });
}

/**
 * The CLI on a pseudo-terminal (script(1)), as a user's shell runs it, typing each line once what
 * it waits for has appeared, as a user does: a client in raw mode drops what was typed before it
 * was ready. Resolves with all of the terminal's output and the exit code.
 */
export function cliOnTerminal(pier: TestPier, args: string[], steps: Array<{ after: string | RegExp; type: string }>): Promise<RunResult> {
  const cli = pier.cliCommand(args);
  const quoted = [cli.cmd, ...cli.args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qefc', `stty cols 100 rows 40; ${quoted}`, '/dev/null'], { env: cli.env, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let next = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      while (next < steps.length && stdout.search(steps[next]!.after) !== -1) child.stdin.write(steps[next++]!.type);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
