"""A scriptable app for Berth's tests: a real HTTP server on $HOST:$PORT whose behaviour the test chooses.

Environment (all optional):
  START_DELAY_MS=N   sleep N ms before listening
  NEVER_LISTEN=1     print a line and never listen
  EXIT_EARLY=N       print a line and exit with status N before listening
  GRANDCHILD=1       fork a grandchild that ignores SIGTERM and sleeps (its pid: GET /pids)
  IGNORE_TERM=1      this process ignores SIGTERM too
  STARTS_FILE=path   append this process's pid to path at start (tests count starts)
  HOG_MB=N           allocate and touch N MiB before listening
  SPEW_MB=N          write N MiB of 100-byte lines to stdout as fast as it can before listening
  LISTEN_EARLY_MS=N  listen at once but answer nothing for N ms (like uWSGI loading its app)
  DAEMONIZE=1        double-fork: the server runs in a grandchild in a new session; the parent exits 0
Endpoints:
  GET  /echo              JSON: method, path, headers, client address
  GET  /pids              JSON: pid, grandchild pid
  POST /upload            reads the body (Content-Length or chunked), answers its size
  GET  /download?bytes=N  N bytes of body (Content-Length; add &chunked=1 for chunked); HEAD: the head only
  GET  /sleep?ms=N        answers after N ms
  POST /sleep?ms=N        answers after N ms without reading the body (then closes the connection)
  GET|POST /die           exits at once without answering
  GET  /whoami            JSON: uid, gid, groups, environment
  GET  /read?path=P       JSON: whether this process can read file P
  GET  /signal?pid=N      JSON: whether this process may signal pid N (signal 0)
  GET  /fork?n=N          tries to fork N children that sleep 30 s; answers how many forks succeeded
  GET  /ws                WebSocket (Upgrade: websocket): echoes every text or binary message; answers close
  GET|POST /drop          closes the connection without answering (the process goes on)
  GET  /count             JSON: how many requests (even bad ones) this process has read, not counting /count
  GET  /status?code=N     answers status N with a small JSON body
  GET  /burn?ms=N         keeps one CPU busy for N ms of CPU time, then answers
  GET  /hog?mb=N          allocates and touches N MiB (kept until the process ends), then answers
"""
import base64
import hashlib
import json
import os
import struct
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

GRANDCHILD_PID = None
HOGS = []
REQUEST_LINES = 0
CHUNK = 256 * 1024
BLOCK = bytes(range(256)) * (CHUNK // 256)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def parse_request(self):
        global REQUEST_LINES
        ok = super().parse_request()
        if not (ok and self.path == "/count"):
            REQUEST_LINES += 1
        return ok

    def log_message(self, fmt, *args):
        print("request %s" % (fmt % args), flush=True)

    def reply(self, obj, status=200):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return n
                left = size
                while left:
                    got = len(self.rfile.read(min(left, CHUNK)))
                    if not got:
                        raise IOError("body ended early")
                    left -= got
                n += size
                self.rfile.readline()
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            got = len(self.rfile.read(min(left, CHUNK)))
            if not got:
                raise IOError("body ended early")
            left -= got
            n += got
        return n

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        if url.path == "/drop":
            return self.drop()
        if url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if url.path == "/count":
            return self.reply({"requests": REQUEST_LINES})
        if url.path == "/pids":
            return self.reply({"pid": os.getpid(), "grandchild": GRANDCHILD_PID})
        if url.path == "/download":
            total = int(q["bytes"][0])
            chunked = q.get("chunked") == ["1"]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(total))
            self.end_headers()
            left = total
            while left:
                part = BLOCK[:min(left, CHUNK)]
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                else:
                    self.wfile.write(part)
                left -= len(part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            return
        if url.path == "/sleep":
            time.sleep(int(q["ms"][0]) / 1000)
            return self.reply({"slept_ms": int(q["ms"][0]), "pid": os.getpid()})
        if url.path == "/die":
            os._exit(7)
        if url.path == "/status":
            return self.reply({"status": int(q["code"][0])}, int(q["code"][0]))
        if url.path == "/burn":
            end = time.process_time() + int(q["ms"][0]) / 1000
            n = 0
            while time.process_time() < end:
                n += 1
            return self.reply({"burned_ms": int(q["ms"][0]), "loops": n})
        if url.path == "/hog":
            HOGS.append(bytearray(int(q["mb"][0]) << 20))
            for i in range(0, len(HOGS[-1]), 4096):
                HOGS[-1][i] = 1
            return self.reply({"hogging_mb": sum(len(h) for h in HOGS) >> 20})
        if url.path == "/whoami":
            return self.reply({"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
                               "env": dict(os.environ), "cwd": os.getcwd()})
        if url.path == "/read":
            try:
                with open(q["path"][0]) as f:
                    f.read()
                return self.reply({"ok": True})
            except OSError as e:
                return self.reply({"ok": False, "error": e.strerror})
        if url.path == "/signal":
            try:
                os.kill(int(q["pid"][0]), 0)
                return self.reply({"ok": True})
            except OSError as e:
                return self.reply({"ok": False, "error": e.strerror})
        if url.path == "/fork":
            made = 0
            for _ in range(int(q["n"][0])):
                try:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    made += 1
                except OSError:
                    break
            return self.reply({"forked": made})
        return self.echo()

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if length < 126:
                out = bytes([0x80 | opcode, length])
            elif length < 65536:
                out = bytes([0x80 | opcode, 126]) + struct.pack(">H", length)
            else:
                out = bytes([0x80 | opcode, 127]) + struct.pack(">Q", length)
            self.wfile.write(out + data)
            self.wfile.flush()
            if opcode == 8:
                return

    def do_HEAD(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", q.get("bytes", ["0"])[0])
        self.end_headers()

    def drop(self):
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def do_POST(self):
        url = urlparse(self.path)
        if url.path == "/drop":
            return self.drop()
        if url.path == "/die":
            os._exit(7)
        if url.path == "/upload":
            return self.reply({"bytes": self.read_body()})
        if url.path == "/sleep":
            ms = int(parse_qs(url.query)["ms"][0])
            time.sleep(ms / 1000)
            self.close_connection = True
            return self.reply({"slept_ms": ms})
        return self.echo(self.read_body())

    def echo(self, body_bytes=0):
        self.reply({
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "client": "%s:%d" % self.client_address,
            "body_bytes": body_bytes,
            "env_port": os.environ.get("PORT"),
            "env_host": os.environ.get("HOST"),
            "env": {k: v for k, v in os.environ.items() if k.startswith("TEST_")},
        })


def main():
    global GRANDCHILD_PID
    if os.environ.get("STARTS_FILE"):
        with open(os.environ["STARTS_FILE"], "a") as f:
            f.write("%d\n" % os.getpid())
    if os.environ.get("DAEMONIZE") == "1":
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
    if os.environ.get("SPEW_MB"):
        block = (b"x" * 99 + b"\n") * 10486  # ~1 MiB
        t = time.time()
        for _ in range(int(os.environ["SPEW_MB"])):
            sys.stdout.buffer.write(block)
        sys.stdout.flush()
        print("spewed %s MiB in %.2f s" % (os.environ["SPEW_MB"], time.time() - t), flush=True)
    if os.environ.get("HOG_MB"):
        hog = bytearray(int(os.environ["HOG_MB"]) << 20)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    if os.environ.get("IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.environ.get("GRANDCHILD") == "1":
        child = subprocess.Popen([sys.executable, "-c",
                                  "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(3600)"])
        GRANDCHILD_PID = child.pid
    print("testapp pid %d starting, port %s" % (os.getpid(), os.environ.get("PORT")), flush=True)
    if os.environ.get("EXIT_EARLY"):
        print("testapp: exiting early as asked", flush=True)
        sys.exit(int(os.environ["EXIT_EARLY"]))
    if os.environ.get("NEVER_LISTEN") == "1":
        print("testapp: not listening, as asked", flush=True)
        while True:
            time.sleep(3600)
    time.sleep(int(os.environ.get("START_DELAY_MS", "0")) / 1000)
    server = ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
    time.sleep(int(os.environ.get("LISTEN_EARLY_MS", "0")) / 1000)
    server.daemon_threads = True
    print("testapp listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
