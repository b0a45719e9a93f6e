"""Fetching an input image's bytes from the URI a workflow was given: ``http(s)://``, ``s3://``, ``gs://``.

The README's own submit line passes ``-p image=s3://bucket/car.jpg``, and every step reads the image
itself (``--image URI``), so a step must read what users store images in. Local paths and ``file://``
stay with :func:`dicec.runtime.images.load_image`; this module reads the rest:

* ``http://`` and ``https://`` with the standard library (redirects only to http/https; the usual
  ``HTTP(S)_PROXY``/``NO_PROXY``; user:password in the URI becomes basic auth, never a message);
* ``s3://BUCKET/KEY`` with boto3, credentials as botocore finds them in a pod: ``AWS_*`` variables (a
  Secret's keys through ``envFrom``), IRSA's web-identity token (``AWS_ROLE_ARN`` +
  ``AWS_WEB_IDENTITY_TOKEN_FILE``), EKS Pod Identity, shared files, instance metadata; no credentials
  at all reads a public object unsigned. ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) points at
  an S3-compatible store (MinIO, a test's stand-in);
* ``gs://BUCKET/OBJECT`` with google-cloud-storage, credentials from ``GOOGLE_APPLICATION_CREDENTIALS``,
  GKE Workload Identity (the metadata server), or a service-account key file named
  :data:`GCS_KEY_FILE` in the folder ``$DICEC_IMAGE_CREDENTIALS`` (where ``dicec compile
  --image-secret`` mounts a Secret); none at all reads a public object anonymously.
  ``STORAGE_EMULATOR_HOST`` points at an emulator.

Each download is bounded: at most ``max_bytes`` (refused as soon as a declared length or the bytes
streamed so far pass it, never read whole first), :data:`CONNECT_TIMEOUT_S` to connect,
:data:`READ_TIMEOUT_S` for any one read and :data:`TOTAL_TIMEOUT_S` in all. A failure is one line that
names the URI as :func:`shown_uri` gives it (no user:password, no query string: a presigned URL's
signature is a credential) and never quotes a credential. The libraries are imported only when their
scheme is read, so a step that reads a local file pays nothing for them.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

from dicec.errors import DicecError, Location

#: The schemes read here (``file://`` and paths are local: :mod:`dicec.runtime.images`).
REMOTE_SCHEMES = ("http", "https", "s3", "gs")
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
TOTAL_TIMEOUT_S = 300.0
CHUNK_BYTES = 1 << 20
#: Where ``dicec compile --image-secret NAME`` mounts the Secret's files, given to the step in this variable.
CREDENTIALS_DIR_ENV = "DICEC_IMAGE_CREDENTIALS"
CREDENTIALS_MOUNT = "/var/run/secrets/dicec/image-credentials"
#: A Google service-account (or workload-identity-federation) key file in that folder, used for ``gs://``
#: when ``GOOGLE_APPLICATION_CREDENTIALS`` is not set.
GCS_KEY_FILE = "gcp-service-account.json"
_GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names an image this module reads (``http(s)://``, ``s3://``, ``gs://``)."""
    scheme, sep, _ = uri.partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


def shown_uri(uri: str) -> str:
    """``uri`` as messages show it: without ``user:password@`` and with any query string cut to ``?...``."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port: show no more than the scheme
        return uri.partition("://")[0] + "://..."
    netloc = (f"[{host}]" if ":" in host else host) + port
    return urlunsplit((parts.scheme, netloc, parts.path, "..." if parts.query else "", ""))


class TooLarge(Exception):
    """A download went past its byte limit (raised from :class:`BoundedBuffer`; reported as one line)."""


class BoundedBuffer:
    """A write-only sink that holds at most ``limit`` bytes and gives up past :data:`TOTAL_TIMEOUT_S`.

    Attributes:
        limit: the most bytes it takes; one more raises :class:`TooLarge`.
        deadline: ``time.monotonic()`` past which a write raises :class:`TimeoutError`.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + TOTAL_TIMEOUT_S
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, chunk: bytes) -> int:
        self._size += len(chunk)
        if self._size > self.limit:
            raise TooLarge()
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"took longer than {TOTAL_TIMEOUT_S:g} s in all")
        self._parts.append(bytes(chunk))
        return len(chunk)

    def copy_from(self, stream: BinaryIO) -> None:
        """Read ``stream`` to its end in chunks, into this buffer."""
        while chunk := stream.read(CHUNK_BYTES):
            self.write(chunk)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def read_remote(uri: str, *, max_bytes: int) -> bytes:
    """The bytes of the object at ``uri`` (a scheme of :data:`REMOTE_SCHEMES`), at most ``max_bytes``."""
    scheme = uri.partition("://")[0].lower()
    where = Location(path=shown_uri(uri))
    sink = BoundedBuffer(max_bytes)
    reader = {"http": _read_http, "https": _read_http, "s3": _read_s3, "gs": _read_gcs}[scheme]
    try:
        reader(uri, sink=sink, where=where)
    except TooLarge:
        raise DicecError(f"image is over the {max_bytes}-byte limit", location=where) from None
    except TimeoutError as exc:
        raise DicecError(f"cannot read image: timed out ({exc or 'no answer'})", location=where) from None
    return sink.getvalue()


def _declared_too_large(length: Any, sink: BoundedBuffer) -> None:
    """Refuse before reading when the server already says the object is too big."""
    try:
        size = int(length)
    except (TypeError, ValueError):
        return
    if size > sink.limit:
        raise TooLarge()


def _bucket_key(uri: str, where: Location) -> tuple[str, str]:
    """``s3://BUCKET/KEY`` -> (BUCKET, KEY), taken as written: a key is not percent-decoded (as the AWS
    and gcloud tools read them)."""
    rest = uri.partition("://")[2]
    bucket, _, key = rest.partition("/")
    if not bucket or not key or key.endswith("/"):
        raise DicecError("an object URI needs a bucket and an object name (s3://BUCKET/KEY, gs://BUCKET/OBJECT)",
                         location=where)
    return bucket, key


# -- http(s) ----------------------------------------------------------------------------------------
def _read_http(uri: str, *, sink: BoundedBuffer, where: Location) -> None:
    import socket
    import urllib.error
    import urllib.request

    from dicec import __version__

    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        raise DicecError("an http(s) image URI with a malformed port", location=where) from None
    if not parts.hostname:
        raise DicecError("an http(s) image URI needs a host", location=where)
    headers = {"User-Agent": f"dicec/{__version__}", "Accept": "image/*, */*;q=0.5"}
    if parts.username is not None:  # basic auth from the URI; the URI sent carries no userinfo
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        uri = urlunsplit((parts.scheme, host + (f":{port}" if port else ""), parts.path,
                          parts.query, ""))
    opener = urllib.request.build_opener(_http_only_redirects())
    request = urllib.request.Request(uri, headers=headers)
    try:
        with opener.open(request, timeout=CONNECT_TIMEOUT_S) as response:
            _set_read_timeout(response)
            _declared_too_large(response.headers.get("Content-Length"), sink)
            sink.copy_from(response)
    except urllib.error.HTTPError as exc:
        raise DicecError(f"cannot read image: HTTP {exc.code} {exc.reason}", location=where) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise TimeoutError(f"no answer within {CONNECT_TIMEOUT_S:g} s") from None
        raise DicecError(f"cannot reach the server: {getattr(reason, 'strerror', None) or reason}",
                         location=where) from None
    except (socket.timeout, TimeoutError) as exc:
        raise TimeoutError(str(exc) or f"no data for {READ_TIMEOUT_S:g} s") from None
    except (OSError, ValueError) as exc:  # a reset connection, a malformed answer (http.client raises these)
        raise DicecError(f"cannot read image: {type(exc).__name__}: {exc}"[:300], location=where) from None


def _set_read_timeout(response: Any) -> None:
    """After connecting within :data:`CONNECT_TIMEOUT_S`, wait up to :data:`READ_TIMEOUT_S` for each read."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(READ_TIMEOUT_S)


def _http_only_redirects() -> type:
    """A urllib redirect handler that follows only http(s) redirects and keeps basic auth on its host."""
    import urllib.error
    import urllib.request

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        """Follows a redirect only to another http(s) URL."""

        def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 (urllib's signature)
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise urllib.error.HTTPError(newurl, code, "redirect to a scheme other than http(s)", headers, fp)
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and urlsplit(newurl).hostname != urlsplit(req.full_url).hostname:
                new.remove_header("Authorization")  # credentials stay with the host they were given for
            return new

    return HttpOnlyRedirects


# -- s3 -----------------------------------------------------------------------------------------------
def _read_s3(uri: str, *, sink: BoundedBuffer, where: Location) -> None:
    bucket, key = _bucket_key(uri, where)
    try:
        import boto3
        import botocore
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError
        from botocore.exceptions import ReadTimeoutError
    except ImportError:
        raise DicecError("reading s3:// images needs boto3 (pip install boto3)", location=where) from None
    from dicec import __version__

    session = boto3.session.Session()
    config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                    retries={"max_attempts": 3, "mode": "standard"}, user_agent_extra=f"dicec/{__version__}")
    try:
        if session.get_credentials() is None:  # nothing configured: a public object, read unsigned
            config = config.merge(Config(signature_version=botocore.UNSIGNED))
        client = session.client("s3", config=config)
        response = client.get_object(Bucket=bucket, Key=key)
        _declared_too_large(response.get("ContentLength"), sink)
        body = response["Body"]
        try:
            sink.copy_from(body)
        finally:
            body.close()
    except ClientError as exc:
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
        raise DicecError(f"cannot read image: {_s3_reason(code)}", location=where) from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise TimeoutError(f"no answer within {CONNECT_TIMEOUT_S:g} s to connect or {READ_TIMEOUT_S:g} s to read") \
            from None
    except EndpointConnectionError:
        raise DicecError("cannot reach the S3 endpoint (check AWS_REGION / AWS_ENDPOINT_URL_S3 and the network)",
                         location=where) from None
    except BotoCoreError as exc:  # credentials that cannot be loaded, a malformed answer, ...
        raise DicecError(f"cannot read image: {type(exc).__name__}", location=where) from None


def _s3_reason(code: str) -> str:
    if code in ("NoSuchKey", "404", "NotFound"):
        return "no such object"
    if code in ("NoSuchBucket",):
        return "no such bucket"
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                "InvalidToken"):
        return (f"access denied ({code}): give the step credentials (an IRSA role on its service account, "
                "AWS_* variables, or dicec compile --image-secret)")
    return f"S3 error {code}"


# -- gcs -----------------------------------------------------------------------------------------------
def _read_gcs(uri: str, *, sink: BoundedBuffer, where: Location) -> None:
    bucket, name = _bucket_key(uri, where)
    try:
        import google.auth.exceptions
        import requests.exceptions
        from google.api_core import exceptions as api
        from google.cloud import storage
        from google.resumable_media.common import DataCorruption
    except ImportError:
        raise DicecError("reading gs:// images needs google-cloud-storage (pip install google-cloud-storage)",
                         location=where) from None
    try:
        from google.cloud.storage.retry import DEFAULT_RETRY

        client = _gcs_client(storage, where)
        client.bucket(bucket).blob(name).download_to_file(sink, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
                                                          retry=DEFAULT_RETRY.with_timeout(TOTAL_TIMEOUT_S))
    except api.NotFound:
        raise DicecError("cannot read image: no such object", location=where) from None
    except (api.Forbidden, api.Unauthorized) as exc:
        raise DicecError(f"cannot read image: access denied (HTTP {exc.code}): give the step credentials "
                         "(Workload Identity on its service account, GOOGLE_APPLICATION_CREDENTIALS, or "
                         "dicec compile --image-secret)", location=where) from None
    except api.GoogleAPICallError as exc:
        raise DicecError(f"cannot read image: GCS error HTTP {exc.code}", location=where) from None
    except DataCorruption:
        raise DicecError("cannot read image: the downloaded bytes fail the object's checksum", location=where) \
            from None
    except google.auth.exceptions.GoogleAuthError as exc:
        raise DicecError(f"cannot read image: no usable Google credentials ({type(exc).__name__})",
                         location=where) from None
    except requests.exceptions.Timeout:
        raise TimeoutError(f"no answer within {CONNECT_TIMEOUT_S:g} s to connect or {READ_TIMEOUT_S:g} s to read") \
            from None
    except requests.exceptions.RequestException as exc:
        raise DicecError(f"cannot reach the GCS endpoint ({type(exc).__name__})", location=where) from None


def _gcs_client(storage: Any, where: Location) -> Any:
    """A storage client: the emulator's, else the pod's credentials, else anonymous (public objects)."""
    import google.auth
    import google.auth.exceptions

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return storage.Client(project=None)
    key = Path(os.environ.get(CREDENTIALS_DIR_ENV) or "/nonexistent") / GCS_KEY_FILE
    if not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") and key.is_file():
        from google.oauth2 import service_account

        try:
            credentials = service_account.Credentials.from_service_account_file(str(key), scopes=[_GCS_SCOPE])
        except (ValueError, KeyError, OSError) as exc:
            raise DicecError(f"cannot read image: ${CREDENTIALS_DIR_ENV}/{GCS_KEY_FILE} is not a usable service-account "
                             f"key ({type(exc).__name__})", location=where) from None
        return storage.Client(project=credentials.project_id, credentials=credentials)
    try:
        credentials, project = google.auth.default(scopes=[_GCS_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        return storage.Client.create_anonymous_client()
    return storage.Client(project=project, credentials=credentials)
