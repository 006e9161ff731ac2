"""Tags by resource ARN: put merges, remove drops keys, delete_resource drops a resource and
everything under it (and nothing that merely shares its prefix)."""

from __future__ import annotations

from openprofiles.storage.store import Store

DOMAIN = "arn:aws:profile:us-east-1:111111111111:domains/d"


def test_put_overwrites_the_given_keys_and_keeps_the_others(store: Store) -> None:
    with store.write() as uow:
        uow.tags.put(DOMAIN, {"a": "1", "b": "2"})
        uow.tags.put(DOMAIN, {"b": "3", "c": "4"})
        uow.tags.put(DOMAIN, {})
    with store.read() as uow:
        assert uow.tags.get(DOMAIN) == {"a": "1", "b": "3", "c": "4"}
    with store.write() as uow:
        uow.tags.remove(DOMAIN, ["a", "missing"])
    with store.read() as uow:
        assert uow.tags.get(DOMAIN) == {"b": "3", "c": "4"}
        assert uow.tags.get_many([DOMAIN, "arn:other"]) == {DOMAIN: {"b": "3", "c": "4"}, "arn:other": {}}
        assert uow.tags.get_many([]) == {}


def test_delete_resource_takes_its_children_and_not_its_namesakes(store: Store) -> None:
    child = f"{DOMAIN}/object-types/t"
    namesake = f"{DOMAIN}2"  # a domain "d2": same prefix, not under "d"
    odd = "arn:aws:profile:us-east-1:111111111111:domains/d_%"  # LIKE wildcards in the ARN itself
    with store.write() as uow:
        for arn in (DOMAIN, child, namesake, odd, f"{odd}/x"):
            uow.tags.put(arn, {"k": arn})
        uow.tags.delete_resource(DOMAIN)
    with store.read() as uow:
        left = uow.tags.get_many([DOMAIN, child, namesake, odd])
    assert left == {DOMAIN: {}, child: {}, namesake: {"k": namesake}, odd: {"k": odd}}
    with store.write() as uow:
        uow.tags.delete_resource(odd)
    with store.read() as uow:
        assert uow.tags.get(namesake) == {"k": namesake} and uow.tags.get(f"{odd}/x") == {}
