import { expect } from 'chai';
import net from 'node:net';
import { once } from 'node:events';
import { holdWrites } from '../../src/router/turn-writes.js';

/** A connected pair over loopback: what the peer receives is what left the socket. */
async function pair(): Promise<{ socket: net.Socket; peer: net.Socket; close(): void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [peer] = (await once(server, 'connection')) as [net.Socket];
  await once(socket, 'connect');
  return {
    socket,
    peer,
    close: () => {
      socket.destroy();
      peer.destroy();
      server.close();
    },
  };
}

const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

describe('writes held to the end of the turn', () => {
  it('queues a turn\'s writes and sends them together, in order, when the turn ends', async () => {
    const { socket, peer, close } = await pair();
    try {
      const received: string[] = [];
      peer.on('data', (chunk: Buffer) => received.push(chunk.toString()));
      holdWrites(socket);
      socket.write('head ');
      holdWrites(socket);
      socket.write(Buffer.from('body'));
      expect(socket.writableLength).to.equal(9);
      await turnEnd();
      expect(socket.writableLength).to.equal(0);
      while (received.join('') !== 'head body') await once(peer, 'data');
      expect(received.join('')).to.equal('head body');
    } finally {
      close();
    }
  });

  it('holds each socket of a turn, and a write after the turn is held again only when asked', async () => {
    const a = await pair();
    const b = await pair();
    try {
      holdWrites(a.socket);
      holdWrites(b.socket);
      a.socket.write('a');
      b.socket.write('b');
      expect([a.socket.writableLength, b.socket.writableLength]).to.deep.equal([1, 1]);
      await turnEnd();
      expect([a.socket.writableLength, b.socket.writableLength]).to.deep.equal([0, 0]);
      a.socket.write('unheld');
      expect(a.socket.writableLength).to.equal(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('end() sends what was held at once, and the turn\'s end then has nothing left to do', async () => {
    const { socket, peer, close } = await pair();
    try {
      let received = '';
      peer.on('data', (chunk: Buffer) => (received += chunk.toString()));
      holdWrites(socket);
      socket.write('last words');
      socket.end();
      await once(peer, 'end');
      expect(received).to.equal('last words');
      await turnEnd();
    } finally {
      close();
    }
  });
});
