import { expect } from 'chai';
import { pageResponse } from '../../src/router/pages.js';

describe('router error pages', () => {
  it('a page is a whole response whose Content-Length counts its UTF-8 bytes', () => {
    const raw = pageResponse(404, 'shop.localhost', { close: false, head: false });
    const text = raw.toString('utf8');
    const split = text.indexOf('\r\n\r\n');
    const body = raw.subarray(Buffer.byteLength(text.slice(0, split + 4)));
    expect(text.slice(0, split)).to.equal(
      `HTTP/1.1 404 Not Found\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${body.length}\r\ncache-control: no-store`,
    );
    expect(body.toString()).to.include('<h1>404 Not Found</h1>').and.include('shop.localhost');
  });

  it('a page that ends the connection says so, and a HEAD request gets the head alone', () => {
    const raw = pageResponse(400, '', { close: true, head: true }).toString();
    expect(raw).to.match(/\r\nconnection: close\r\n\r\n$/);
    expect(raw).to.not.include('<html');
  });

  it('the host is HTML-escaped', () => {
    expect(pageResponse(404, '<script>', { close: false, head: false }).toString()).to.include('&lt;script&gt;').and.not.include('<script>');
  });
});
