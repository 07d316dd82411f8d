"""Build, save and load the retrieval index (FAISS over encoder vectors + lexical views).

Artefacts in settings.index_dir: manifest.json (fingerprint of the inputs), encoder/
(the fine-tuned model, when fine-tuning is on), docs.faiss, risk.npy. A build is skipped
when the fingerprint is unchanged, so `make run` stays quick.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from teman.config import Settings
from teman.knowledge.loader import KnowledgeBase, load_knowledge
from teman.nlp.lexicon import LEXICON_FILES, Lexicon, slang_table_version
from teman.nlp.normalize import Normalizer
from teman.retrieval.encoder import Encoder
from teman.retrieval.lexical import AnswerScorer, LexicalScorer
from teman.risk.examples import RiskExamples, load_risk_examples

logger = logging.getLogger(__name__)

CODE_FILES = ("encoder.py", "finetune.py", "index.py")


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


def _index_inputs(knowledge_dir: Path) -> list[Path]:
    """Every file that shapes the vectors: the knowledge the index is built from (patterns
    and places are read live), the normaliser's data and code, and the retrieval code."""
    files = sorted((knowledge_dir / "entries").glob("*.yml"))
    files += sorted((knowledge_dir / "risk").glob("examples*.yml"))
    files += sorted((knowledge_dir / "risk").glob("safe*.yml"))
    for name in (*LEXICON_FILES, "dialogue.yml", "offtopic.yml"):
        if (knowledge_dir / name).exists():
            files.append(knowledge_dir / name)
    package = Path(__file__).resolve().parents[1]
    files += sorted((package / "nlp").glob("*.py"))
    files += [Path(__file__).parent / name for name in CODE_FILES]
    return files


def fingerprint(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in _index_inputs(settings.knowledge_dir):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(f"slang={slang_table_version()}".encode())
    for key in ("encoder", "finetune", "finetune_epochs", "finetune_batch_size", "finetune_seed"):
        digest.update(f"{key}={getattr(settings, key)}".encode())
    return digest.hexdigest()[:20]


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


def _finetuned_encoder(
    settings: Settings, groups: list[list[str]]
) -> tuple[Encoder, dict[str, float]]:
    """The encoder fine-tuned on these groups: from the cache, or trained (and cached)."""
    cache = encoder_cache_dir() / _finetune_key(settings, groups)
    if (cache / "stats.json").exists():
        logger.info("fine-tuned encoder for these questions found in %s", cache)
        return Encoder(str(cache)), json.loads((cache / "stats.json").read_text())
    from teman.retrieval.finetune import finetune  # training code only for builds

    encoder = Encoder(settings.encoder)
    stats = finetune(
        encoder,
        groups,
        epochs=settings.finetune_epochs,
        batch_size=settings.finetune_batch_size,
        seed=settings.finetune_seed,
    )
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(cache.name + f".{os.getpid()}.tmp")
        encoder.save(partial)
        (partial / "stats.json").write_text(json.dumps(stats))
        partial.rename(cache)
    except OSError:  # a cache we cannot write is only a slower next build
        logger.warning("could not cache the fine-tuned encoder in %s", cache)
    return encoder, stats


def build_index(settings: Settings, force: bool = False) -> dict[str, object]:
    """Build the index unless it is current; returns what was done, for the build log.

    A file lock makes concurrent builders (two `make run`s, a test and a server) wait for
    one another instead of writing the same folder.
    """
    settings.index_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = settings.index_dir.with_name(settings.index_dir.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(settings, force)


def _build_locked(settings: Settings, force: bool) -> dict[str, object]:
    fp = fingerprint(settings)
    manifest_path = settings.index_dir / "manifest.json"
    if not force and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("fingerprint") == fp:
            return {"built": False, **manifest}
    start = time.perf_counter()
    kb = load_knowledge(settings.knowledge_dir)
    normalizer = Normalizer(Lexicon.from_knowledge(settings.knowledge_dir))
    docs = build_documents(kb, normalizer)
    risk = load_risk_examples(settings.knowledge_dir, normalizer)
    logger.info(
        "building: %d entries, %d phrasings, %d risk examples; encoder %s",
        len(kb.entries), len(docs.texts), len(risk.texts), settings.encoder,
    )
    tmp = settings.index_dir.with_name(settings.index_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    stats: dict[str, float] = {}
    encoder_ref = settings.encoder
    if settings.finetune:
        groups = _finetune_groups(kb, docs, risk)
        encoder, stats = _finetuned_encoder(settings, groups)
        encoder.save(tmp / "encoder")
        encoder_ref = "encoder"
    else:
        encoder = Encoder(settings.encoder)
    logger.info("encoding %d phrasings and %d risk examples", len(docs.texts), len(risk.texts))
    vectors = encoder.encode(docs.texts)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(tmp / "docs.faiss"))
    np.save(tmp / "risk.npy", encoder.encode(risk.texts))
    manifest = {
        "fingerprint": fp,
        "encoder": encoder_ref,
        "base_encoder": settings.encoder,
        "entries": len(kb.entries),
        "targets": len(kb.targets),
        "documents": len(docs.texts),
        "risk_examples": len(risk.texts),
        "build_seconds": round(time.perf_counter() - start, 1),
        **{f"finetune_{k}": v for k, v in stats.items()},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    tmp.rename(settings.index_dir)
    return {"built": True, **manifest}


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


def load_index(settings: Settings) -> LoadedIndex:
    """Load the index, building it first when it is missing or stale."""
    build_index(settings)
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    kb = load_knowledge(settings.knowledge_dir)
    normalizer = Normalizer(Lexicon.from_knowledge(settings.knowledge_dir))
    docs = build_documents(kb, normalizer)
    encoder_ref = str(manifest["encoder"])
    if encoder_ref == "encoder":
        encoder_ref = str(settings.index_dir / "encoder")
    faiss_index = faiss.read_index(str(settings.index_dir / "docs.faiss"))
    if faiss_index.ntotal != len(docs.texts):
        raise RuntimeError("index does not match the knowledge base; run `make index`")
    return LoadedIndex(
        kb=kb,
        normalizer=normalizer,
        encoder=Encoder(encoder_ref),
        docs=docs,
        faiss_index=faiss_index,
        lexical=LexicalScorer(docs.texts),
        answers=AnswerScorer(
            [normalizer(f"{e.title} {e.answer}").text if e.answer else "" for e in kb.targets]
        ),
        risk=load_risk_examples(settings.knowledge_dir, normalizer),
        risk_vectors=np.load(settings.index_dir / "risk.npy"),
        manifest=manifest,
    )
