// Redis as an add-on service: the commands and handlers come from the SDK's service plugin; this
// file says how Debian's Redis is started (persistent: append-only file) and talked to.
import { defineServicePlugin } from 'pier:sdk';

// redis-cli takes the password from the environment (the container's, which exec inherits), never an argument.
const cli = (script) => ['sh', '-c', `export REDISCLI_AUTH="$PIER_SERVICE_PASSWORD"; ${script}`];

export default defineServicePlugin({
  plugin: 'redis',
  title: 'Redis',
  variable: 'REDIS',
  // What bookworm, the stack's Debian release, provides.
  versions: { 7: ['redis-server', 'redis-tools'] },
  user: 'redis',
  // DEBUG (for RELOAD, which import needs) only from inside the container.
  script: () =>
    'exec redis-server --dir /data --appendonly yes --bind 0.0.0.0 --protected-mode no --port 6379 --enable-debug-command local --requirepass "$PIER_SERVICE_PASSWORD"',
  ready: cli('redis-cli ping | grep -q PONG'),
  url: (host, password) => `redis://:${password}@${host}:6379`,
  exportCmd: () => cli('redis-cli --rdb /tmp/export.rdb >/dev/null && cat /tmp/export.rdb && rm /tmp/export.rdb'),
  // The dump replaces the data set; rewriting the append-only file makes it what survives a restart.
  importCmd: () =>
    cli('cat > /data/import.rdb && mv /data/import.rdb /data/dump.rdb && redis-cli DEBUG RELOAD NOSAVE | grep -q OK && redis-cli BGREWRITEAOF >/dev/null'),
  connectCmd: () => cli('exec redis-cli'),
});
