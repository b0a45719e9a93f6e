"""Images by URI: http(s), s3 and gs read through real clients from loopback stand-ins, bounded, timed
out, and every failure one line that names the URI without its credentials."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest

from object_stores import GcsStandIn, HttpImages, loopback_env, moto_s3, put_s3

from dicec.errors import DicecError
from dicec.runtime import fetch, images
from dicec.runtime.images import encode_png, load_image


@pytest.fixture(autouse=True)
def loopback(monkeypatch, tmp_path):
    loopback_env(monkeypatch, tmp_path)
    images._CACHE.clear()
    yield
    images._CACHE.clear()


def png_bytes(seed: int = 3, shape=(24, 32)) -> tuple[bytes, np.ndarray]:
    px = np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    return encode_png(px), px


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_shown_uri_drops_credentials():
    assert fetch.shown_uri("https://alice:s3cret@host.example:8443/a/b.png?X-Amz-Signature=abc") == \
        "https://host.example:8443/a/b.png?..."
    assert fetch.shown_uri("s3://bucket/car.jpg") == "s3://bucket/car.jpg"
    assert fetch.is_remote("HTTPS://x/y") and fetch.is_remote("gs://b/o") and not fetch.is_remote("file:///a.png")
    assert not fetch.is_remote("/tmp/s3:/x.png")


def test_http_image_is_the_same_image_as_the_local_file(tmp_path):
    data, px = png_bytes()
    local = tmp_path / "a.png"
    local.write_bytes(data)
    with HttpImages({"/img/a.png": data, "/car.jpg": jpeg_bytes()}) as server:
        remote = load_image(f"{server.url}/img/a.png")
        assert remote.digest == load_image(str(local)).digest
        assert np.array_equal(remote.pixels, px) and (remote.width, remote.height) == (32, 24)
        load_image(f"{server.url}/img/a.png")  # cached in the process: one download
        assert [r["path"] for r in server.requests] == ["/img/a.png"]
        assert load_image(f"{server.url}/car.jpg").pixels.shape == (20, 40, 3)


def test_http_basic_auth_from_the_uri_never_shows_in_a_message():
    data, _ = png_bytes()
    with HttpImages({"/a.png": data}, basic_auth=("alice", "s3cret")) as server:
        port = server.url.rsplit(":", 1)[1]
        assert load_image(f"http://alice:s3cret@127.0.0.1:{port}/a.png").digest
        assert "alice" not in server.requests[0]["path"]
        with pytest.raises(DicecError) as info:
            load_image(f"http://alice:wrong@127.0.0.1:{port}/a.png?token=t0ps3cret")
    message = str(info.value)
    assert message == f"http://127.0.0.1:{port}/a.png?...: cannot read image: HTTP 401 Unauthorized"
    assert "wrong" not in message and "t0ps3cret" not in message


@pytest.mark.parametrize("path, expected", [
    ("/missing.png", "cannot read image: HTTP 404 Not Found"),
    ("/to-file", "Redirection to url 'file:///etc/passwd' is not allowed"),
    ("/to-ftp", "redirect to a scheme other than http"),
])
def test_http_failures_are_one_line(path, expected):
    with HttpImages({}, redirects={"/to-file": "file:///etc/passwd", "/to-ftp": "ftp://127.0.0.1/a.png"}) as server:
        with pytest.raises(DicecError, match=expected) as info:
            load_image(server.url + path)
    assert str(info.value).startswith(server.url + path) and "\n" not in str(info.value)


def test_http_redirect_to_http_is_followed():
    data, _ = png_bytes()
    with HttpImages({"/real.png": data}, redirects={"/moved.png": "/real.png"}) as server:
        assert load_image(server.url + "/moved.png").digest == load_image(server.url + "/real.png").digest


@pytest.mark.parametrize("uri, expected", [
    ("http://127.0.0.1:port/a.png", "malformed port"),
    ("https:///a.png", "needs a host"),
])
def test_malformed_http_uris_are_one_line(uri, expected):
    with pytest.raises(DicecError, match=expected):
        load_image(uri)


def test_nothing_listening_is_one_line():
    with HttpImages({}) as server:
        url = server.url
    with pytest.raises(DicecError, match="cannot reach the server"):
        load_image(url + "/a.png")


def test_size_is_bounded_by_the_declared_length_and_while_streaming(monkeypatch):
    data, _ = png_bytes(shape=(64, 64))
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 1000)
    with HttpImages({"/big.png": data, "/stream.png": data}, no_length=("/stream.png",)) as server:
        with pytest.raises(DicecError, match="image is over the 1000-byte limit"):
            load_image(server.url + "/big.png")
        with pytest.raises(DicecError, match="image is over the 1000-byte limit"):
            load_image(server.url + "/stream.png")


def test_a_server_that_stops_sending_times_out(monkeypatch):
    data, _ = png_bytes()
    monkeypatch.setattr(fetch, "READ_TIMEOUT_S", 0.5)
    with HttpImages({"/slow.png": data}, stall={"/slow.png": 3.0}) as server:
        start = time.monotonic()
        with pytest.raises(DicecError, match="cannot read image: timed out"):
            load_image(server.url + "/slow.png")
        assert time.monotonic() - start < 2.5


def test_the_total_time_is_bounded(monkeypatch):
    monkeypatch.setattr(fetch, "TOTAL_TIMEOUT_S", 0.0)
    data, _ = png_bytes()
    with HttpImages({"/a.png": data}) as server:
        with pytest.raises(DicecError, match="timed out .*in all"):
            load_image(server.url + "/a.png")


# -- s3 (moto's server) --------------------------------------------------------------------------------
def test_s3_image_with_credentials_from_the_environment(monkeypatch):
    data, px = png_bytes()
    with moto_s3(monkeypatch) as endpoint:
        put_s3(endpoint, "photos", "cars/car 1.png", data)
        image = load_image("s3://photos/cars/car 1.png")
        assert np.array_equal(image.pixels, px) and image.uri == "s3://photos/cars/car 1.png"
        with pytest.raises(DicecError) as info:
            load_image("s3://photos/cars/none.png")
        assert str(info.value) == "s3://photos/cars/none.png: cannot read image: no such object"
        with pytest.raises(DicecError, match="no such bucket"):
            load_image("s3://other-bucket/a.png")


def test_s3_irsa_web_identity(monkeypatch, tmp_path):
    """IRSA as EKS sets it up: a role and a projected token file; boto3 trades them with STS (moto's) for keys."""
    data, _ = png_bytes()
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    with moto_s3(monkeypatch, credentials=False) as endpoint:
        put_s3(endpoint, "photos", "a.png", data)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint)
        monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/dicec-steps")
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
        assert load_image("s3://photos/a.png").width == 32


def test_s3_without_any_credentials_reads_unsigned(monkeypatch):
    data, _ = png_bytes()
    with moto_s3(monkeypatch, credentials=False) as endpoint:
        put_s3(endpoint, "public", "a.png", data, public=True)
        put_s3(endpoint, "public", "private.png", data)
        assert load_image("s3://public/a.png").width == 32
        with pytest.raises(DicecError, match="access denied .*IRSA role"):
            load_image("s3://public/private.png")


def test_s3_size_bound(monkeypatch):
    data, _ = png_bytes()
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 100)
    with moto_s3(monkeypatch) as endpoint:
        put_s3(endpoint, "photos", "a.png", data)
        with pytest.raises(DicecError, match="s3://photos/a.png: image is over the 100-byte limit"):
            load_image("s3://photos/a.png")


# -- gcs (a JSON API stand-in under STORAGE_EMULATOR_HOST) ---------------------------------------------
def test_gcs_image(monkeypatch):
    data, px = png_bytes()
    with GcsStandIn({("photos", "cars/a b.png"): data}, forbidden=("private",),
                    corrupt=(("photos", "bad.png"),)) as server:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        assert np.array_equal(load_image("gs://photos/cars/a b.png").pixels, px)
        assert any("/b/photos/o/cars%2Fa%20b.png?alt=media" in r["path"] for r in server.requests)
        with pytest.raises(DicecError, match="gs://photos/none.png: cannot read image: no such object"):
            load_image("gs://photos/none.png")
        with pytest.raises(DicecError, match="access denied"):
            load_image("gs://private/a.png")
        server.objects[("photos", "bad.png")] = data
        with pytest.raises(DicecError, match="fail the object's checksum"):
            load_image("gs://photos/bad.png")
        monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 100)
        images._CACHE.clear()
        with pytest.raises(DicecError, match="image is over the 100-byte limit"):
            load_image("gs://photos/cars/a b.png")


def test_gcs_service_account_key_from_the_mounted_secret(monkeypatch, tmp_path):
    """--image-secret's folder holds a service-account key: the step signs in with it (the token
    endpoint named in the key is a loopback stand-in) and sends the token it got."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data, _ = png_bytes()
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with TokenAndObjects({("photos", "a.png"): data}) as server:
        key = {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
               "client_email": "dicec@p.iam.gserviceaccount.com", "client_id": "1",
               "token_uri": f"{server.url}/token"}
        (tmp_path / fetch.GCS_KEY_FILE).write_text(json.dumps(key))
        monkeypatch.setenv(fetch.CREDENTIALS_DIR_ENV, str(tmp_path))
        monkeypatch.setenv("API_ENDPOINT_OVERRIDE", server.url)  # google-cloud-storage's endpoint override
        assert load_image("gs://photos/a.png").width == 32
    download = [r for r in server.requests if "/o/" in r["path"]][0]
    assert download["headers"].get("authorization") == "Bearer token-from-the-key"


class TokenAndObjects(GcsStandIn):
    """The GCS stand-in that also answers OAuth token requests (POST /token) and wants the token it gave."""

    def __init__(self, objects):
        super().__init__(objects)
        owner = self
        handler = self._server.RequestHandlerClass

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            ok = self.path == "/token" and "assertion=" in body
            owner.send(self, 200 if ok else 400, json.dumps(
                {"access_token": "token-from-the-key", "expires_in": 3600, "token_type": "Bearer"}).encode(),
                {"Content-Type": "application/json"})

        handler.do_POST = do_POST

    def answer(self, handler):
        if handler.headers.get("Authorization") != "Bearer token-from-the-key":
            return self._error(handler, 401, "no token")
        return super().answer(handler)


def test_the_documented_bounds_are_the_code_s():
    """README and docs/production.md state these figures; the bounds' behaviour is tested above."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    readme, production = (repo / "README.md").read_text(), (repo / "docs" / "production.md").read_text()
    assert images.MAX_IMAGE_BYTES == 256 * 2**20 and images.MAX_PIXELS == 64_000_000
    assert "at most 256 MiB and 64 megapixels" in " ".join(readme.split())
    assert (fetch.CONNECT_TIMEOUT_S, fetch.READ_TIMEOUT_S, fetch.TOTAL_TIMEOUT_S) == (10, 60, 300)
    assert "waits at most 10 s to connect, 60 s for any read and 300 s in all" in " ".join(production.split())
    assert "refused past 256 MiB" in " ".join(production.split())
    assert fetch.CREDENTIALS_MOUNT in production and fetch.GCS_KEY_FILE in production
