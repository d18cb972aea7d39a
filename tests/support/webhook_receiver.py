"""A webhook receiver for the tests: a real HTTP server in a thread that records every POST and
answers with the statuses a test queues (200 once the queue is empty)."""

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Long and unguessable, as a Slack or Teams URL's path is: a test can look for it anywhere.
SECRET_PATH = "/services/T0KBSYNC/B0WEBHOOK/kbsyncWebhookSecretPathDoNotLeak0123456789"


class WebhookReceiver:
    def __init__(self):
        self.received: list[dict] = []
        self.statuses: deque[int] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                    receiver.received.append(
                        {
                            "path": self.path,
                            "contentType": self.headers.get("Content-Type"),
                            "body": json.loads(raw),
                            "status": status,
                        }
                    )
                answer = b"ok" if status == 200 else b"no_service"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{SECRET_PATH}"

    def answer(self, *statuses: int) -> None:
        """The statuses of the next requests, in order (200 after them)."""
        with self._lock:
            self.statuses.extend(statuses)

    def messages(self) -> list[dict]:
        """The bodies of the requests answered 200."""
        with self._lock:
            return [hit["body"] for hit in self.received if hit["status"] == 200]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Wait until `count` requests arrived (whatever their answer); all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{count} webhook requests expected, got {len(self.received)}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._server.shutdown()
        self._server.server_close()
