"""What an agent does to a conversation (reply, take over, resolve, correct a message's intent), in one place
that the REST API and the console both call, so both check the same things: a reply is not empty, a corrected
intent is one the model or the catalogue knows. How each action moves the conversation is decided in
bot/conversation/state.py; the store saves it."""
from __future__ import annotations

from bot.conversation.state import after_agent_reply, after_resolve, after_take_over


class AgentDesk:
    def __init__(self, helpline):
        self.helpline = helpline   # bot.conversation.service.Helpline: its store, classifier and catalogue

    def known_intents(self) -> list[str]:
        """The intents an agent may correct a message to: the serving model's and the catalogue's."""
        return sorted(set(self.helpline.classifier.intent_labels) | set(self.helpline.catalogue.intents))

    def reply(self, conversation_id: str, text: str, agent_id: int | None = None):
        """The agent's reply, stored (the customer sees it live). KeyError: no such conversation."""
        text = (text or "").strip()
        if not text:
            raise ValueError("write a reply first: it is empty")
        return self.helpline.store.change(conversation_id.strip(), after_agent_reply, agent_id, reply=text)

    def take_over(self, conversation_id: str, agent_id: int | None = None) -> None:
        """The bot stops answering in the conversation. KeyError: no such conversation."""
        self.helpline.store.change(conversation_id.strip(), after_take_over, agent_id)

    def resolve(self, conversation_id: str) -> None:
        """Close the conversation. KeyError: no such conversation."""
        self.helpline.store.change(conversation_id.strip(), after_resolve)

    def correct_label(self, message_id: int, intent: str, agent_id: int | None = None):
        """Keep an agent's intent for a customer message (for retraining). ValueError: an intent neither the model
        nor the catalogue knows; KeyError: no such customer message."""
        if intent not in self.known_intents():
            raise ValueError(f"unknown intent {intent!r}; use one the model or the catalogue knows")
        return self.helpline.store.correct_label(int(message_id), intent, agent_id)
