"""A test double of the Hugging Face Hub's HTTP contract, on 127.0.0.1, in memory.

It implements the routes the real `huggingface_hub` client (2.x) uses to create repos,
commit files (regular and LFS "basic" transfers), tag, list and download, with the Hub's
headers (`X-Repo-Commit`, `ETag`, `X-Linked-Etag`/`X-Linked-Size`) and error codes
(`X-Error-Code: RepoNotFound / RevisionNotFound / EntryNotFound`), so that the client's
real HTTP, commit, cache, offline and error-mapping code runs end to end. It does NOT
implement Xet, the transport huggingface.co uses for large files: the Xet token routes
answer 501, and uploads need `HF_HUB_DISABLE_XET=1` (the client's legacy LFS path).

Commit shas are deterministic (sha1 of parent, files and message), so seeding the same
content always yields the same sha.
"""

import base64
import dataclasses
import hashlib
import http.server
import json
import re
import threading
import time
import urllib.parse

USER = "test-user"
_LFS_SUFFIXES = (".h5", ".keras", ".safetensors", ".bin", ".npz", ".pt", ".tflite", ".zip")
_LFS_MIN_SIZE = 10 * 1024 * 1024
_INITIAL_FILES = {".gitattributes": b"*.h5 filter=lfs diff=lfs merge=lfs -text\n"}


def _git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclasses.dataclass(frozen=True)
class _File:
    data: bytes
    lfs: bool

    @property
    def sha256(self):
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self):
        """What the Hub sends as ETag: sha256 for LFS files, the git blob sha1 otherwise."""
        return self.sha256 if self.lfs else _git_blob_sha1(self.data)

    def pointer(self):
        return (
            "version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{self.sha256}\nsize {len(self.data)}\n"
        ).encode()


@dataclasses.dataclass
class _Commit:
    sha: str
    parent: str | None
    message: str
    files: dict


@dataclasses.dataclass
class _Repo:
    repo_id: str
    commits: dict = dataclasses.field(default_factory=dict)
    branches: dict = dataclasses.field(default_factory=dict)
    tags: dict = dataclasses.field(default_factory=dict)

    def resolve(self, revision):
        revision = urllib.parse.unquote(revision)
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision in self.tags:
            return self.commits[self.tags[revision]]
        return self.commits.get(revision)


class HubError(Exception):
    """An HTTP error answer: status, Hub error code and message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code


def _is_lfs(path, size):
    return path.endswith(_LFS_SUFFIXES) or size >= _LFS_MIN_SIZE


class FakeHub:
    """The server's state plus its lifecycle.

    Attributes:
        endpoint: "http://127.0.0.1:<port>" once started.
        requests: every request received, as "METHOD /path" strings (no query).
        user_agents: the User-Agent header of each request, in the same order.
    """

    def __init__(self):
        self.repos = {}
        self.lfs_objects = {}
        self.requests = []
        self.user_agents = []
        self.endpoint = None
        self._lock = threading.RLock()
        self._server = None
        self._thread = None

    def start(self):
        """Binds 127.0.0.1 on a free port and serves in a daemon thread."""
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops serving and closes the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self):
        """Forgets every repo, LFS object and logged request."""
        with self._lock:
            self.repos.clear()
            self.lfs_objects.clear()
            self.requests.clear()
            self.user_agents.clear()

    # State changes, shared by the HTTP routes and the test helpers.

    def create_repo(self, repo_id):
        """Creates `repo_id` with an initial commit holding `.gitattributes`.

        Raises:
            HubError: 409 if it exists.
        """
        with self._lock:
            if repo_id in self.repos:
                raise HubError(409, None, "You already created this model repo")
            self.repos[repo_id] = _Repo(repo_id)
            files = {p: _File(d, False) for p, d in _INITIAL_FILES.items()}
            return self._commit(repo_id, "main", files, "initial commit")

    def seed(self, repo_id, files, message="seed", branch="main"):
        """Commits `files` ({path: bytes}) on top of `branch`, creating the repo if needed.

        Returns:
            The new commit sha.
        """
        with self._lock:
            if repo_id not in self.repos:
                self.create_repo(repo_id)
            repo = self.repos[repo_id]
            head = repo.commits[repo.branches[branch]].files if branch in repo.branches else {}
            merged = dict(head)
            for path, data in files.items():
                merged[path] = _File(data, _is_lfs(path, len(data)))
                if merged[path].lfs:
                    self.lfs_objects[merged[path].sha256] = data
            return self._commit(repo_id, branch, merged, message)

    def _commit(self, repo_id, branch, files, message):
        repo = self.repos[repo_id]
        parent = repo.branches.get(branch)
        digest = hashlib.sha1((parent or "").encode() + message.encode())
        for path in sorted(files):
            digest.update(f"\0{path}\0{files[path].etag}".encode())
        sha = digest.hexdigest()
        repo.commits[sha] = _Commit(sha, parent, message, files)
        repo.branches[branch] = sha
        return sha

    def head(self, repo_id, branch="main"):
        """The commit sha `branch` points to."""
        return self.repos[repo_id].branches[branch]

    def create_tag(self, repo_id, tag, revision="main"):
        """Tags `revision`; 409 if the tag exists."""
        with self._lock:
            repo = self._repo(repo_id)
            commit = self._commit_at(repo, revision)
            if tag in repo.tags:
                raise HubError(409, None, f"Tag {tag} already exists")
            repo.tags[tag] = commit.sha

    def _repo(self, repo_id):
        if repo_id not in self.repos:
            raise HubError(404, "RepoNotFound", f"Repository Not Found for url: {repo_id}.")
        return self.repos[repo_id]

    def _commit_at(self, repo, revision):
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit


def _tree_entry(path, file):
    entry = {"type": "file", "path": path, "size": len(file.data), "oid": _git_blob_sha1(file.data)}
    if file.lfs:
        entry["oid"] = _git_blob_sha1(file.pointer())
        entry["lfs"] = {"oid": file.sha256, "size": len(file.data),
                        "pointerSize": len(file.pointer())}
    return entry


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None  # set by FakeHub.start

    _ROUTES = (
        ("POST", r"/api/repos/create", "create_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", r"/api/whoami-v2", "whoami"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/(?:xet-read-token|xet-write-token)/.*", "xet"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?", "model_info"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/refs", "refs"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/tag/(?P<rev>[^/]+)", "tag"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)", "commit"),
        ("POST", r"/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/_lfs/(?P<oid>[0-9a-f]{64})", "lfs_put"),
        ("HEAD", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("GET", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    )

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        self.query = urllib.parse.parse_qs(url.query)
        self.fake.requests.append(f"{method} {url.path}")
        self.fake.user_agents.append(self.headers.get("User-Agent", ""))
        body = self._read_body()
        for verb, pattern, handler in self._ROUTES:
            match = re.fullmatch(pattern, url.path)
            if verb == method and match:
                try:
                    with self.fake._lock:
                        getattr(self, "_" + handler)(body=body, **match.groupdict())
                except HubError as error:
                    self._error(error.status, error.code, str(error))
                return
        self._error(404, None, f"No route for {method} {url.path}")

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=b"", headers=None, content_type="application/json",
              length=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status=200, headers=None):
        self._send(status, json.dumps(data).encode(), headers)

    def _error(self, status, code, message, headers=None):
        headers = dict(headers or {})
        headers["X-Error-Message"] = message
        if code:
            headers["X-Error-Code"] = code
        self._json({"error": message}, status, headers)

    # Routes.

    def _create_repo(self, body):
        payload = json.loads(body or b"{}")
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        url = f"{self.fake.endpoint}/{repo_id}"
        try:
            self.fake.create_repo(repo_id)
        except HubError as error:
            self._json({"error": str(error), "url": url}, 409)
            return
        self._json({"url": url, "name": repo_id, "id": repo_id})

    def _validate_yaml(self, body):
        self._json({"errors": [], "warnings": []})

    def _whoami(self, body):
        self._json({"type": "user", "name": USER, "fullname": "Test User", "orgs": [],
                    "auth": {"type": "access_token",
                             "accessToken": {"displayName": "test", "role": "write"}}})

    def _xet(self, body, repo):
        self._error(501, None, "The fake Hub has no Xet storage: set HF_HUB_DISABLE_XET=1.")

    def _model_info(self, body, repo, rev=None):
        commit = self.fake._commit_at(self.fake._repo(repo), rev or "main")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self._json({
            "id": repo, "modelId": repo, "sha": commit.sha, "private": False,
            "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
            "lastModified": stamp, "createdAt": stamp,
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
        })

    def _tree(self, body, repo, rev, path=None):
        commit = self.fake._commit_at(self.fake._repo(repo), rev)
        prefix = (path or "").strip("/")
        entries = [
            _tree_entry(p, f) for p, f in sorted(commit.files.items())
            if not prefix or p.startswith(prefix + "/")
        ]
        self._json(entries)

    def _paths_info(self, body, repo, rev):
        commit = self.fake._commit_at(self.fake._repo(repo), rev)
        if self.headers.get("Content-Type", "").startswith("application/json"):
            paths = json.loads(body).get("paths", [])
        else:
            paths = urllib.parse.parse_qs(body.decode()).get("paths", [])
        self._json([_tree_entry(p, commit.files[p]) for p in paths if p in commit.files])

    def _refs(self, body, repo):
        repo = self.fake._repo(repo)

        def ref(kind, name, sha):
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": sha}

        self._json({
            "branches": [ref("heads", n, s) for n, s in sorted(repo.branches.items())],
            "tags": [ref("tags", n, s) for n, s in sorted(repo.tags.items())],
            "converts": [],
        })

    def _tag(self, body, repo, rev):
        payload = json.loads(body or b"{}")
        self.fake.create_tag(repo, payload["tag"], rev)
        self._json({"success": True})

    def _preupload(self, body, repo, rev):
        self.fake._commit_at(self.fake._repo(repo), rev)
        files = json.loads(body)["files"]
        self._json({"files": [
            {"path": f["path"], "shouldIgnore": False, "oid": None,
             "uploadMode": "lfs" if _is_lfs(f["path"], f["size"]) else "regular"}
            for f in files
        ]})

    def _lfs_batch(self, body, repo):
        self.fake._repo(repo)
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            answer = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.fake.lfs_objects:
                answer["actions"] = {"upload": {"href": f"{self.fake.endpoint}/_lfs/{obj['oid']}"}}
            objects.append(answer)
        self._json({"transfer": "basic", "objects": objects})

    def _lfs_put(self, body, oid):
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, None, "LFS object does not match its oid")
        self.fake.lfs_objects[oid] = body
        self._send(200)

    def _commit(self, body, repo, rev):
        repo_state = self.fake._repo(repo)
        branch = urllib.parse.unquote(rev)
        if branch not in repo_state.branches:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
        files = dict(repo_state.commits[repo_state.branches[branch]].files)
        message = "commit"
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                message = value.get("summary") or message
                parent = value.get("parentCommit")
                if parent and parent != repo_state.branches[branch]:
                    raise HubError(412, None, "parentCommit is not the head of the branch")
            elif key == "file":
                files[value["path"]] = _File(base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                if value["oid"] not in self.fake.lfs_objects:
                    raise HubError(422, None, f"LFS object {value['oid']} was never uploaded")
                files[value["path"]] = _File(self.fake.lfs_objects[value["oid"]], True)
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: f for p, f in files.items() if not p.startswith(prefix)}
        sha = self.fake._commit(repo, branch, files, message)
        self._json({"success": True, "commitOid": sha, "pullRequestUrl": None,
                    "commitUrl": f"{self.fake.endpoint}/{repo}/commit/{sha}"})

    def _resolve(self, body, repo, rev, path):
        commit = self.fake._commit_at(self.fake._repo(repo), rev)
        path = urllib.parse.unquote(path)
        headers = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if path not in commit.files:
            self._error(404, "EntryNotFound", f"{path} does not exist at {rev}", headers)
            return
        file = commit.files[path]
        headers["ETag"] = f'"{file.etag}"'
        if file.lfs:
            headers["X-Linked-Etag"] = f'"{file.sha256}"'
            headers["X-Linked-Size"] = str(len(file.data))
        data, status = file.data, 200
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start:end + 1], 206
        self._send(status, data, headers, content_type="application/octet-stream")
