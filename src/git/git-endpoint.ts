import type http from 'node:http';
import { Git } from 'node-git-server';
import type { Logger } from '../log.js';
import type { RepoStore } from './repos.js';

const GIT_PATH = /^\/([^/]+)\.git\/(info\/refs|git-upload-pack|git-receive-pack|HEAD)$/;
const APP_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export interface GitEndpointDeps {
  repos: RepoStore;
  /** Token name for the request's credentials, or undefined. Runs on EVERY git request. */
  authenticate: (req: http.IncomingMessage) => Promise<string | undefined>;
  appExists: (app: string) => Promise<boolean>;
  /** Creates an app on its first push, as Dokku does. */
  createApp: (app: string, who: string) => Promise<void>;
  log: Logger;
}

function reply(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${message}\n`);
}

/**
 * Git smart HTTP. node-git-server checks credentials only on info/refs, so a crafted POST to
 * git-receive-pack could write refs unauthenticated; this endpoint checks the token on every
 * request before node-git-server sees it.
 */
export class GitEndpoint {
  private readonly git: Git;
  /** Who is pushing to each app right now, for build records ("who"). */
  private readonly pushers = new Map<string, string>();

  constructor(private readonly deps: GitEndpointDeps) {
    this.git = new Git((dir?: string) => (dir ? deps.repos.dir(dir.replace(/\.git$/, '')) : '/nonexistent'), {
      autoCreate: false,
    });
  }

  matches(req: http.IncomingMessage): boolean {
    return GIT_PATH.test(new URL(req.url ?? '/', 'http://x').pathname);
  }

  pusherOf(app: string): string | undefined {
    return this.pushers.get(app);
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, app = '', action = ''] = GIT_PATH.exec(url.pathname) ?? [];
    const who = await this.deps.authenticate(req);
    if (!who) {
      reply(res, 401, 'Pier: a valid API token is required. Use http://pier:TOKEN@HOST/APP.git as the remote (pier token prints it).', {
        'www-authenticate': 'Basic realm="Pier"',
      });
      return;
    }
    if (!APP_NAME.test(app)) {
      reply(res, 400, `Pier: "${app}" is not a valid app name: use lowercase letters, digits and dashes, starting with a letter.`);
      return;
    }
    const pushing = action === 'git-receive-pack' || url.searchParams.get('service') === 'git-receive-pack';
    if (!(await this.deps.appExists(app))) {
      if (!pushing) {
        reply(res, 404, `Pier: app ${app} does not exist. Create it with: pier apps:create ${app}`);
        return;
      }
      await this.deps.createApp(app, who);
      this.deps.log.info({ app, who }, 'app created by its first push');
    }
    await this.deps.repos.ensure(app);
    if (action === 'git-receive-pack') {
      this.pushers.set(app, who);
      res.on('close', () => {
        if (this.pushers.get(app) === who) this.pushers.delete(app);
      });
    }
    this.git.handle(req, res);
  }
}
