// k6 load test of the PetStore API behind jwt-authorizer: the local gateway (`authorizer serve`)
// or a deployed API Gateway stage, chosen by BASE_URL. Everything is set by environment variables
// (see loadtest/README.md); `loadtest/run-local` sets them for the local gateway.
//
//   SCENARIO       cached | uncached | mixed | ramp | coldstart            (default uncached)
//   BASE_URL       http://127.0.0.1:3000, or https://<api>.execute-api.<region>.amazonaws.com/prod
//   DURATION       how long the scenario runs (ramp: the length of the ramp)  (default 30s)
//
// Token source, the first one set wins:
//   TOKENS_FILE    a file of good tokens, one per line (`authorizer token --count N`)
//   TOKEN          one good token
//   OAUTH_TOKEN_URL, CLIENT_ID, CLIENT_SECRET, AUDIENCE
//                  a client-credentials grant in setup() (Auth0: https://<tenant>/oauth/token);
//                  OAUTH_TOKEN_COUNT grants (default 1), each a distinct token
//
// Bad tokens (scenario mixed), each answer must be 401:
//   BAD_SHARE            share of requests sent with a bad token (default 0.2)
//   EXPIRED_TOKENS_FILE  expired tokens (`authorizer token --ttl -60 --count N`)
//   FOREIGN_TOKENS_FILE  tokens signed by a key the issuer does not publish (another `--key`)
//   always: tampered (a good token with one signature character changed), garbage, no header.
//
// Load shape:
//   VUS (16) closed-model virtual users; CACHED_TOKENS (10) tokens in `cached`;
//   ROUTE_MIX ("list=60,get=30,create=10"): GET /pets, GET /pets/{1..3}, POST /pets;
//   RAMP_START_RATE (50) / RAMP_MAX_RATE (4000) req/s and MAX_VUS (400) for `ramp`;
//   COLDSTART_VUS (20) concurrent first requests and COLDSTART_WARM (5) more per VU.
//
// Pass/fail: WRONG statuses (a good token not answered 2xx, a bad one not answered 401) fail the
// run, and so do P95_MS (500) / P99_MS (1000) on http_req_duration.

import http from 'k6/http';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';
import { Counter, Trend } from 'k6/metrics';

const env = (name, fallback) => {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
};
const num = (name, fallback) => {
  const value = Number(env(name, fallback));
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, not ${__ENV[name]}`);
  return value;
};

const SCENARIO = env('SCENARIO', 'uncached');
const BASE_URL = env('BASE_URL', 'http://127.0.0.1:3000').replace(/\/+$/, '');
const DURATION = env('DURATION', '30s');
const VUS = num('VUS', 16);
const BAD_SHARE = SCENARIO === 'mixed' ? num('BAD_SHARE', 0.2) : 0;
const CACHED_TOKENS = num('CACHED_TOKENS', 10);
const AUTH_OFF = env('AUTH', 'on') === 'off'; // the --no-auth baseline: every request is expected 2xx

const SCENARIOS = ['cached', 'uncached', 'mixed', 'ramp', 'coldstart'];
if (!SCENARIOS.includes(SCENARIO)) {
  throw new Error(`SCENARIO must be one of ${SCENARIOS.join(', ')}, not ${SCENARIO}`);
}
if (BAD_SHARE < 0 || BAD_SHARE > 1) throw new Error('BAD_SHARE must be between 0 and 1');
if (AUTH_OFF && BAD_SHARE > 0) throw new Error('AUTH=off (baseline) cannot check bad tokens: use BAD_SHARE=0');

// ------------------------------------------------------------------ tokens

const lines = (path) =>
  open(path)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);

const fileTokens = (name) => {
  const path = env(name, '');
  if (!path) return [];
  const tokens = new SharedArray(name, () => lines(path));
  if (tokens.length === 0) throw new Error(`${name} (${path}) holds no tokens`);
  return tokens;
};

const GOOD_FILE = fileTokens('TOKENS_FILE');
const EXPIRED = fileTokens('EXPIRED_TOKENS_FILE');
const FOREIGN = fileTokens('FOREIGN_TOKENS_FILE');

// A good token with one character in the middle of its signature changed: well formed, right kid,
// bad signature.
function tamper(token) {
  const dot = token.lastIndexOf('.');
  const at = dot + 1 + Math.floor((token.length - dot - 1) / 2);
  const swapped = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + swapped + token.slice(at + 1);
}

// ------------------------------------------------------------------ metrics

// A good token answered other than 2xx, or a bad one answered other than 401 (tags: token, status).
const wrongStatus = new Counter('wrong_status');
// Good-token requests served after the token pool ran out (uncached/mixed/ramp/coldstart reuse
// tokens from then on, which a cache may answer).
const tokenReuse = new Counter('token_reuse');
// coldstart: the first request of each VU (a new token, so API Gateway must call the authorizer).
const firstRequest = new Trend('coldstart_first_request', true);

// ------------------------------------------------------------------ the load shape

const duration = DURATION;
const shapes = {
  cached: { executor: 'constant-vus', vus: VUS, duration },
  uncached: { executor: 'constant-vus', vus: VUS, duration },
  mixed: { executor: 'constant-vus', vus: VUS, duration },
  ramp: {
    executor: 'ramping-arrival-rate',
    startRate: num('RAMP_START_RATE', 50),
    timeUnit: '1s',
    preAllocatedVUs: VUS,
    maxVUs: num('MAX_VUS', 400),
    stages: [{ target: num('RAMP_MAX_RATE', 4000), duration }],
  },
  coldstart: {
    executor: 'per-vu-iterations',
    vus: num('COLDSTART_VUS', 20),
    iterations: 1 + num('COLDSTART_WARM', 5),
    maxDuration: duration,
  },
};

const P95 = num('P95_MS', 500);
const P99 = num('P99_MS', 1000);

export const options = {
  scenarios: { [SCENARIO]: { ...shapes[SCENARIO], tags: { scenario: SCENARIO } } },
  thresholds: {
    wrong_status: ['count==0'],
    'wrong_status{token:good}': ['count==0'],
    'wrong_status{token:bad}': ['count==0'],
    http_req_duration: [`p(95)<${P95}`, `p(99)<${P99}`],
    'http_req_duration{token:good}': [`p(95)<${P95}`, `p(99)<${P99}`],
    // Submetrics only, for the summary: the latency of refusals and the count of each kind.
    'http_req_duration{token:bad}': ['max>=0'],
    'http_reqs{token:good}': ['count>=0'],
    'http_reqs{token:bad}': ['count>=0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  discardResponseBodies: true,
  // The local gateway and API Gateway both keep connections alive; so do real clients.
  noConnectionReuse: false,
  setupTimeout: '60s',
};

// ------------------------------------------------------------------ setup: the OAuth grant

export function setup() {
  wrongStatus.add(0); // the thresholds then always have a sample
  tokenReuse.add(0);
  if (GOOD_FILE.length > 0 || env('TOKEN', '')) return { tokens: [] };
  const url = env('OAUTH_TOKEN_URL', '');
  if (!url) {
    throw new Error('no token source: set TOKENS_FILE, TOKEN, or OAUTH_TOKEN_URL with CLIENT_ID, CLIENT_SECRET, AUDIENCE');
  }
  const body = JSON.stringify({
    grant_type: 'client_credentials',
    client_id: env('CLIENT_ID', ''),
    client_secret: env('CLIENT_SECRET', ''),
    audience: env('AUDIENCE', ''),
  });
  const tokens = [];
  const count = num('OAUTH_TOKEN_COUNT', 1);
  for (let i = 0; i < count; i += 1) {
    const res = http.post(url, body, {
      headers: { 'Content-Type': 'application/json' },
      responseType: 'text',
      tags: { name: 'oauth token' },
    });
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${res.body}`);
    const token = res.json('access_token');
    if (!token) throw new Error(`${url} answered no access_token`);
    tokens.push(token);
  }
  return { tokens };
}

// ------------------------------------------------------------------ requests

function parseMix(text) {
  const weights = { list: 0, get: 0, create: 0 };
  for (const part of text.split(',')) {
    const [name, weight] = part.split('=').map((s) => s.trim());
    if (!(name in weights) || !Number.isFinite(Number(weight)) || Number(weight) < 0) {
      throw new Error(`ROUTE_MIX: "${part}" is not list=N, get=N or create=N`);
    }
    weights[name] = Number(weight);
  }
  const total = weights.list + weights.get + weights.create;
  if (total <= 0) throw new Error('ROUTE_MIX: the weights add up to 0');
  return [
    ['list', weights.list / total],
    ['get', weights.get / total],
    ['create', weights.create / total],
  ];
}
const MIX = parseMix(env('ROUTE_MIX', 'list=60,get=30,create=10'));

function pick(weighted) {
  let r = Math.random();
  for (const [name, weight] of weighted) {
    if (r < weight) return name;
    r -= weight;
  }
  return weighted[weighted.length - 1][0];
}

const EXPECT_401 = http.expectedStatuses(401);
const EXPECT_2XX = http.expectedStatuses({ min: 200, max: 299 });

function send(route, authorization, tags) {
  const params = {
    headers: authorization === null ? {} : { Authorization: authorization },
    tags,
    // A refusal is the expected answer for a bad token, not a failed request.
    responseCallback: tags.token === 'bad' ? EXPECT_401 : EXPECT_2XX,
  };
  switch (route) {
    case 'list':
      params.tags.name = 'GET /pets';
      return http.get(`${BASE_URL}/pets`, params);
    case 'get':
      params.tags.name = 'GET /pets/{petId}';
      return http.get(`${BASE_URL}/pets/${1 + Math.floor(Math.random() * 3)}`, params);
    default:
      params.tags.name = 'POST /pets';
      params.headers['Content-Type'] = 'application/json';
      return http.post(`${BASE_URL}/pets`, '{"type":"cat","price":12.5}', params);
  }
}

// The good token for this iteration: few tokens for `cached`, otherwise the next unused one.
function goodToken(data) {
  const pool = GOOD_FILE.length > 0 ? GOOD_FILE : env('TOKEN', '') ? [env('TOKEN', '')] : data.tokens;
  if (SCENARIO === 'cached') {
    return pool[Math.floor(Math.random() * Math.min(CACHED_TOKENS, pool.length))];
  }
  // coldstart: one token per VU, new to API Gateway on the VU's first request.
  const n = SCENARIO === 'coldstart' ? exec.vu.idInTest - 1 : exec.scenario.iterationInTest;
  if (n >= pool.length && !(SCENARIO === 'coldstart' && exec.vu.iterationInScenario > 0)) tokenReuse.add(1);
  return pool[n % pool.length];
}

const BAD_KINDS = ['tampered', 'garbage', 'missing']
  .concat(EXPIRED.length > 0 ? ['expired'] : [])
  .concat(FOREIGN.length > 0 ? ['foreign'] : []);

function badAuthorization(data) {
  const kind = BAD_KINDS[Math.floor(Math.random() * BAD_KINDS.length)];
  switch (kind) {
    case 'tampered':
      return [kind, `Bearer ${tamper(goodToken(data))}`];
    case 'garbage':
      return [kind, 'Bearer not.a.token'];
    case 'missing':
      return [kind, null];
    case 'expired':
      return [kind, `Bearer ${EXPIRED[Math.floor(Math.random() * EXPIRED.length)]}`];
    default:
      return [kind, `Bearer ${FOREIGN[Math.floor(Math.random() * FOREIGN.length)]}`];
  }
}

export default function (data) {
  const route = pick(MIX);
  const bad = BAD_SHARE > 0 && Math.random() < BAD_SHARE;
  let res;
  if (bad) {
    const [kind, authorization] = badAuthorization(data);
    res = send(route, authorization, { token: 'bad', bad_kind: kind });
    if (res.status !== 401) wrongStatus.add(1, { token: 'bad', bad_kind: kind, status: String(res.status) });
  } else {
    res = send(route, `Bearer ${goodToken(data)}`, { token: 'good' });
    if (res.status < 200 || res.status > 299) wrongStatus.add(1, { token: 'good', status: String(res.status) });
  }
  if (SCENARIO === 'coldstart' && exec.vu.iterationInScenario === 0) firstRequest.add(res.timings.duration);
}
