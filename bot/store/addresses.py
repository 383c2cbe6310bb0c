"""Client addresses, kept only as keyed hashes: HMAC-SHA256 of the address under a server secret (an unsalted
hash of an IPv4 address is reversed by hashing all four billion). The secret is HELPLINE_SECRET where set
(then a copy of the database alone reveals no address), else a random one made once and kept in the database,
so every app process on it computes the same hashes. Mixed into `bot.store.conversations.Store`.

Also the addresses each agent logged in from, which a lockout by failed logins from elsewhere spares.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.store.schema import Agent, AgentAddress, ServerSecret, utcnow

KNOWN_ADDRESSES = 20   # per agent: the most recent login addresses kept


class ClientAddresses:
    """Needs ``transaction()``, ``sessions`` and ``secret`` (HELPLINE_SECRET or None), as `Store` has."""
    _address_key: bytes | None = None

    def address_key(self) -> bytes:
        if self._address_key is None:
            self._address_key = (self.secret or self._stored_secret()).encode()
        return self._address_key

    def _stored_secret(self) -> str:
        with self.sessions() as session:
            found = session.get(ServerSecret, "address")
        if found is not None:
            return found.value
        try:
            with self.transaction() as session:
                session.add(ServerSecret(name="address", value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass   # another process made it first: use theirs
        with self.sessions() as session:
            return session.get(ServerSecret, "address").value

    def source_of(self, address: str | None) -> str | None:
        """A keyed hash of a client address: conversations from one address can be grouped (flood flagging)
        and an agent's login addresses recognised, without the address being stored or recoverable."""
        if not address:
            return None
        return hmac.new(self.address_key(), address.encode(), hashlib.sha256).hexdigest()[:32]

    def is_known_address(self, name: str, address: str) -> bool:
        """Whether the agent ``name`` has logged in from ``address`` before."""
        source = self.source_of(address)
        with self.sessions() as session:
            return session.scalar(select(AgentAddress.agent_id).join(Agent, Agent.id == AgentAddress.agent_id)
                                  .where(Agent.name == name, AgentAddress.source == source)) is not None

    def remember_address(self, agent_id: int, address: str) -> None:
        """Keep a successful login's address (the newest ``KNOWN_ADDRESSES`` per agent)."""
        source = self.source_of(address)
        with self.transaction() as session:
            row = session.get(AgentAddress, (agent_id, source))
            if row is None:
                session.add(AgentAddress(agent_id=agent_id, source=source, last_login=utcnow()))
            else:
                row.last_login = utcnow()
            session.flush()
            keep = select(AgentAddress.source).where(AgentAddress.agent_id == agent_id) \
                .order_by(AgentAddress.last_login.desc()).limit(KNOWN_ADDRESSES)
            session.execute(delete(AgentAddress).where(AgentAddress.agent_id == agent_id,
                                                       AgentAddress.source.not_in(keep.scalar_subquery())))
