// nginx as Pier's data plane. The daemon's router role renders this folder's templates (templates/*.hbs)
// from its live route table, checks the result with nginx -t and reloads nginx; this plugin being enabled
// is what lets `pier proxy:type nginx` use them. Its command shows the configuration in force.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { definePlugin } from 'pier:sdk';

export default definePlugin({
  commands: {
    config: {
      help: 'Print the nginx configuration the nginx plane serves with',
      run: async (_args, io) => {
        // The plugin's data folder is $PIER_HOME/plugin-data/nginx-proxy; the plane writes to $PIER_HOME/nginx.
        const file = path.join(io.plugin.dataDir, '..', '..', 'nginx', 'nginx.conf');
        const text = await readFile(file, 'utf8').catch(() => undefined);
        if (text === undefined) {
          io.stderr.write('nginx has not served yet. Switch to it first: pier proxy:type nginx\n');
          return 1;
        }
        io.stdout.write(text);
      },
    },
  },
});
