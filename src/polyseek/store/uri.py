"""Where a store lives: a local folder or an object-store prefix (``s3://``, ``gs://``, ``az://``).

The Lance tables go straight to the URI (LanceDB speaks to object stores itself, given
``storage_options``: endpoint, region, ``allow_http``; credentials come from the
environment as the cloud SDKs read them). The small files beside them, the manifest,
calibration statistics, probes and previews, are mirrored: they are written in a local
working folder (:attr:`StoreLocation.local_dir`, the store folder itself when the store is
local) and :meth:`StoreLocation.upload`-ed to the prefix; a process that opens the store
:meth:`StoreLocation.download`-s what it lacks. The manifest is written last on creation
and is what makes a prefix an index, as on disk.

Why a lease, not ``flock``: file locks do not exist on object stores. One writer at a time
is kept by a lease object ``<prefix>/lock`` created with a conditional put
(``If-None-Match: *``; S3 and S3-compatible servers answer 412 when it exists), renewed by
a thread while the writer works, and taken over (conditional on its ETag) once it expired,
so a SIGKILLed writer blocks the next one for at most :data:`LEASE_SECONDS`. The commit
point itself needs no lock: it is one Lance commit of the sources table (an atomic
manifest put, conditional on the version), so a crash at any moment leaves either the old
or the new generation visible, never a mix (see :mod:`polyseek.store.lancedb`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyseek.errors import ConfigError, StoreError

logger = logging.getLogger(__name__)

SCHEMES = ("s3", "gs", "az")
LEASE_SECONDS = 30.0  # how long a killed writer's lease blocks the next one
LEASE_OPTION = "polyseek_lease_seconds"  # a storage option (not passed to LanceDB)
CACHE_ENV = "POLYSEEK_CACHE"


def is_uri(store: object) -> bool:
    """True for an object-store URI (``s3://...``, ``gs://...``, ``az://...``)."""
    return (
        isinstance(store, str) and store.split("://", 1)[0].lower() in SCHEMES and ("://" in store)
    )


def parse_storage_options(pairs: list[str] | None) -> dict[str, str]:
    """``["endpoint=http://...", "region=eu-west-1"]`` -> a dict (CLI ``--storage-option``)."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--storage-option {pair!r}: expected KEY=VALUE",
                hint="e.g. --storage-option endpoint=http://127.0.0.1:9000 "
                "--storage-option region=us-east-1",
            )
        out[key.strip()] = value
    return out


def _cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path.home() / ".cache" / "polyseek"
    return base / "stores"


@dataclass(frozen=True)
class StoreLocation:
    """A store's URI and options; :attr:`local_dir` is its local working folder."""

    uri: str
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, store: str | Path, options: Mapping[str, str] | None = None) -> StoreLocation:
        if is_uri(store):
            scheme, _, rest = str(store).partition("://")
            if not rest.strip("/"):
                raise ConfigError(
                    f"{store}: name a bucket (and a prefix): {scheme}://BUCKET/PREFIX"
                )
            return cls(f"{scheme.lower()}://{rest.rstrip('/')}", dict(options or {}))
        if options:
            raise ConfigError(
                f"--storage-option is for object-store URIs ({', '.join(SCHEMES)}), "
                f"not the local path {store}"
            )
        return cls(str(Path(store).expanduser().resolve()))

    @property
    def is_remote(self) -> bool:
        return is_uri(self.uri)

    @property
    def scheme(self) -> str:
        return self.uri.split("://", 1)[0] if self.is_remote else "file"

    @property
    def local_dir(self) -> Path:
        """The store folder (local) or the working mirror of a remote store's side files."""
        if not self.is_remote:
            return Path(self.uri)
        digest = hashlib.sha1(self.uri.encode()).hexdigest()[:16]
        name = self.uri.rsplit("/", 1)[-1] or "store"
        return _cache_root() / f"{name}-{digest}"

    @property
    def db_uri(self) -> str:
        return f"{self.uri}/db" if self.is_remote else str(Path(self.uri) / "db")

    def lance_options(self) -> dict[str, str]:
        """The storage options LanceDB gets (polyseek's own keys removed)."""
        return {k: v for k, v in self.options.items() if not k.startswith("polyseek_")}

    @property
    def lease_seconds(self) -> float:
        try:
            return float(self.options.get(LEASE_OPTION, LEASE_SECONDS))
        except ValueError as exc:
            raise ConfigError(f"storage option {LEASE_OPTION}: not a number") from exc

    def __str__(self) -> str:
        return self.uri

    # ------------------------------------------------------------- object I/O
    def _fs(self) -> tuple[Any, str]:
        """(pyarrow file system, the prefix inside it) of a remote store."""
        return _filesystem(self.scheme, tuple(sorted(self.options.items()))), self.uri.split(
            "://", 1
        )[1]

    def read_bytes(self, name: str) -> bytes | None:
        """The object ``<prefix>/<name>``, or None when there is none."""
        import pyarrow.fs as pafs

        fs, prefix = self._fs()
        key = f"{prefix}/{name}"
        try:
            if fs.get_file_info(key).type != pafs.FileType.File:
                return None
            with fs.open_input_stream(key) as fh:
                data: bytes = fh.read()
                return data
        except OSError as exc:
            raise StoreError(f"cannot read {self.uri}/{name}: {exc}") from exc

    def write_bytes(self, name: str, data: bytes) -> None:
        """Put ``<prefix>/<name>`` (an object put is atomic: readers see old or new)."""
        fs, prefix = self._fs()
        try:
            with fs.open_output_stream(f"{prefix}/{name}") as fh:
                fh.write(data)
        except OSError as exc:
            raise StoreError(f"cannot write {self.uri}/{name}: {exc}") from exc

    def delete(self, name: str) -> None:
        import pyarrow.fs as pafs

        fs, prefix = self._fs()
        info = fs.get_file_info(f"{prefix}/{name}")
        if info.type == pafs.FileType.File:
            fs.delete_file(info.path)
        elif info.type == pafs.FileType.Directory:
            fs.delete_dir(info.path)

    def upload(self, name: str) -> None:
        """Copy ``local_dir/name`` to the prefix (no-op for a local store)."""
        if self.is_remote:
            self.write_bytes(name, (self.local_dir / name).read_bytes())

    def download(self, name: str, refresh: bool = False) -> Path | None:
        """``local_dir/name``, fetched from the prefix when missing (or ``refresh``)."""
        local = self.local_dir / name
        if not self.is_remote or (local.is_file() and not refresh):
            return local if local.is_file() else None
        data = self.read_bytes(name)
        if data is None:
            return local if local.is_file() else None
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + f".{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, local)
        return local

    def listing(self, under: str = "") -> list[tuple[str, int]]:
        """(name relative to the prefix, size) of every object under ``under``."""
        import pyarrow.fs as pafs

        fs, prefix = self._fs()
        base = f"{prefix}/{under}".rstrip("/")
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        return [
            (i.path[len(prefix) + 1 :], int(i.size or 0))
            for i in fs.get_file_info(selector)
            if i.type == pafs.FileType.File
        ]

    def delete_all(self) -> None:
        """Every object under the prefix but the lease (``index --rebuild``)."""
        fs, prefix = self._fs()
        for name, _ in self.listing():
            if name != "lock":
                fs.delete_file(f"{prefix}/{name}")

    # ------------------------------------------------------------- lease
    @contextmanager
    def lease(self) -> Iterator[WriterLease]:
        """Hold the store's writer lease (see the module docstring)."""
        lease = WriterLease(self)
        lease.acquire()
        try:
            yield lease
        finally:
            lease.release()


_FS_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def _filesystem(scheme: str, options: tuple[tuple[str, str], ...]) -> Any:
    key = (scheme, options)
    if key not in _FS_CACHE:
        _FS_CACHE[key] = _make_filesystem(scheme, dict(options))
    return _FS_CACHE[key]


def _make_filesystem(scheme: str, opts: dict[str, str]) -> Any:
    import pyarrow.fs as pafs

    def get(*names: str) -> str | None:
        return next((opts[n] for n in names if n in opts), None)

    if scheme == "s3":
        endpoint = get("endpoint", "aws_endpoint", "endpoint_url")
        kwargs: dict[str, Any] = {}
        if endpoint:
            http = endpoint.startswith("http://")
            kwargs["endpoint_override"] = endpoint.split("://", 1)[-1]
            kwargs["scheme"] = "http" if http else "https"
        region = get("region", "aws_region")
        if region:
            kwargs["region"] = region
        key, secret = (
            get("aws_access_key_id", "access_key_id"),
            get("aws_secret_access_key", "secret_access_key"),
        )
        if key and secret:
            kwargs.update(access_key=key, secret_key=secret)
        return pafs.S3FileSystem(**kwargs)
    if scheme == "gs":
        return pafs.GcsFileSystem()
    if scheme == "az":
        account = get("account_name", "azure_storage_account_name") or os.environ.get(
            "AZURE_STORAGE_ACCOUNT_NAME"
        )
        if not account:
            raise ConfigError(
                "az:// stores need the account: --storage-option account_name=NAME "
                "(or $AZURE_STORAGE_ACCOUNT_NAME)"
            )
        return pafs.AzureFileSystem(account_name=account)
    raise ConfigError(f"unknown store scheme {scheme!r}: use one of {', '.join(SCHEMES)}")


class WriterLease:
    """A writer lease object renewed in the background (S3 conditional writes).

    :attr:`lost` turns true when a renewal fails (the network, or another writer took an
    expired lease): the holder must not commit any more.
    """

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.seconds = location.lease_seconds
        self._etag: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def _client(self) -> Any:
        if self.location.scheme != "s3":
            raise StoreError(
                f"writing a {self.location.scheme}:// store needs a writer lease, which "
                "polyseek implements for s3:// (and S3-compatible servers) only",
                hint="use an s3:// store for writing, or index into a local or shared "
                "folder and copy it",
            )
        try:
            import boto3
        except ImportError as exc:
            raise StoreError(
                "writing an s3:// store needs boto3", hint="pip install 'polyseek[s3]'"
            ) from exc
        opts = self.location.options
        endpoint = opts.get("endpoint") or opts.get("aws_endpoint") or opts.get("endpoint_url")
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=opts.get("region") or opts.get("aws_region"),
            aws_access_key_id=opts.get("aws_access_key_id"),
            aws_secret_access_key=opts.get("aws_secret_access_key"),
        )

    def _key(self) -> tuple[str, str]:
        bucket, _, prefix = self.location.uri.split("://", 1)[1].partition("/")
        return bucket, f"{prefix}/lock" if prefix else "lock"

    def _body(self) -> bytes:
        return json.dumps({"owner": self.token, "expires": time.time() + self.seconds}).encode()

    def acquire(self) -> None:
        from botocore.exceptions import ClientError

        client, (bucket, key) = self._client(), self._key()
        try:
            resp = client.put_object(Bucket=bucket, Key=key, Body=self._body(), IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise StoreError(f"cannot take the writer lease of {self.location}: {exc}") from exc
            resp = self._take_over(client, bucket, key)
        self._etag = resp["ETag"]
        self._thread = threading.Thread(target=self._renew, args=(client,), daemon=True)
        self._thread.start()

    def _take_over(self, client: Any, bucket: str, key: str) -> Any:
        from botocore.exceptions import ClientError

        held = client.get_object(Bucket=bucket, Key=key)
        info = json.loads(held["Body"].read() or b"{}")
        if float(info.get("expires", 0)) > time.time():
            raise StoreError(
                f"another process is writing the index at {self.location} "
                f"(lease held by {info.get('owner', '?')})",
                hint="wait for it to finish; a killed writer's lease expires after "
                f"{self.seconds:.0f} s",
            )
        try:  # the lease expired: take it, unless someone else just did
            return client.put_object(
                Bucket=bucket, Key=key, Body=self._body(), IfMatch=held["ETag"]
            )
        except ClientError as exc:
            raise StoreError(
                f"another process took the writer lease of {self.location} first",
                hint="wait for the other `polyseek index` to finish",
            ) from exc

    def _renew(self, client: Any) -> None:
        bucket, key = self._key()
        while not self._stop.wait(self.seconds / 3):
            try:
                resp = client.put_object(
                    Bucket=bucket, Key=key, Body=self._body(), IfMatch=self._etag
                )
                self._etag = resp["ETag"]
            except Exception as exc:  # lost: the next commit would race another writer
                logger.error("lost the writer lease of %s: %s", self.location, exc)
                self.lost = True
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        bucket, key = self._key()
        try:
            client = self._client()
            held = client.get_object(Bucket=bucket, Key=key)
            if json.loads(held["Body"].read() or b"{}").get("owner") == self.token:
                client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:  # it expires by itself
            logger.warning("could not release the writer lease of %s: %s", self.location, exc)


__all__ = [
    "LEASE_OPTION",
    "LEASE_SECONDS",
    "SCHEMES",
    "StoreLocation",
    "WriterLease",
    "is_uri",
    "parse_storage_options",
]
