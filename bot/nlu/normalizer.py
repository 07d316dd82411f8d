"""Rasa NLU component that maps WhatsApp slang and Kupang Malay to standard Indonesian.

It runs right after the tokenizer and rewrites each token's lemma, which the
CountVectorsFeaturizer uses by default, so DIET sees "beta mau pi" as "saya mau pergi".
The lexicon is data (knowledge/lexicon.yml), shared with the action server.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

DEFAULT_LEXICON = "knowledge/lexicon.yml"


def load_lexicon(path: str | Path) -> dict[str, str]:
    """Read the token -> replacement map; a missing file means no normalisation."""
    path = Path(path)
    if not path.exists():
        logger.warning("Lexicon %s not found; NLU runs without normalisation.", path)
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    mapping = data.get("map", data) if isinstance(data, dict) else {}
    return {str(k).lower(): "" if v is None else str(v).lower() for k, v in mapping.items()}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LexiconNormalizer(GraphComponent):
    """Sets each token's lemma to its standard form from the project lexicon."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"lexicon_path": DEFAULT_LEXICON}

    def __init__(self, config: dict[str, Any]) -> None:
        path = os.environ.get("TEMAN_LEXICON") or config.get("lexicon_path", DEFAULT_LEXICON)
        self.lexicon = load_lexicon(path)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LexiconNormalizer:
        return cls(config)

    def _normalise(self, message: Message) -> None:
        for token in message.get(TOKENS_NAMES[TEXT], []) or []:
            replacement = self.lexicon.get(token.text.lower())
            if replacement is not None:
                token.lemma = replacement or token.text.lower()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalise(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._normalise(message)
        return training_data
