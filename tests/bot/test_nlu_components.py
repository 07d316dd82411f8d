"""The custom Rasa NLU components: lexicon normaliser and small-talk guard."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalizer import LexiconNormalizer
from bot.nlu.smalltalk_guard import SmalltalkGuard

ROOT = Path(__file__).resolve().parents[2]


def tokenized(text: str, intent: str | None = None) -> Message:
    data = {TEXT: text}
    if intent:
        data[INTENT] = intent
    message = Message(data=data)
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    return message


def test_lexicon_sets_standard_lemmas() -> None:
    normalizer = LexiconNormalizer({"lexicon_path": str(ROOT / "knowledge" / "lexicon.yml")})
    message = tokenized("beta mau pi kerja, sonde tau")
    normalizer.process([message])
    lemmas = [t.lemma for t in message.get(TOKENS_NAMES[TEXT])]
    assert lemmas[:3] == ["saya", "mau", "pergi"]
    assert "tidak" in lemmas


def test_missing_lexicon_means_no_change(tmp_path: Path) -> None:
    normalizer = LexiconNormalizer({"lexicon_path": str(tmp_path / "none.yml")})
    message = tokenized("beta mau pi")
    normalizer.process([message])
    assert [t.lemma for t in message.get(TOKENS_NAMES[TEXT])] == ["beta", "mau", "pi"]


def _trained_guard(tmp_path: Path) -> SmalltalkGuard:
    storage = LocalModelStorage(tmp_path)
    config = {**SmalltalkGuard.get_default_config()}
    guard = SmalltalkGuard.create(config, storage, Resource("guard"), None)
    examples = [tokenized(t, "greet") for t in ("halo kak", "selamat pagi", "hai")]
    examples += [tokenized("syarat jadi pmi", "ask_question")]
    guard.train(TrainingData(training_examples=examples))
    return SmalltalkGuard.load(config, storage, Resource("guard"), None)


def _predicted(guard: SmalltalkGuard, text: str, intent: str) -> str:
    message = tokenized(text)
    message.set(INTENT, {"name": intent, "confidence": 0.9})
    guard.process([message])
    return message.get(INTENT)["name"]


def test_plain_greeting_stays_small_talk(tmp_path: Path) -> None:
    guard = _trained_guard(tmp_path)
    assert _predicted(guard, "halo kak", "greet") == "greet"
    assert _predicted(guard, "selamat pagi kak", "greet") == "greet"


def test_greeting_with_content_goes_to_the_action_server(tmp_path: Path) -> None:
    guard = _trained_guard(tmp_path)
    assert _predicted(guard, "halo kak paspor saya ditahan majikan", "greet") == "ask_question"
    assert _predicted(guard, "😀😀", "greet") == "ask_question"
    assert _predicted(guard, "apa saja syaratnya", "ask_question") == "ask_question"
