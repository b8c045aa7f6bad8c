"""The smallest honest web app for density runs: answers every GET with 200 "hello\n" on $HOST:$PORT, keep-alive,
a thread per connection. Started as `python3 -I -S tinyapp.py` (no site packages): about 9 MB per process."""
import os
import socket
import threading

BODY = b"hello\n"
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s" % (len(BODY), BODY)


def serve(c):
    data = b""
    try:
        while True:
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, data = data.split(b"\r\n\r\n", 1)
            c.sendall(REPLY)
            if b"connection: close" in head.lower():
                return
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])))
s.listen(64)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
