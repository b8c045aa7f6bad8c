"""A tiny demo app: answers every request with a greeting, on $HOST:$PORT as Berth asks."""
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.time()


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({
            "hello": "from an app hosted by Berth",
            "host": self.headers.get("Host"),
            "pid": os.getpid(),
            "port": int(os.environ["PORT"]),
            "up_for_seconds": round(time.time() - STARTED, 3),
            "x_forwarded_for": self.headers.get("X-Forwarded-For"),
        }, indent=2).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


if __name__ == "__main__":
    server = ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Hello)
    print("hello app listening on %s:%s" % server.server_address, flush=True)
    server.serve_forever()
