import type http from 'node:http';
import type net from 'node:net';
import { close } from './http.js';
import type { RunningRouter } from './router.js';

/** What a router test opens (upstream servers, client sockets, agents, extra routers), closed after each test. */
export class TestResources {
  readonly servers: net.Server[] = [];
  readonly sockets: net.Socket[] = [];
  readonly agents: http.Agent[] = [];
  readonly routers: RunningRouter[] = [];

  async release(): Promise<void> {
    for (const agent of this.agents.splice(0)) agent.destroy();
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await Promise.all(this.servers.splice(0).map(close));
    await Promise.all(this.routers.splice(0).map((r) => r.stop()));
  }
}
