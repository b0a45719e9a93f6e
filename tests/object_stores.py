"""Loopback stand-ins for where users keep images: an HTTP server, S3 (moto's server) and GCS.

Each is a real server on 127.0.0.1 (port 0, chosen by the OS) in a thread, so dicec's real clients
(urllib, boto3, google-cloud-storage) are tested with no network:

* :class:`HttpImages`: serves ``objects`` (path -> bytes) over HTTP; a path in ``stall`` answers its
  headers and then sends nothing for that many seconds; ``basic_auth`` (user, password) refuses any
  request without it (401); ``redirects`` (path -> Location) answers 302; ``no_length`` paths are
  sent without ``Content-Length`` (read to the end of the connection). Every request's path and
  headers (names in lower case) are recorded.
* :class:`GcsStandIn`: the JSON API's object download (``GET .../b/BUCKET/o/OBJECT?alt=media``, the
  URL google-cloud-storage builds under ``STORAGE_EMULATOR_HOST``) with the ``x-goog-hash`` checksums
  GCS sends; 404 for an unknown object, 403 for a bucket in ``forbidden``, a wrong checksum for an
  object in ``corrupt``.
* :func:`moto_s3`: moto's S3 in server mode (``moto[server]``), with the ``AWS_*`` environment a pod
  would have pointing boto3 at it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import unquote, urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _StandIn:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread; subclasses give the handler's ``answer``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                owner.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None,
             *, length: bool = True) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(body)


class HttpImages(_StandIn):
    """An HTTP image server (see the module's docstring)."""

    def __init__(self, objects: dict[str, bytes], *, stall: dict[str, float] | None = None,
                 basic_auth: tuple[str, str] | None = None, redirects: dict[str, str] | None = None,
                 no_length: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.objects, self.stall, self.basic_auth = objects, stall or {}, basic_auth
        self.redirects, self.no_length = redirects or {}, no_length

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        if self.basic_auth is not None:
            expected = "Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode()
            if handler.headers.get("Authorization") != expected:
                return self.send(handler, 401, b"unauthorized", {"WWW-Authenticate": 'Basic realm="images"'})
        if path in self.redirects:
            return self.send(handler, 302, b"", {"Location": self.redirects[path]})
        if path not in self.objects:
            return self.send(handler, 404, b"not found")
        body = self.objects[path]
        if path in self.stall:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:10])
            handler.wfile.flush()
            time.sleep(self.stall[path])
            return None
        return self.send(handler, 200, body, {"Content-Type": "application/octet-stream"},
                         length=path not in self.no_length)


class GcsStandIn(_StandIn):
    """The object download of GCS's JSON API (see the module's docstring)."""

    def __init__(self, objects: dict[tuple[str, str], bytes], *, forbidden: tuple[str, ...] = (),
                 corrupt: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__()
        self.objects, self.forbidden, self.corrupt = objects, forbidden, corrupt

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        import google_crc32c

        parts = urlsplit(handler.path)
        head, sep, name = parts.path.partition("/o/")
        bucket = head.rpartition("/b/")[2]
        if not sep and bucket:  # the client's bucket metadata lookup (for its telemetry)
            return self.send(handler, 200, json.dumps({"name": unquote(bucket), "projectNumber": "1",
                                                       "location": "US"}).encode(), {"Content-Type": "application/json"})
        if not sep or "alt=media" not in parts.query:
            return self._error(handler, 404, "only object downloads are served here")
        key = (unquote(bucket), unquote(name))
        if key[0] in self.forbidden:
            return self._error(handler, 403, "caller does not have storage.objects.get access")
        if key not in self.objects:
            return self._error(handler, 404, "No such object")
        body = self.objects[key]
        crc = google_crc32c.Checksum(b"" if key in self.corrupt else body).digest()
        md5 = hashlib.md5(b"" if key in self.corrupt else body).digest()
        return self.send(handler, 200, body, {
            "Content-Type": "application/octet-stream", "x-goog-generation": "1",
            "x-goog-hash": f"crc32c={base64.b64encode(crc).decode()},md5={base64.b64encode(md5).decode()}"})

    def _error(self, handler: BaseHTTPRequestHandler, code: int, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        self.send(handler, code, body, {"Content-Type": "application/json"})


#: The variables a pod's AWS credentials (or a developer's shell) may set, cleared around the S3 stand-in.
AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION")


def loopback_env(monkeypatch, tmp_path) -> None:
    """No proxy, no cloud credentials or config from the developer's shell: clients reach only loopback."""
    for name in (*AWS_VARIABLES, "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "DICEC_IMAGE_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never the instance metadata address
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # google-auth's metadata probe: a closed loopback port
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@contextmanager
def moto_s3(monkeypatch, *, credentials: bool = True) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, with boto3 pointed at it through ``AWS_ENDPOINT_URL_S3`` (as a pod
    using an S3-compatible store would be); yields the endpoint URL. ``credentials``: set the
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` a Secret's ``envFrom`` gives (else none at all)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        if credentials:
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDICECTEST")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dicec-test-secret")
        yield endpoint
    finally:
        server.stop()


def put_s3(endpoint: str, bucket: str, key: str, data: bytes, *, public: bool = False) -> None:
    """Create ``bucket`` (if needed) and put ``data`` at ``key`` in the stand-in, signed as a test user
    (``public``: readable by anyone, with the ``public-read`` ACL)."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDSETUP",
                          aws_secret_access_key="setup")
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.put_object(Bucket=bucket, Key=key, Body=data, **({"ACL": "public-read"} if public else {}))
