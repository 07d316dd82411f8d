"""Rasa NLU component that keeps real questions and reports out of the small-talk rules.

DIET is confident even on messages it has never seen, so "halo kak, paspor saya ditahan"
can come out as `greet`. This guard learns the vocabulary of the small-talk examples at
training time; a message classified as small talk that carries words outside that
vocabulary (or no words at all) is re-labelled `ask_question`, which routes it to the
action server where the risk detector and the retrieval look at it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

WORD = re.compile(r"[0-9a-zA-Z\u00C0-\u024F]+")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SmalltalkGuard(GraphComponent, IntentClassifier):
    """Re-labels small-talk predictions that contain unfamiliar content words."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "smalltalk_intents": [
                "greet",
                "goodbye",
                "thanks",
                "bot_challenge",
                "help",
                "affirm",
                "deny",
            ],
            "route_to": "ask_question",
            "max_unknown_words": 1,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: set[str] | None = None,
    ) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SmalltalkGuard:
        return cls(config, model_storage, resource)

    @staticmethod
    def _words(text: str) -> list[str]:
        return [w.lower() for w in WORD.findall(text or "")]

    def train(self, training_data: TrainingData) -> Resource:
        intents = set(self.config["smalltalk_intents"])
        for example in training_data.intent_examples:
            if example.get(INTENT) in intents:
                self.vocabulary.update(self._words(example.get(TEXT)))
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / "vocabulary.json").write_text(json.dumps(sorted(self.vocabulary)))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SmalltalkGuard:
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = set(json.loads((model_dir / "vocabulary.json").read_text()))
        except ValueError:
            vocabulary = set()
        return cls(config, model_storage, resource, vocabulary)

    def process(self, messages: list[Message]) -> list[Message]:
        intents = set(self.config["smalltalk_intents"])
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) not in intents:
                continue
            words = self._words(message.get(TEXT))
            unknown = [w for w in words if w not in self.vocabulary]
            # No words at all (emoji, dots) is not small talk either: the action server
            # answers it kindly.
            if not words or len(unknown) > self.config["max_unknown_words"]:
                rerouted = dict(intent)
                rerouted[INTENT_NAME_KEY] = self.config["route_to"]
                message.set(INTENT, rerouted, add_to_output=True)
        return messages
