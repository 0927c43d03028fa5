"""An OTLP/HTTP endpoint that accepts every export and keeps nothing, for benchmarks that trace.

A benchmark with tracing on needs a collector that answers at once: with none listening, the
exporter's retries and back-off would be measured instead of tracing. Serve it, then point the
server at it::

    .venv/bin/python bench/otlp_sink.py --port 4318 &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 .venv/bin/python bench/catalog.py ...
"""

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class DiscardingHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silent: one line per export would only add noise to the benchmark's output."""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=4318)
    ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), DiscardingHandler).serve_forever()
