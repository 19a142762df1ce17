// The example plugin of docs/plugins.md: a command, a handler and a route, using the daemon's
// key-value store and app event log through the plugin context.
import { definePlugin } from 'pier:sdk';

const deploysKey = (app) => `deploys:${app}`;

export default definePlugin({
  events: {
    // Runs after every successful deploy; a failure here would be a warning, never undo the deploy.
    'post-deploy': async ({ app, version }, ctx) => {
      const count = Number((await ctx.kv.get(deploysKey(app))) ?? 0) + 1;
      await ctx.kv.set(deploysKey(app), String(count));
      ctx.progress(`deploy number ${count} of ${app} (v${version})`);
      await ctx.log.info(`counted deploy number ${count} (v${version})`, { app });
    },
    // app is null when the global domain changed: that line goes to the daemon log only.
    'domains-changed': async ({ app, domains, added, removed }, ctx) => {
      const change = [...added.map((d) => `+${d}`), ...removed.map((d) => `-${d}`)].join(' ');
      await ctx.log.info(`domains now ${domains.join(', ') || 'none'} (${change})`, app ? { app } : {});
    },
  },

  commands: {
    hello: {
      usage: 'NAME',
      help: 'Print a greeting',
      run: async ([name], io) => {
        if (!name) {
          io.stderr.write('Usage: pier example:hello NAME\n');
          return 1;
        }
        io.print(`Hello, ${name}!`);
      },
    },
    deploys: {
      usage: 'APP',
      help: 'How often the app was deployed since the example plugin was installed',
      run: async ([app], io) => {
        if (!app || !(await io.apps.exists(app))) {
          io.stderr.write(`No app ${app ?? ''}. Usage: pier example:deploys APP\n`);
          return 1;
        }
        io.print(`${app}: ${(await io.kv.get(deploysKey(app))) ?? 0} deploys`);
      },
    },
    shout: {
      help: 'Print what comes in on stdin, in capitals',
      // Only commands that ask for it get the caller's stdin.
      stdin: true,
      run: async (_args, io) => io.print(io.stdin.toString('utf8').trimEnd().toUpperCase()),
    },
  },

  routes: {
    // GET /api/plugins/example/routes/deploys: every app's count, for a dashboard.
    'GET /deploys': async (_req, ctx) => {
      const counts = {};
      for (const [key, value] of Object.entries(await ctx.kv.list())) counts[key.slice('deploys:'.length)] = Number(value);
      return { body: counts };
    },
  },
});
