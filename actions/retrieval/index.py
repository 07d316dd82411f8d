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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from actions.config import Settings
from actions.knowledge.loader import KnowledgeBase, load_knowledge
from actions.nlp.lexicon import Lexicon
from actions.nlp.normalize import Normalizer
from actions.retrieval.encoder import Encoder
from actions.retrieval.finetune import finetune
from actions.retrieval.lexical import AnswerScorer, LexicalScorer
from actions.risk.examples import RiskExamples, load_risk_examples

logger = logging.getLogger(__name__)

CODE_FILES = ("encoder.py", "finetune.py", "index.py")


@dataclass
class Documents:
    """Every searchable phrasing, normalised, with the entry it belongs to."""

    texts: list[str]
    entry_of: np.ndarray  # int index into kb.entries, one per text


def build_documents(kb: KnowledgeBase, normalizer: Normalizer) -> Documents:
    texts: list[str] = []
    owners: list[int] = []
    for i, entry in enumerate(kb.entries):
        for phrasing in (entry.title, *entry.questions):
            norm = normalizer(phrasing).text
            if norm:
                texts.append(norm)
                owners.append(i)
    return Documents(texts, np.asarray(owners, dtype="int64"))


def _index_inputs(knowledge_dir: Path) -> list[Path]:
    """The knowledge files the index is built from (patterns and places are read live)."""
    files = sorted((knowledge_dir / "entries").glob("*.yml"))
    for name in ("lexicon.yml", "risk/examples.yml", "risk/safe_examples.yml"):
        if (knowledge_dir / name).exists():
            files.append(knowledge_dir / name)
    return files


def fingerprint(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in _index_inputs(settings.knowledge_dir):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for name in CODE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    for key in ("encoder", "finetune", "finetune_epochs", "finetune_batch_size", "finetune_seed"):
        digest.update(f"{key}={getattr(settings, key)}".encode())
    return digest.hexdigest()[:20]


def _finetune_groups(kb: KnowledgeBase, docs: Documents, risk: RiskExamples) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in kb.entries]
    for text, owner in zip(docs.texts, docs.entry_of, strict=True):
        groups[int(owner)].append(text)
    groups.extend(risk.normalised_by_category().values())
    return groups


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
    encoder = Encoder(settings.encoder)
    tmp = settings.index_dir.with_name(settings.index_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    stats: dict[str, float] = {}
    encoder_ref = settings.encoder
    if settings.finetune:
        stats = finetune(
            encoder,
            _finetune_groups(kb, docs, risk),
            epochs=settings.finetune_epochs,
            batch_size=settings.finetune_batch_size,
            seed=settings.finetune_seed,
        )
        encoder.save(tmp / "encoder")
        encoder_ref = "encoder"
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
        answers=AnswerScorer([normalizer(f"{e.title} {e.answer}").text for e in kb.entries]),
        risk=load_risk_examples(settings.knowledge_dir, normalizer),
        risk_vectors=np.load(settings.index_dir / "risk.npy"),
        manifest=manifest,
    )
