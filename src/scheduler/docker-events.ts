import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import { LineSplitter } from './docker-log-frames.js';

const RECONNECT_MS = 2000;
/** Container events that can change which instances serve. */
const WATCHED = new Set(['die', 'start', 'destroy', 'oom', 'kill', 'stop', 'health_status']);

/**
 * Calls `onChange(app)` when a container of this Pier dies, starts or goes away. Reconnects when
 * the event stream ends (dockerd restarting), and calls `onReconnect` then, since events were missed.
 */
export function watchContainerEvents(
  docker: Docker,
  instance: string,
  onChange: (app: string) => void,
  onReconnect: () => void,
  log: Logger,
): { close(): void } {
  let stream: Readable | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    try {
      stream = (await docker.getEvents({ filters: { type: ['container'], label: [`pier.instance=${instance}`] } })) as Readable;
    } catch (err) {
      log.debug({ err }, 'docker events unavailable; retrying');
      return again();
    }
    onReconnect();
    const lines = new LineSplitter((line) => {
      try {
        const event = JSON.parse(line) as { status?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
        const app = event.Actor?.Attributes?.['pier.app'];
        const action = (event.Action ?? event.status ?? '').split(':')[0]!;
        if (app && WATCHED.has(action) && event.Actor?.Attributes?.['pier.role'] === 'app') onChange(app);
      } catch {
        // a partial or foreign line: ignore
      }
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => lines.push(chunk));
    stream.on('error', () => undefined);
    stream.on('close', again);
  };
  const again = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), RECONNECT_MS);
    timer.unref();
  };
  void connect();
  return {
    close: () => {
      closed = true;
      clearTimeout(timer);
      stream?.destroy();
    },
  };
}
