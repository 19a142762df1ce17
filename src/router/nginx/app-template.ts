import Handlebars from 'handlebars';
import type { Pages } from '../pages.js';
import type { AppSnapshot } from '../route-table.js';
import { compileTemplate, renderApp, type AppTls, type NginxTemplates, type PlaneLayout } from './nginx-config.js';

/*
 * Pure: an app's own nginx template (`pier proxy:template`) in place of the built-in app.conf.hbs, the
 * states it is checked in before it is stored, and its problems said in the template's terms.
 */

type Template = ReturnType<typeof compileTemplate>;

/** What a handlebars error says, on one line and in the template's terms (its line and column). */
export function templateProblem(err: unknown): string {
  const message = (err as Error).message;
  const parse = /^Parse error on line (\d+):\n([^\n]*)\n[^\n]*\n(Expecting [^\n]*)$/.exec(message);
  if (parse) return `parse error on line ${parse[1]} near "${parse[2]!.trim()}": ${parse[3]}`;
  const mismatch = /^(\S+) doesn't match (\S+) - (\d+):\d+$/.exec(message);
  if (mismatch) return `the {{#${mismatch[1]}}} opened on line ${mismatch[3]} is closed with {{/${mismatch[2]}}}`;
  const strict = /^"(.+)" not defined in .* - (\d+):(\d+)$/s.exec(message);
  // Handlebars counts columns from 0; editors from 1.
  if (strict) return `"${strict[1]}" is not in the view (line ${strict[2]}, column ${Number(strict[3]) + 1}); the built-in template names every field the view has`;
  return message;
}

/**
 * The block a template leaves open, with the line it opens on: handlebars only says it met the end of
 * the template. Comments and raw blocks may mislead this count; it is a hint next to handlebars' words.
 */
export function unclosedBlock(source: string): { name: string; line: number } | undefined {
  const open: { name: string; line: number }[] = [];
  for (const m of source.matchAll(/\{\{~?\s*([#^/])\s*([\w@.-]+)/g)) {
    if (m[1] === '/') open.pop();
    else open.push({ name: m[2]!, line: source.slice(0, m.index).split('\n').length });
  }
  return open.at(-1);
}

/** Why a template does not parse, before anything renders: a template that does not parse fails in every state alike. */
export function syntaxProblem(source: string): string | undefined {
  try {
    Handlebars.parse(source);
    return undefined;
  } catch (err) {
    const block = (err as Error).message.endsWith("got 'EOF'") ? unclosedBlock(source) : undefined;
    return block ? `the {{#${block.name}}} opened on line ${block.line} is never closed with {{/${block.name}}} (${templateProblem(err)})` : templateProblem(err);
  }
}

/**
 * The app's blocks through its own template when it has one. One that fails (it passed its check, but
 * e.g. the view changed shape in an upgrade) gives way to the built-in template, with the reason, so
 * the app stays served and the other apps are unaffected.
 */
export function renderAppWith(
  templates: NginxTemplates,
  own: string | undefined,
  pages: Pages,
  layout: PlaneLayout,
  snapshot: AppSnapshot,
  tls: AppTls | undefined,
  compile: (source: string) => Template = compileTemplate,
): { config: string; problem?: string } {
  if (own !== undefined) {
    try {
      return { config: renderApp({ ...templates, app: compile(own) }, pages, layout, snapshot, tls) };
    } catch (err) {
      return { config: renderApp(templates, pages, layout, snapshot, tls), problem: templateProblem(err) };
    }
  }
  return { config: renderApp(templates, pages, layout, snapshot, tls) };
}

/** One state the app's template must render in, and whether nginx -t checks what it renders (it needs real certificate files). */
export interface TemplateVariant {
  label: string;
  snapshot: AppSnapshot;
  tls: AppTls | undefined;
  nginx: boolean;
}

/** Stands for an instance in a state the app is not in now; nginx -t never connects to it (TEST-NET-1). */
export const SAMPLE_UPSTREAM = '192.0.2.1:5000';
const SAMPLE_RETRY_AFTER_SEC = 60;

/**
 * The states a template is checked in: the app as it is now, and each change a deploy or an operator
 * makes without touching the template (instances come and go, maintenance mode, a certificate added
 * or removed), so a template that works in one state only is refused now, not at the next scale to 0.
 * `sample` is the certificate an app without one is checked with, and whether nginx can read it.
 */
export function templateVariants(snapshot: AppSnapshot, tls: AppTls | undefined, sample: { tls: AppTls; readable: boolean } | undefined): TemplateVariant[] {
  const variants: TemplateVariant[] = [
    { label: 'as the app is now', snapshot, tls, nginx: true },
    snapshot.upstreams.length > 0
      ? { label: 'with no running web instance', snapshot: { ...snapshot, upstreams: [] }, tls, nginx: true }
      : { label: 'with web instances running', snapshot: { ...snapshot, upstreams: [SAMPLE_UPSTREAM] }, tls, nginx: true },
    snapshot.maintenance
      ? { label: 'out of maintenance mode', snapshot: { ...snapshot, maintenance: undefined }, tls, nginx: true }
      : { label: 'in maintenance mode', snapshot: { ...snapshot, maintenance: { retryAfterSec: SAMPLE_RETRY_AFTER_SEC } }, tls, nginx: true },
  ];
  if (tls) variants.push({ label: 'without its certificate', snapshot, tls: undefined, nginx: true });
  else if (sample) variants.push({ label: 'with a certificate', snapshot, tls: sample.tls, nginx: sample.readable });
  return variants;
}

/** A whole configuration with the app's blocks in it, and where they start (1-based line), to point nginx's reasons into them. */
export function withBlocks(renderMain: (apps: string[]) => string, others: { before: string[]; after: string[] }, blocks: string): { config: string; firstLine: number } {
  // A marker nothing rendered contains, so the blocks' place is known exactly, whatever they hold.
  const mark = '\u0000pier-app-blocks\u0000';
  const framed = renderMain([...others.before, mark, ...others.after]);
  const at = framed.indexOf(mark);
  return { config: framed.slice(0, at) + blocks + framed.slice(at + mark.length), firstLine: framed.slice(0, at).split('\n').length };
}

/**
 * An nginx -t reason (`unknown directive "x" in /path/nginx.conf:123`) in the template's terms: the line
 * of the rendered blocks, the template's own line when it holds that line verbatim, and the text.
 */
export function locateReason(reason: string, file: string, config: string, firstLine: number, blocks: string, source: string): string {
  const where = / in (\S+):(\d+)$/.exec(reason);
  if (!where || where[1] !== file) return reason.replaceAll(file, 'the configuration');
  const what = reason.slice(0, where.index);
  const line = Number(where[2]);
  const blockLines = blocks.split('\n');
  const offset = line - firstLine;
  if (offset < 0 || offset >= blockLines.length) {
    const text = config.split('\n')[line - 1]?.trim() ?? '';
    return `${what} at line ${line} of the whole configuration, outside the app's blocks ("${text}")`;
  }
  const text = blockLines[offset]!.trim();
  const inTemplate = source.split('\n').flatMap((l, i) => (l.trim() === text && text !== '' ? [i + 1] : []));
  return inTemplate.length > 0
    ? `${what} at line ${inTemplate.join(', ')} of the template ("${text}")`
    : `${what} at line ${offset + 1} of what the template rendered ("${text}")`;
}
