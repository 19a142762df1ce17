import net from 'node:net';
import { listen } from './http.js';

/** What a test opened and closes after each test: servers and the sockets they accepted. */
export interface Opened {
  servers: net.Server[];
  sockets: net.Socket[];
}

/** A raw TCP upstream that records every byte it receives. */
export interface RecordingUpstream {
  address: string;
  received: () => string;
}

/**
 * Records every byte it receives and answers `answer` to every chunk, or, when `answer` is undefined,
 * only the deploy probe (`GET <probe>`, with 204): a request it should never get stays unanswered.
 */
export async function recordingUpstream(opened: Opened, probe: string, answer?: string): Promise<RecordingUpstream> {
  let received = '';
  const server = net.createServer((socket) => {
    opened.sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      if (answer) socket.write(answer);
      else if (text.startsWith(`GET ${probe} `)) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      received += text;
    });
  });
  opened.servers.push(server);
  return { address: `127.0.0.1:${await listen(server)}`, received: () => received };
}
