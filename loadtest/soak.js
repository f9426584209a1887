// k6 soak of `authorizer serve` against the rotating issuer of loadtest/soak_issuer.py (run both
// with loadtest/soak). Each VU refreshes its tokens from the issuer every TOKEN_REFRESH_MS, so the
// good tokens are always signed by a key the issuer publishes; the bad ones must all get 401.
//
//   BASE_URL     the gateway, http://127.0.0.1:PORT
//   ISSUER_URL   the rotating issuer, http://127.0.0.1:PORT/
//   DURATION     (10m)   VUS (8)   BAD_SHARE (0.3)   TOKEN_REFRESH_MS (3000)
//
// Pass/fail: any wrong status (a good token not answered 2xx, a bad one not 401) fails the run.

import http from 'k6/http';
import { Counter } from 'k6/metrics';

const env = (name, fallback) => (__ENV[name] === undefined || __ENV[name] === '' ? fallback : __ENV[name]);
const BASE_URL = env('BASE_URL', 'http://127.0.0.1:3000').replace(/\/+$/, '');
const ISSUER_URL = env('ISSUER_URL', 'http://127.0.0.1:8000/').replace(/\/+$/, '');
const BAD_SHARE = Number(env('BAD_SHARE', 0.3));
const TOKEN_REFRESH_MS = Number(env('TOKEN_REFRESH_MS', 3000));

const wrongStatus = new Counter('wrong_status');

export const options = {
  scenarios: {
    soak: { executor: 'constant-vus', vus: Number(env('VUS', 8)), duration: env('DURATION', '10m') },
  },
  thresholds: {
    wrong_status: ['count==0'],
    'wrong_status{token:good}': ['count==0'],
    'wrong_status{token:bad}': ['count==0'],
    'http_reqs{token:good}': ['count>0'],
    'http_reqs{token:bad}': ['count>0'],
    // Tokens of a key the issuer retired must have been sent (and refused): the run must last
    // more than three rotations.
    'http_reqs{kind:retired}': ['count>0'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
  noConnectionReuse: false,
};

export function setup() {
  wrongStatus.add(0);
}

let tokens = null;
let fetchedAt = 0;

function current() {
  if (tokens === null || Date.now() - fetchedAt > TOKEN_REFRESH_MS) {
    const res = http.get(`${ISSUER_URL}/tokens`, { responseType: 'text', tags: { name: 'issuer /tokens', token: 'none' } });
    if (res.status !== 200) throw new Error(`issuer /tokens answered ${res.status}`);
    tokens = JSON.parse(res.body);
    fetchedAt = Date.now();
  }
  return tokens;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

// A good token with one character in the middle of its signature changed.
function tamper(token) {
  const dot = token.lastIndexOf('.');
  const at = dot + 1 + Math.floor((token.length - dot - 1) / 2);
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

function bad(t) {
  const kinds = ['foreign', 'expired', 'wrong_aud', 'tampered', 'garbage', 'missing'];
  if (t.retired.length > 0) kinds.push('retired', 'retired');
  const kind = pick(kinds);
  switch (kind) {
    case 'tampered':
      return [kind, `Bearer ${tamper(pick(t.good))}`];
    case 'garbage':
      return [kind, 'Bearer not.a.token'];
    case 'missing':
      return [kind, null];
    default:
      return [kind, `Bearer ${pick(t[kind])}`];
  }
}

export default function () {
  const t = current();
  const isBad = Math.random() < BAD_SHARE;
  const [kind, authorization] = isBad ? bad(t) : ['good', `Bearer ${pick(t.good)}`];
  const tags = { token: isBad ? 'bad' : 'good', kind };
  const params = {
    headers: authorization === null ? {} : { Authorization: authorization },
    tags,
    responseType: 'none',
    responseCallback: isBad ? http.expectedStatuses(401) : http.expectedStatuses({ min: 200, max: 299 }),
  };
  const post = Math.random() < 0.1;
  const res = post
    ? http.post(`${BASE_URL}/pets`, '{"type":"cat","price":12.5}', { ...params, headers: { ...params.headers, 'Content-Type': 'application/json' } })
    : http.get(`${BASE_URL}/pets`, params);
  const ok = isBad ? res.status === 401 : res.status >= 200 && res.status <= 299;
  if (!ok) {
    wrongStatus.add(1, { token: tags.token, kind, status: String(res.status), period: String(t.period) });
  }
}
