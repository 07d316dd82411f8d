"""Build, save and load the retrieval index (FAISS over encoder vectors + lexical views).

Layout of settings.index_dir: one folder per published version (`v-…`), and `current`, a
symbolic link to the live one, replaced atomically. A version holds manifest.json, encoder/
(the fine-tuned model; hard links shared between versions), docs.faiss + docs.json (the
normalised phrasings and their vectors), risk.npy + risk.json.

Two kinds of build:
* **full** — when there is no index or the *encoder key* changed (base encoder, fine-tuning
  settings, normaliser code or lexicons, index format): fine-tune the encoder on the whole
  knowledge base (cached by its inputs) and encode every phrasing. Minutes.
* **incremental** — when only content changed (entries, small talk, risk examples, places,
  patterns): keep the encoder, reuse the vectors of unchanged phrasings, encode the new ones.
  Seconds; the running service does it with the encoder it already holds.

A file lock makes concurrent builders (two `kb build`s, a test and a server) wait for one
another; readers resolve `current` once, so they never see half a version.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from teman.config import Settings
from teman.knowledge.loader import Entry, KnowledgeBase, load_knowledge
from teman.nlp.lexicon import LEXICON_FILES, Lexicon, slang_table_version
from teman.nlp.normalize import Normalised, Normalizer
from teman.retrieval.encoder import Encoder
from teman.retrieval.lexical import AnswerScorer, LexicalScorer
from teman.risk.examples import RiskExamples, load_risk_examples

logger = logging.getLogger(__name__)

#: bumped when the files of a version change meaning (forces a full build)
INDEX_FORMAT = 2
ENCODER_CODE_FILES = ("encoder.py", "finetune.py")
CURRENT = "current"
KEEP_VERSIONS = 3
ENCODE_CHUNK = 64

#: progress(stage, done, total): stages "fine-tuning", "encoding"
Progress = Callable[[str, int, int], None]


@dataclass
class Documents:
    """Every searchable phrasing, normalised, with the entry it belongs to."""

    texts: list[str]
    entry_of: np.ndarray  # int index into kb.targets, one per text


def build_documents(kb: KnowledgeBase, normalizer: Normalizer) -> Documents:
    texts: list[str] = []
    owners: list[int] = []
    for i, entry in enumerate(kb.targets):
        for phrasing in (entry.title, *entry.questions):
            norm = normalizer(phrasing).text
            if norm:
                texts.append(norm)
                owners.append(i)
    return Documents(texts, np.asarray(owners, dtype="int64"))


class MemoNormalizer(Normalizer):
    """The normaliser with a memory of the texts it has seen, for builds: the same
    phrasings come back build after build. Never used for user messages (unbounded)."""

    def __init__(self, base: Normalizer, memo: dict[str, Normalised] | None = None) -> None:
        self.lexicon = base.lexicon
        self.tokenizer = base.tokenizer
        self.memo: dict[str, Normalised] = {} if memo is None else memo

    def __call__(self, text: str) -> Normalised:
        found = self.memo.get(text)
        if found is None:
            found = self.memo[text] = super().__call__(text)
        return found


# ------------------------------------------------------------------ what a build depends on


def _content_inputs(knowledge_dir: Path) -> list[Path]:
    """Content: what an incremental build picks up (the service re-reads all of it)."""
    files = sorted((knowledge_dir / "entries").glob("*.yml"))
    files += sorted((knowledge_dir / "risk").glob("*.yml"))
    for name in ("dialogue.yml", "offtopic.yml", "places.yml"):
        if (knowledge_dir / name).exists():
            files.append(knowledge_dir / name)
    return files


def _encoder_inputs(knowledge_dir: Path) -> list[Path]:
    """What shapes the vectors of a given text: the normaliser's data and code, and the
    encoder and fine-tuning code."""
    files = [knowledge_dir / n for n in LEXICON_FILES if (knowledge_dir / n).exists()]
    package = Path(__file__).resolve().parents[1]
    files += sorted((package / "nlp").glob("*.py"))
    files += [Path(__file__).parent / name for name in ENCODER_CODE_FILES]
    return files


def _digest(paths: list[Path], extra: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:20]


def encoder_key(settings: Settings) -> str:
    extra = [f"format={INDEX_FORMAT}", f"slang={slang_table_version()}"]
    for key in ("encoder", "finetune", "finetune_epochs", "finetune_batch_size", "finetune_seed"):
        extra.append(f"{key}={getattr(settings, key)}")
    return _digest(_encoder_inputs(settings.knowledge_dir), extra)


def content_key(settings: Settings) -> str:
    return _digest(_content_inputs(settings.knowledge_dir), [])


def fingerprint(settings: Settings) -> str:
    """Both keys: the index is current when its manifest carries this."""
    return f"{encoder_key(settings)}-{content_key(settings)}"


# ------------------------------------------------------------------ versions on disk


def current_dir(settings: Settings) -> Path | None:
    """The live version's folder, resolved once (None when there is no index yet)."""
    link = settings.index_dir / CURRENT
    if not link.exists():
        return None
    path = link.resolve()
    return path if (path / "manifest.json").exists() else None


def read_manifest(settings: Settings) -> dict[str, object] | None:
    folder = current_dir(settings)
    if folder is None:
        return None
    return dict(json.loads((folder / "manifest.json").read_text()), path=str(folder))


def plan(settings: Settings) -> str:
    """What a build would do now: "none", "incremental" or "full"."""
    manifest = read_manifest(settings)
    if manifest is None or manifest.get("encoder_key") != encoder_key(settings):
        return "full"
    return "none" if manifest.get("fingerprint") == fingerprint(settings) else "incremental"


@contextlib.contextmanager
def build_lock(settings: Settings) -> Iterator[None]:
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock_path = settings.index_dir.with_name(settings.index_dir.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _new_version_dir(settings: Settings) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = settings.index_dir / f"v-{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    path.mkdir(parents=True)
    return path


def _publish(settings: Settings, version: Path) -> None:
    """Point `current` at this version atomically; drop old versions and the old layout."""
    tmp_link = settings.index_dir / f".{CURRENT}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(version.name)
    os.replace(tmp_link, settings.index_dir / CURRENT)
    for name in ("manifest.json", "docs.faiss", "risk.npy"):  # format 1 (files at the top)
        with contextlib.suppress(FileNotFoundError):
            (settings.index_dir / name).unlink()
    shutil.rmtree(settings.index_dir / "encoder", ignore_errors=True)
    versions = sorted(
        (p for p in settings.index_dir.glob("v-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    for old in versions[:-KEEP_VERSIONS]:
        if old != version:
            shutil.rmtree(old, ignore_errors=True)


def _link_tree(src: Path, dst: Path) -> None:
    """Share the encoder's files between versions (they are never written in place)."""

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)


# ------------------------------------------------------------------ building


def _finetune_groups(kb: KnowledgeBase, docs: Documents, risk: RiskExamples) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in kb.targets]
    for text, owner in zip(docs.texts, docs.entry_of, strict=True):
        groups[int(owner)].append(text)
    groups.extend(risk.normalised_by_category().values())
    return groups


def encoder_cache_dir() -> Path:
    """Fine-tuned encoders, kept by the hash of their inputs outside the work tree, so a
    fresh clone on the same machine (CI) reuses the training a first build did."""
    base = os.environ.get("TEMAN_ENCODER_CACHE") or os.path.join(
        os.environ.get("TEMAN_VENV_HOME") or os.path.expanduser("~/.cache/teman-migrasi"),
        "encoders",
    )
    return Path(base)


def _finetune_key(settings: Settings, groups: list[list[str]]) -> str:
    digest = hashlib.sha256()
    digest.update((Path(__file__).parent / "finetune.py").read_bytes())
    for key in ("encoder", "finetune_epochs", "finetune_batch_size", "finetune_seed"):
        digest.update(f"{key}={getattr(settings, key)}".encode())
    digest.update(json.dumps(groups, ensure_ascii=False).encode())
    return digest.hexdigest()[:24]


class _FinetuneProgress(logging.Handler):
    """Turns the fine-tuning log ("epoch e/E, step i/N") into progress callbacks."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 4 and "epoch" in str(record.msg):
            epoch, epochs, step, steps = (int(a) for a in args[:4])
            self.progress("fine-tuning", (epoch - 1) * steps + step, epochs * steps)


def _finetuned_encoder(
    settings: Settings, groups: list[list[str]], progress: Progress | None = None
) -> tuple[Encoder, dict[str, float], bool]:
    """The encoder fine-tuned on these groups: from the cache, or trained (and cached).
    The last value says whether it was trained now."""
    cache = encoder_cache_dir() / _finetune_key(settings, groups)
    if (cache / "stats.json").exists():
        logger.info("fine-tuned encoder for these questions found in %s", cache)
        return Encoder(str(cache)), json.loads((cache / "stats.json").read_text()), False
    from teman.retrieval.finetune import finetune  # training code only for builds

    encoder = Encoder(settings.encoder)
    handler = _FinetuneProgress(progress) if progress else None
    tune_logger = logging.getLogger("teman.retrieval.finetune")
    if handler:
        tune_logger.addHandler(handler)
        tune_logger.setLevel(logging.INFO)
    try:
        stats = finetune(
            encoder,
            groups,
            epochs=settings.finetune_epochs,
            batch_size=settings.finetune_batch_size,
            seed=settings.finetune_seed,
        )
    finally:
        if handler:
            tune_logger.removeHandler(handler)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(cache.name + f".{os.getpid()}.tmp")
        encoder.save(partial)
        (partial / "stats.json").write_text(json.dumps(stats))
        partial.rename(cache)
    except OSError:  # a cache we cannot write is only a slower next build
        logger.warning("could not cache the fine-tuned encoder in %s", cache)
    return encoder, stats, True


def _encode(
    encoder: Encoder, texts: list[str], progress: Progress | None, stage: str = "encoding"
) -> np.ndarray:
    if not texts:
        return np.zeros((0, encoder.dimension), dtype="float32")
    parts = []
    for start in range(0, len(texts), ENCODE_CHUNK):
        parts.append(encoder.encode(texts[start : start + ENCODE_CHUNK]))
        if progress:
            progress(stage, min(start + ENCODE_CHUNK, len(texts)), len(texts))
    return np.concatenate(parts)


def _known_vectors(folder: Path | None) -> dict[str, np.ndarray]:
    """Text -> vector of a published version (phrasings and risk examples)."""
    if folder is None or not (folder / "docs.json").exists():
        return {}
    known: dict[str, np.ndarray] = {}
    index = faiss.read_index(str(folder / "docs.faiss"))
    texts = json.loads((folder / "docs.json").read_text())
    if index.ntotal == len(texts) and texts:
        for text, vector in zip(texts, index.reconstruct_n(0, index.ntotal), strict=True):
            known[text] = vector
    risk_texts = json.loads((folder / "risk.json").read_text())
    for text, vector in zip(risk_texts, np.load(folder / "risk.npy"), strict=True):
        known[text] = vector
    return known


def _entry_hash(entry: Entry) -> str:
    return hashlib.sha256(repr(entry).encode()).hexdigest()[:16]


def _changes(previous: Path | None, hashes: dict[str, str]) -> dict[str, list[str]]:
    """Entries added, changed and removed since the published version."""
    path = previous / "entries.json" if previous is not None else None
    if path is None or not path.exists():
        return {"added": sorted(hashes), "changed": [], "removed": []}
    old: dict[str, str] = json.loads(path.read_text())
    return {
        "added": sorted(set(hashes) - set(old)),
        "changed": sorted(k for k in hashes if k in old and old[k] != hashes[k]),
        "removed": sorted(set(old) - set(hashes)),
    }


@dataclass
class Built:
    """What a build produced, in memory: enough to serve without reading it back."""

    kb: KnowledgeBase
    normalizer: Normalizer
    encoder: Encoder
    docs: Documents
    doc_vectors: np.ndarray
    risk: RiskExamples
    risk_vectors: np.ndarray
    manifest: dict[str, object]
    folder: Path


_MEMOS: dict[str, dict[str, Normalised]] = {}
#: the normaliser of the last build or load, by encoder key (creating one takes seconds)
_NORMALIZERS: dict[str, Normalizer] = {}
#: which published encoder an in-memory Encoder object is (the manifest's encoder_id)
_ENCODER_IDS: weakref.WeakKeyDictionary[Encoder, str] = weakref.WeakKeyDictionary()


def _encoder_id(encoder: Encoder) -> str | None:
    return _ENCODER_IDS.get(encoder)


def build_index(
    settings: Settings,
    force: bool = False,
    full: bool = False,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Build the index unless it is current; returns what was done, for the build log.
    `full` forces fine-tuning on the current content (from the cache when it exists);
    `force` rebuilds even when nothing changed; `encoder` is the live encoder of a running
    service (used for an incremental build when it is the published one)."""
    result, _ = build_index_in_memory(settings, force, full, encoder, progress)
    return result


def build_index_in_memory(
    settings: Settings,
    force: bool = False,
    full: bool = False,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
    publish: bool = True,
) -> tuple[dict[str, object], Built | None]:
    """As build_index, and what was built. `publish=False` builds a preview of the working
    copy (for `kb ask`): nothing is written and the live index stays as it is."""
    with build_lock(settings):
        return _build_locked(settings, force, full, encoder, progress, publish)


def _build_locked(
    settings: Settings,
    force: bool,
    full: bool,
    live_encoder: Encoder | None,
    progress: Progress | None,
    publish: bool = True,
) -> tuple[dict[str, object], Built | None]:
    kind = "full" if full else plan(settings)
    manifest = read_manifest(settings)
    if kind == "none" and not force:
        assert manifest is not None
        return {"built": False, "kind": "none", **manifest}, None
    if kind == "none" or (kind == "full" and not full and not publish and manifest is not None):
        kind = "incremental"  # a preview reuses the published encoder, whatever changed
    start = time.perf_counter()
    enc_key = encoder_key(settings)
    kb = load_knowledge(settings.knowledge_dir)
    base_normalizer = _NORMALIZERS.get(enc_key) or Normalizer(
        Lexicon.from_knowledge(settings.knowledge_dir)
    )
    _NORMALIZERS.clear()
    _NORMALIZERS[enc_key] = base_normalizer  # the same lexicons and code: reusable
    memo = MemoNormalizer(base_normalizer, _MEMOS.setdefault(enc_key, {}))
    if len(_MEMOS) > 2:  # the memo of an older normaliser is of no further use
        for key in [k for k in _MEMOS if k != enc_key]:
            del _MEMOS[key]
    docs = build_documents(kb, memo)
    risk = load_risk_examples(settings.knowledge_dir, memo)
    entry_hashes = {e.id: _entry_hash(e) for e in kb.entries}
    logger.info(
        "%s build: %d entries, %d phrasings, %d risk examples; encoder %s",
        kind, len(kb.entries), len(docs.texts), len(risk.texts), settings.encoder,
    )
    folder = _new_version_dir(settings) if publish else Path(tempfile.mkdtemp(prefix="kb-preview-"))
    try:
        stats: dict[str, float] = {}
        trained = False
        previous = current_dir(settings)
        if kind == "full":
            if settings.finetune:
                groups = _finetune_groups(kb, docs, risk)
                encoder, stats, trained = _finetuned_encoder(settings, groups, progress)
                if publish:
                    encoder.save(folder / "encoder")
                encoder_ref = "encoder"
            else:
                encoder, encoder_ref = Encoder(settings.encoder), settings.encoder
            encoder_id = f"{enc_key}:{folder.name}"
            _ENCODER_IDS[encoder] = encoder_id
            known: dict[str, np.ndarray] = {}
        else:
            assert manifest is not None and previous is not None
            encoder_ref = str(manifest["encoder"])
            if encoder_ref == "encoder" and publish:
                _link_tree(previous / "encoder", folder / "encoder")
            encoder_id = str(manifest.get("encoder_id"))
            if live_encoder is not None and _encoder_id(live_encoder) == encoder_id:
                encoder = live_encoder
            else:
                encoder = Encoder(
                    str(previous / "encoder") if encoder_ref == "encoder" else encoder_ref
                )
                _ENCODER_IDS[encoder] = encoder_id
            stats = {
                k.removeprefix("finetune_"): v  # type: ignore[misc]
                for k, v in manifest.items()
                if k.startswith("finetune_")
            }
            known = _known_vectors(previous)
        all_texts = list(dict.fromkeys([*docs.texts, *risk.texts]))
        missing = [t for t in all_texts if t not in known]
        fresh = _encode(encoder, missing, progress)
        known.update(zip(missing, fresh, strict=True))
        dim = encoder.dimension
        doc_vectors = (
            np.stack([known[t] for t in docs.texts]).astype("float32")
            if docs.texts
            else np.zeros((0, dim), dtype="float32")
        )
        risk_vectors = (
            np.stack([known[t] for t in risk.texts]).astype("float32")
            if risk.texts
            else np.zeros((0, dim), dtype="float32")
        )
        index = faiss.IndexFlatIP(dim)
        index.add(doc_vectors)
        faiss.write_index(index, str(folder / "docs.faiss"))
        (folder / "docs.json").write_text(json.dumps(docs.texts, ensure_ascii=False))
        np.save(folder / "risk.npy", risk_vectors)
        (folder / "risk.json").write_text(json.dumps(risk.texts, ensure_ascii=False))
        new_manifest: dict[str, object] = {
            "format": INDEX_FORMAT,
            "fingerprint": fingerprint(settings),
            "encoder_key": enc_key,
            "encoder_id": encoder_id,
            "kind": kind,
            "encoder": encoder_ref,
            "base_encoder": settings.encoder,
            "entries": len(kb.entries),
            "targets": len(kb.targets),
            "documents": len(docs.texts),
            "risk_examples": len(risk.texts),
            "changes": _changes(previous, entry_hashes),
            "encoded": len(missing),
            "finetuned_now": trained,
            "build_seconds": round(time.perf_counter() - start, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **{f"finetune_{k}": v for k, v in stats.items()},
        }
        (folder / "manifest.json").write_text(json.dumps(new_manifest, indent=2))
        (folder / "entries.json").write_text(json.dumps(entry_hashes, indent=0))
        if publish:
            _publish(settings, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if not publish:
        shutil.rmtree(folder, ignore_errors=True)
    built = Built(
        kb=kb,
        normalizer=base_normalizer,
        encoder=encoder,
        docs=docs,
        doc_vectors=doc_vectors,
        risk=risk,
        risk_vectors=risk_vectors,
        manifest=dict(new_manifest, path=str(folder)),
        folder=folder,
    )
    return {"built": True, **built.manifest}, built




# ------------------------------------------------------------------ loading


@dataclass
class LoadedIndex:
    kb: KnowledgeBase
    normalizer: Normalizer
    encoder: Encoder
    docs: Documents
    faiss_index: faiss.Index
    lexical: LexicalScorer
    answers: AnswerScorer
    risk: RiskExamples
    risk_vectors: np.ndarray
    manifest: dict[str, object]


def from_built(built: Built) -> LoadedIndex:
    """Serve a build straight from memory (the service after `kb build`)."""
    faiss_index = faiss.IndexFlatIP(built.doc_vectors.shape[1])
    faiss_index.add(built.doc_vectors)
    normalizer = built.normalizer
    return LoadedIndex(
        kb=built.kb,
        normalizer=normalizer,
        encoder=built.encoder,
        docs=built.docs,
        faiss_index=faiss_index,
        lexical=LexicalScorer(built.docs.texts),
        answers=AnswerScorer(
            [normalizer(f"{e.title} {e.answer}").text if e.answer else "" for e in built.kb.targets]
        ),
        risk=built.risk,
        risk_vectors=built.risk_vectors,
        manifest=built.manifest,
    )


def load_index(settings: Settings, encoder: Encoder | None = None) -> LoadedIndex:
    """Load the index, building it first when it is missing or stale (an incremental
    build when only content changed). `encoder`: reuse this one when it is the published
    encoder (a service reloading after an offline build)."""
    result, built = build_index_in_memory(settings, encoder=encoder)
    if built is not None:
        return from_built(built)
    folder = Path(str(result["path"]))
    manifest = json.loads((folder / "manifest.json").read_text())
    kb = load_knowledge(settings.knowledge_dir)
    key = encoder_key(settings)
    base_normalizer = _NORMALIZERS.get(key) or Normalizer(
        Lexicon.from_knowledge(settings.knowledge_dir)
    )
    _NORMALIZERS.clear()
    _NORMALIZERS[key] = base_normalizer
    memo = MemoNormalizer(base_normalizer, _MEMOS.setdefault(key, {}))
    docs = build_documents(kb, memo)
    texts = json.loads((folder / "docs.json").read_text())
    if texts != docs.texts:
        raise RuntimeError("index does not match the knowledge base; run `make kb ARGS=build`")
    if encoder is None or _encoder_id(encoder) != manifest.get("encoder_id"):
        encoder_ref = str(manifest["encoder"])
        if encoder_ref == "encoder":
            encoder_ref = str(folder / "encoder")
        encoder = Encoder(encoder_ref)
        _ENCODER_IDS[encoder] = str(manifest.get("encoder_id"))
    faiss_index = faiss.read_index(str(folder / "docs.faiss"))
    return LoadedIndex(
        kb=kb,
        normalizer=base_normalizer,
        encoder=encoder,
        docs=docs,
        faiss_index=faiss_index,
        lexical=LexicalScorer(docs.texts),
        answers=AnswerScorer(
            [base_normalizer(f"{e.title} {e.answer}").text if e.answer else "" for e in kb.targets]
        ),
        risk=load_risk_examples(settings.knowledge_dir, memo),
        risk_vectors=np.load(folder / "risk.npy"),
        manifest=dict(manifest, path=str(folder)),
    )
