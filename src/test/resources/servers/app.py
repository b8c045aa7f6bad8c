"""The WSGI app every real server in RealServersTest serves: hello, with the pid of the process that answered."""
import json
import os


def application(environ, start_response):
    body = json.dumps({
        "hello": "world",
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "server": environ.get("SERVER_SOFTWARE", ""),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
