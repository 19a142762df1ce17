/** What Pier needs to know of a Dockerfile before and after building it. */
export interface DockerfileFacts {
  /** Images the build starts FROM that are not earlier stages (nor scratch): they must exist locally. */
  baseImages: string[];
  /** The first port the final stage EXPOSEs. */
  exposedPort?: number;
}

/** Joins continuation lines and drops comments and blank lines, as Docker's parser does. */
function instructions(text: string): Array<{ keyword: string; args: string }> {
  const out: Array<{ keyword: string; args: string }> = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/.exec(full);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]! });
  }
  if (pending.trim() !== '') {
    const match = /^(\S+)\s*(.*)$/.exec(pending.trim());
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]! });
  }
  return out;
}

/** ${VAR}, ${VAR:-default} and $VAR from the ARGs declared before the first FROM. */
function substitute(value: string, args: Map<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced, fallback, bare) => {
    const name = (braced ?? bare) as string;
    return args.get(name) || (fallback as string | undefined) || '';
  });
}

export function parseDockerfile(text: string, buildArgs: Record<string, string> = {}): DockerfileFacts {
  const globalArgs = new Map<string, string>();
  const stageNames = new Set<string>();
  const baseImages: string[] = [];
  let exposedPort: number | undefined;
  let seenFrom = false;
  for (const { keyword, args } of instructions(text)) {
    if (keyword === 'ARG' && !seenFrom) {
      const [name, ...rest] = args.split('=');
      const key = name!.trim();
      globalArgs.set(key, buildArgs[key] ?? rest.join('=').trim().replace(/^"(.*)"$/, '$1'));
    } else if (keyword === 'FROM') {
      seenFrom = true;
      exposedPort = undefined;
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = substitute(words[0] ?? '', globalArgs);
      if (image && image !== 'scratch' && !stageNames.has(image.toLowerCase()) && !baseImages.includes(image)) {
        baseImages.push(image);
      }
      // Only later stages can refer to a stage by its name.
      if (words[1]?.toUpperCase() === 'AS' && words[2]) stageNames.add(words[2].toLowerCase());
    } else if (keyword === 'EXPOSE' && exposedPort === undefined) {
      const first = /^(\d+)/.exec(args.trim());
      if (first) exposedPort = Number(first[1]);
    }
  }
  return { baseImages, exposedPort };
}
