/** What the pre-receive hook and the daemon exchange over /internal/push. */

export const RESULT_MARKER = '\u0000PIER-RESULT ';

export const DEPLOY_BRANCHES = ['refs/heads/main', 'refs/heads/master'];

export interface PushRequest {
  app: string;
  commit: string;
  ref: string;
  sourceTar: string;
}

export interface RefUpdate {
  oldRev: string;
  newRev: string;
  ref: string;
}

export function parseRefUpdates(stdin: string): RefUpdate[] {
  return stdin
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [oldRev = '', newRev = '', ref = ''] = l.split(/\s+/);
      return { oldRev, newRev, ref };
    });
}

/** The ref update to deploy, or a message explaining why the push is refused. */
export function chooseDeployRef(updates: RefUpdate[]): { deploy: RefUpdate } | { refuse: string } {
  const other = updates.find((u) => !DEPLOY_BRANCHES.includes(u.ref));
  if (other) {
    return {
      refuse:
        `Pushing ${other.ref} does not deploy: only the main and master branches deploy. ` +
        'Push your branch to main instead: git push pier HEAD:main',
    };
  }
  const deletion = updates.find((u) => /^0+$/.test(u.newRev));
  if (deletion) {
    return { refuse: `Deleting ${deletion.ref} is not supported: it is a branch Pier deploys. Use pier apps:destroy to remove the app.` };
  }
  const deploy = updates[updates.length - 1];
  if (!deploy) return { refuse: 'Nothing to deploy in this push.' };
  return { deploy };
}
