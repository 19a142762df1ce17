import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { LineSplitter } from '../scheduler/docker-log-frames.js';

export interface ExecOptions {
  cmd: string[];
  user: string;
  env?: string[];
  /** Receives each output line (stdout and stderr merged) as it arrives. */
  onLine?: (line: string) => void;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

/** Runs a command in a running container, streaming its output line by line. */
export async function execInContainer(docker: Docker, container: Docker.Container, opts: ExecOptions): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: opts.cmd,
    User: opts.user,
    Env: opts.env,
    WorkingDir: '/app',
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  let output = '';
  const splitter = new LineSplitter((line) => opts.onLine?.(line));
  sink.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    splitter.push(text);
  });
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  splitter.flush();
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, output };
}
