// PostgreSQL as an add-on service: the commands and handlers come from the SDK's service plugin;
// this file says how Debian's PostgreSQL is set up, started and talked to.
import { defineServicePlugin } from 'pier:sdk';

const bin = (version) => `/usr/lib/postgresql/${version}/bin`;
const local = (name) => ['-h', '/tmp', '-U', 'postgres', '-d', name];
// Debian's versioned binaries, not its pg_wrapper, which looks for clusters in /etc/postgresql that a service does not have.
const tool = (version, name) => `${bin(version)}/${name}`;

export default defineServicePlugin({
  plugin: 'postgres',
  title: 'Postgres',
  variable: 'DATABASE',
  // What bookworm, the stack's Debian release, provides.
  versions: { 15: ['postgresql-15'] },
  user: 'postgres',
  // First start: a cluster whose superuser has the generated password (read from a file, never an argument), and the
  // service's database. Local socket connections (the exec'd pg_dump, psql) are trusted; the network needs the password.
  script: (version) => `set -e
if [ ! -s /data/PG_VERSION ]; then
  umask 077
  printf '%s' "$PIER_SERVICE_PASSWORD" > /tmp/pw
  ${bin(version)}/initdb -D /data -U postgres --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
  rm /tmp/pw
  echo 'host all all all scram-sha-256' >> /data/pg_hba.conf
  echo "CREATE DATABASE \\"$PIER_SERVICE_NAME\\";" | ${bin(version)}/postgres --single -D /data postgres >/dev/null
fi
exec ${bin(version)}/postgres -D /data -c listen_addresses='*' -c unix_socket_directories=/tmp`,
  ready: ['sh', '-c', 'exec /usr/lib/postgresql/*/bin/pg_isready -q -h /tmp -U postgres'],
  url: (host, password, name) => `postgres://postgres:${password}@${host}:5432/${name}`,
  exportCmd: (name, version) => [tool(version, 'pg_dump'), '-Fc', '--no-owner', ...local(name)],
  importCmd: (name, version) => [tool(version, 'pg_restore'), '--clean', '--if-exists', '--no-owner', '--exit-on-error', ...local(name)],
  connectCmd: (name, version) => [tool(version, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', ...local(name)],
});
