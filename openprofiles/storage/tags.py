"""Tags, stored by resource ARN for every resource of both services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, or_, select

from openprofiles.storage.tables import tags


class TagRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, arn: str) -> dict[str, str]:
        rows = self.conn.execute(
            select(tags.c.tag_key, tags.c.tag_value).where(tags.c.resource_arn == arn).order_by(tags.c.tag_key)
        )
        return {row.tag_key: row.tag_value for row in rows}

    def get_many(self, arns: Iterable[str]) -> dict[str, dict[str, str]]:
        wanted = list(arns)
        out: dict[str, dict[str, str]] = {arn: {} for arn in wanted}
        if wanted:
            rows = self.conn.execute(select(tags).where(tags.c.resource_arn.in_(wanted)).order_by(tags.c.tag_key))
            for row in rows:
                out[row.resource_arn][row.tag_key] = row.tag_value
        return out

    def put(self, arn: str, values: Mapping[str, str]) -> None:
        """Add or overwrite these tags, keeping the others."""
        if not values:
            return
        self.conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.tag_key.in_(list(values))))
        self.conn.execute(
            insert(tags), [{"resource_arn": arn, "tag_key": k, "tag_value": v} for k, v in values.items()]
        )

    def remove(self, arn: str, keys: Iterable[str]) -> None:
        self.conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.tag_key.in_(list(keys))))

    def delete_resource(self, arn: str) -> None:
        """Drop the tags of a resource and of everything under it (`arn/…`)."""
        self.conn.execute(
            delete(tags).where(or_(tags.c.resource_arn == arn, tags.c.resource_arn.startswith(arn + "/", autoescape=True)))
        )
