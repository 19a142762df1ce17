import { z } from 'zod';

/*
 * An app's own nginx template (`pier proxy:template APP FILE`), parsed alike by the CLI (early errors)
 * and the API. The cap keeps what every reload reads from Redis and renders small; the built-in
 * template is about 3 KiB.
 */

export const MAX_TEMPLATE_BYTES = 64 * 1024;

export const templateSchema = z.object({
  template: z
    .string({ required_error: 'the template is missing', invalid_type_error: 'the template is text' })
    .refine((t) => t.trim() !== '', 'the template is empty; give a handlebars file such as plugins/nginx-proxy/templates/app.conf.hbs')
    .refine((t) => Buffer.byteLength(t) <= MAX_TEMPLATE_BYTES, `the template is larger than ${MAX_TEMPLATE_BYTES / 1024} KiB`),
});
