#!/usr/bin/env python3
"""A rotating test issuer for loadtest/soak, on 127.0.0.1 only.

Every ROTATE seconds a new RSA-2048 key becomes the signing key. The JWKS publishes the previous,
the current and the next key (the next one ahead of use, as real issuers do), so a token is only
ever signed by a key `serve` can already know. For each period it mints, independently of the
authorizer's own code (Python `cryptography`):

  good      signed by the current key, valid                                  -> expect 2xx
  retired   good tokens of three periods ago: their key left the JWKS >= one
            period ago, and `serve` refreshes every 10 s                      -> expect 401
  foreign   a key never published, under random kids                          -> expect 401
  expired   the current key, exp in the past                                  -> expect 401
  wrong_aud the current key, another audience                                 -> expect 401

GET /.well-known/jwks.json   the key set
GET /tokens                  {"period", "good": [...], "retired": [...], "foreign": [...], ...}
GET /stats                   {"period", "rotations", "jwks_requests", "token_requests"}

    loadtest/soak_issuer.py [--rotate 30] [--good 200] [--audience URL]

Prints `issuer http://127.0.0.1:PORT/` once it serves. Stops on SIGTERM or SIGINT.
"""
import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    def __init__(self, kid: str):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = self.private.public_key().public_numbers()
        self.jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": uint(pub.n), "e": uint(pub.e)}

    def sign(self, claims: dict, kid: str | None = None) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"


class Issuer:
    def __init__(self, base: str, audience: str, good: int):
        self.base, self.audience, self.good_count = base, audience, good
        self.lock = threading.Lock()
        self.period = -1
        self.keys: dict[int, Key] = {}
        self.good: dict[int, list[str]] = {}
        self.foreign_key = Key("never-published")
        self.stats = {"rotations": 0, "jwks_requests": 0, "token_requests": 0}
        self.jwks = "{}"
        self.tokens = "{}"

    def claims(self, **changes) -> dict:
        now = int(time.time())
        c = {"iss": self.base, "sub": f"soak|{os.urandom(4).hex()}", "aud": self.audience,
             "iat": now, "exp": now + 3600, "scope": "read:pets write:pets", "jti": os.urandom(8).hex()}
        c.update(changes)
        return c

    def key(self, period: int) -> Key:
        if period not in self.keys:
            self.keys[period] = Key(f"soak-{period}-{os.urandom(3).hex()}")
        return self.keys[period]

    def rotate(self):
        """Moves to the next period: new signing key, pre-published successor, fresh tokens."""
        period = self.period + 1
        current = self.key(period)
        self.key(period + 1)  # the successor, published one period ahead of use
        published = [self.keys[p].jwk for p in (period - 1, period, period + 1) if p in self.keys]
        good = [current.sign(self.claims()) for _ in range(self.good_count)]
        now = int(time.time())
        tokens = {
            "period": period,
            "good": good,
            "retired": self.good.get(period - 3, []),
            "foreign": [self.foreign_key.sign(self.claims(), kid=f"random-{os.urandom(6).hex()}") for _ in range(40)],
            "expired": [current.sign(self.claims(iat=now - 7200, exp=now - 3600)) for _ in range(20)],
            "wrong_aud": [current.sign(self.claims(aud="https://someone-else.example")) for _ in range(20)],
        }
        self.good[period] = good
        for old in [p for p in self.keys if p < period - 4]:
            del self.keys[old]
        for old in [p for p in self.good if p < period - 4]:
            del self.good[old]
        with self.lock:
            self.period = period
            self.jwks = json.dumps({"keys": published})
            self.tokens = json.dumps(tokens)
            if period > 0:
                self.stats["rotations"] += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rotate", type=float, default=30.0, help="seconds between key rotations")
    parser.add_argument("--good", type=int, default=200, help="good tokens minted per period")
    parser.add_argument("--audience", default="https://api.example.com")
    args = parser.parse_args()

    issuer = None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            with issuer.lock:
                if self.path == "/.well-known/jwks.json":
                    issuer.stats["jwks_requests"] += 1
                    body = issuer.jwks
                elif self.path == "/tokens":
                    issuer.stats["token_requests"] += 1
                    body = issuer.tokens
                elif self.path == "/stats":
                    body = json.dumps({"period": issuer.period, **issuer.stats})
                else:
                    self.send_error(404)
                    return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    issuer = Issuer(base, args.audience, args.good)
    issuer.rotate()

    def rotations():
        next_at = time.monotonic() + args.rotate
        while True:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += args.rotate
            issuer.rotate()

    threading.Thread(target=rotations, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"issuer {base}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
