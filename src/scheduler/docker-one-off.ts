import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { LineSplitter } from './docker-log-frames.js';

export interface OneOffResult {
  exitCode: number;
}

/**
 * Runs a container to completion with its output streamed line by line (the release phase,
 * deploy scripts), then removes it. A run that outlasts `timeoutMs` is killed and reported as
 * exit code 124, as timeout(1) does.
 */
export async function runToCompletion(
  docker: Docker,
  options: Docker.ContainerCreateOptions,
  onLine: (line: string) => void,
  timeoutMs: number,
): Promise<OneOffResult> {
  const container = await docker.createContainer(options);
  try {
    // Attached before the start, so not a line of output is missed.
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const sink = new PassThrough();
    const splitter = new LineSplitter(onLine);
    sink.on('data', (chunk: Buffer) => splitter.push(chunk.toString('utf8')));
    docker.modem.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    await container.start();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      container.kill().catch(() => undefined);
    }, timeoutMs);
    const waited = (await container.wait()) as { StatusCode: number };
    clearTimeout(timer);
    await Promise.race([ended, new Promise((r) => setTimeout(r, 1000))]);
    splitter.flush();
    return { exitCode: timedOut ? 124 : waited.StatusCode };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
