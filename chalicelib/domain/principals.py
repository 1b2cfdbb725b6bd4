"""Who acts: an authenticated user and their role; roles are ordered agent < manager < admin."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    NONE = 0  # authenticated, but in no ShopDesk group: may do nothing
    AGENT = 1
    MANAGER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role | None:
        role = cls.__members__.get(name.strip().upper())
        return None if role is cls.NONE else role


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    role: Role

    def can(self, required: Role) -> bool:
        return self.role >= required
