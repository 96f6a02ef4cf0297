/** The dashboard's pure request decisions: token, cookie, Host and Origin rules (src/web/auth.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWebAddress, webUrl } from '../../src/web/address.js';
import {
  authorize,
  bearerToken,
  cookieName,
  hostAllowed,
  isTokenText,
  newToken,
  parseCookies,
  sameToken,
  sessionCookie,
  splitHost,
  splitTarget,
  type RequestFacts,
} from '../../src/web/auth.js';
import { isSentinelError } from '../../src/errors.js';

const TOKEN = newToken((n) => Buffer.alloc(n, 7));
const OTHER = newToken((n) => Buffer.alloc(n, 8));
const B = { host: '127.0.0.1', port: 8080 };

function facts(over: Partial<RequestFacts> = {}): RequestFacts {
  return { method: 'GET', path: '/', queryToken: null, queryRest: '', host: '127.0.0.1:8080', ...over };
}

describe('web tokens', () => {
  it('are 32 random bytes in base64url (43 characters)', () => {
    assert.equal(TOKEN, Buffer.alloc(32, 7).toString('base64url'));
    assert.equal(TOKEN.length, 43);
    assert.ok(isTokenText(newToken()));
    assert.notEqual(newToken(), newToken());
    assert.equal(isTokenText(`${TOKEN}x`), false);
    assert.equal(isTokenText('a'.repeat(42) + '='), false);
  });

  it('compare equal only when identical, whatever the length given', () => {
    assert.equal(sameToken(TOKEN, TOKEN), true);
    assert.equal(sameToken(TOKEN, OTHER), false);
    assert.equal(sameToken(TOKEN, TOKEN.slice(0, 42)), false);
    assert.equal(sameToken(TOKEN, `${TOKEN}A`), false);
    assert.equal(sameToken(TOKEN, ''), false);
    assert.equal(sameToken(TOKEN, undefined), false);
  });

  it('Bearer: a malformed Authorization header is a wrong token, not a missing one', () => {
    assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(bearerToken(`bearer  ${TOKEN}`), TOKEN);
    assert.equal(bearerToken(`Basic ${TOKEN}`), '');
    assert.equal(bearerToken(undefined), undefined);
  });
});

describe('cookies', () => {
  it('the session cookie is HttpOnly, SameSite=Strict, Path=/ and named per port', () => {
    assert.equal(sessionCookie(8080, TOKEN), `sentinel_web_8080=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`);
    assert.notEqual(cookieName(8080), cookieName(8081));
  });

  it('parses a Cookie header; the first of a repeated name wins', () => {
    const c = parseCookies(`a=1; sentinel_web_8080=${TOKEN}; a=2;junk; =x`);
    assert.equal(c.get('a'), '1');
    assert.equal(c.get('sentinel_web_8080'), TOKEN);
    assert.equal(c.size, 2);
    assert.equal(parseCookies(undefined).size, 0);
  });
});

describe('Host check (DNS rebinding guard)', () => {
  it('accepts the bound address and localhost with the bound port', () => {
    assert.equal(hostAllowed('127.0.0.1:8080', B), true);
    assert.equal(hostAllowed('LOCALHOST:8080', B), true);
  });

  it('refuses other names, other ports, no port and no Host', () => {
    for (const h of ['evil.example:8080', '127.0.0.1:8081', '127.0.0.1', 'localhost', '127.0.0.2:8080', '[::1]:8080', 'a:b:c', '']) {
      assert.equal(hostAllowed(h, B), false, h);
    }
    assert.equal(hostAllowed(undefined, B), false);
  });

  it('IPv6 and wildcard bindings: IP literals only, never a DNS name but localhost', () => {
    assert.equal(hostAllowed('[::1]:9000', { host: '::1', port: 9000 }), true);
    assert.equal(hostAllowed('localhost:9000', { host: '::1', port: 9000 }), true);
    const any = { host: '0.0.0.0', port: 9000 };
    assert.equal(hostAllowed('192.168.1.20:9000', any), true);
    assert.equal(hostAllowed('[fe80::1]:9000', any), true);
    assert.equal(hostAllowed('attacker.example:9000', any), false);
    // A LAN binding does not accept localhost: it is not what the browser was pointed at.
    assert.equal(hostAllowed('localhost:9000', { host: '192.168.1.20', port: 9000 }), false);
  });

  it('splitHost', () => {
    assert.deepEqual(splitHost('[::1]:80'), { name: '::1', port: 80 });
    assert.deepEqual(splitHost('Example.COM'), { name: 'example.com', port: null });
    assert.equal(splitHost('a:b:c'), null);
    assert.equal(splitHost('[::1]x'), null);
  });
});

describe('authorize', () => {
  it('no token at all: 401', () => {
    const d = authorize(facts(), TOKEN, B);
    assert.deepEqual({ allow: d.allow, status: !d.allow && d.status, reason: !d.allow && d.reason }, { allow: false, status: 401, reason: 'token' });
  });

  it('a right Bearer token passes; a wrong one is 401 even with a good cookie', () => {
    assert.deepEqual(authorize(facts({ authorization: `Bearer ${TOKEN}` }), TOKEN, B), { allow: true, via: 'bearer' });
    const d = authorize(facts({ authorization: `Bearer ${OTHER}`, cookie: `sentinel_web_8080=${TOKEN}` }), TOKEN, B);
    assert.equal(d.allow, false);
    assert.equal(!d.allow && d.status, 401);
  });

  it('the cookie passes GETs; the cookie of another port does not', () => {
    assert.deepEqual(authorize(facts({ cookie: `sentinel_web_8080=${TOKEN}` }), TOKEN, B), { allow: true, via: 'cookie' });
    assert.equal(authorize(facts({ cookie: `sentinel_web_9090=${TOKEN}` }), TOKEN, B).allow, false);
  });

  it('?token= on the page: cookie set and a redirect to the URL without it (other parameters kept)', () => {
    const t = splitTarget(`/?a=1&token=${TOKEN}&b=2`);
    assert.deepEqual(authorize(facts(t), TOKEN, B), {
      allow: true,
      via: 'query',
      redirect: { location: '/?a=1&b=2', setCookie: sessionCookie(8080, TOKEN) },
    });
    assert.deepEqual(authorize(facts(splitTarget(`/?token=${TOKEN}`)), TOKEN, B), { allow: true, via: 'query', redirect: { location: '/', setCookie: sessionCookie(8080, TOKEN) } });
  });

  it('?token= is refused when wrong, and ignored anywhere but the page URL', () => {
    assert.equal(authorize(facts(splitTarget(`/?token=${OTHER}`)), TOKEN, B).allow, false);
    const api = authorize(facts({ ...splitTarget(`/api/status?token=${TOKEN}`), method: 'POST', origin: 'http://127.0.0.1:8080' }), TOKEN, B);
    assert.equal(api.allow, false);
    assert.equal(!api.allow && api.status, 401);
  });

  it('a wrong Host is 403 before anything else, even with the right token', () => {
    const d = authorize(facts({ host: 'rebind.example:8080', authorization: `Bearer ${TOKEN}` }), TOKEN, B);
    assert.deepEqual(!d.allow && [d.status, d.reason], [403, 'host']);
  });

  it('a foreign Origin is 403, with any method and any credential', () => {
    for (const over of [{ method: 'POST', cookie: `sentinel_web_8080=${TOKEN}` }, { method: 'GET', authorization: `Bearer ${TOKEN}` }]) {
      const d = authorize(facts({ ...over, path: '/api/send', origin: 'http://evil.example' }), TOKEN, B);
      assert.deepEqual(!d.allow && [d.status, d.reason], [403, 'origin']);
    }
    // The same host under another scheme or port is another origin.
    assert.equal(authorize(facts({ origin: 'https://127.0.0.1:8080', authorization: `Bearer ${TOKEN}` }), TOKEN, B).allow, false);
    assert.equal(authorize(facts({ origin: 'http://127.0.0.1:8081', authorization: `Bearer ${TOKEN}` }), TOKEN, B).allow, false);
  });

  it('a cookie-authenticated POST must carry Origin; one with our own Origin passes', () => {
    const post = facts({ method: 'POST', path: '/api/send', cookie: `sentinel_web_8080=${TOKEN}` });
    const d = authorize(post, TOKEN, B);
    assert.deepEqual(!d.allow && [d.status, d.reason], [403, 'origin']);
    assert.deepEqual(authorize({ ...post, origin: 'http://127.0.0.1:8080' }, TOKEN, B), { allow: true, via: 'cookie' });
    // Scripts and curl use the header: no Origin needed (a browser cannot add it cross-site).
    assert.deepEqual(authorize(facts({ method: 'POST', path: '/api/send', authorization: `Bearer ${TOKEN}` }), TOKEN, B), { allow: true, via: 'bearer' });
  });
});

describe('--web address', () => {
  it('a bare port is 127.0.0.1; addresses are kept; loopback is told apart', () => {
    assert.deepEqual(parseWebAddress('8080'), { host: '127.0.0.1', port: 8080, loopback: true });
    assert.deepEqual(parseWebAddress('localhost:0'), { host: '127.0.0.1', port: 0, loopback: true });
    assert.deepEqual(parseWebAddress('[::1]:9'), { host: '::1', port: 9, loopback: true });
    assert.deepEqual(parseWebAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080, loopback: false });
    assert.deepEqual(parseWebAddress('192.168.1.5:80'), { host: '192.168.1.5', port: 80, loopback: false });
  });

  it('refuses names, bad ports and junk with E_USAGE', () => {
    for (const bad of ['', 'x', 'example.com:80', '70000', '1.2.3.4:', ':80', '[::1]', '1.2.3.4:80:1']) {
      assert.throws(() => parseWebAddress(bad), (e) => isSentinelError(e, 'E_USAGE'), bad);
    }
  });

  it('URLs put IPv6 in brackets', () => {
    assert.equal(webUrl({ host: '::1', port: 8080 }), 'http://[::1]:8080/');
    assert.equal(webUrl({ host: '127.0.0.1', port: 8080 }), 'http://127.0.0.1:8080/');
  });
});
