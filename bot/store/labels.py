"""Agents' label corrections and the review queue (active learning): the training data retraining reads from the
store. Mixed into `bot.store.conversations.Store`."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.store.database import MAX_ID
from bot.store.schema import LabelCorrection, Message


class LabelQueue:
    def correct_label(self, message_id: int, intent: str, agent_id: int | None = None) -> LabelCorrection:
        if not 1 <= message_id <= MAX_ID:
            raise KeyError(message_id)
        with self.transaction() as session:
            message = session.get(Message, message_id)
            if message is None or message.role != "customer":
                raise KeyError(message_id)
            correction = LabelCorrection(message_id=message_id, intent=intent, previous_intent=message.intent,
                                         agent_id=agent_id)
            session.add(correction)
            return correction

    def review_queue(self, limit: int = 50, scan: int = 5000) -> list[tuple[Message, float]]:
        """Active learning: recent customer messages the model was least sure about (smallest margin between
        its top two intents), not yet labelled by an agent, least sure first."""
        with self.sessions() as session:
            corrected = select(LabelCorrection.message_id)
            recent = session.scalars(select(Message).where(Message.role == "customer", Message.id.not_in(corrected))
                                     .order_by(Message.id.desc()).limit(scan))
            scored = []
            for m in recent:
                alternatives = (m.prediction or {}).get("alternatives") or []
                top = [float(a[1]) for a in alternatives[:2]] + [0.0, 0.0]
                scored.append((m, round(top[0] - top[1], 4)))
        return sorted(scored, key=lambda ms: ms[1])[:limit]

    def label_corrections(self) -> list[tuple[str, str]]:
        """(stored text, corrected intent), the latest correction per message: training data for retraining."""
        with self.sessions() as session:
            latest = select(func.max(LabelCorrection.id)).group_by(LabelCorrection.message_id)
            rows = session.execute(select(Message.text, LabelCorrection.intent).join(
                LabelCorrection, LabelCorrection.message_id == Message.id).where(LabelCorrection.id.in_(latest)))
            return [tuple(row) for row in rows]
