"""The ledger: admission one namespace at a time, so a burst of concurrent requests never exceeds a quota; fresh
grants count until the stored status catches up; a release makes room and names who waits for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from herder.controllers.shared.ledger import Ledger
from herder.reconcile.quota import Quota, Usage

SERVER = Usage(servers=1, cpu=2, memory_mib=2048)
QUOTAS = [Quota("compute", servers=5, cpu=20)]


class SlowQuotas(list[Quota]):
    """Quotas read slowly, between reading what is in use and granting: an admission that is not serialised gets
    interleaved there (sleep releases the GIL), as the ECS daemons' worker threads would."""

    def __iter__(self) -> Iterator[Quota]:
        time.sleep(0.005)
        return super().__iter__()


def test_a_burst_of_twenty_concurrent_creates_never_exceeds_the_quota() -> None:
    ledger = Ledger()
    start = threading.Barrier(20)
    answers: dict[str, str | None] = {}

    def create(uid: str) -> None:
        start.wait()
        answers[uid] = ledger.admit("team-a", uid, SERVER, SlowQuotas(QUOTAS), {})

    threads = [threading.Thread(target=create, args=(f"ecs-{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted = sorted(uid for uid, why in answers.items() if why is None)
    assert len(admitted) == 5, answers
    assert ledger.used("team-a", {}) == SERVER.times(5)
    refused = {why for why in answers.values() if why is not None}
    assert refused == {"ServerQuota compute: servers 5 in use + 1 requested > 5 allowed"}
    assert ledger.waiting("team-a") == {f"ecs-{i}" for i in range(20)} - set(admitted)
    assert ledger.used("team-b", {}) == Usage()  # namespaces do not share


def test_a_grant_counts_until_the_stored_status_shows_it_and_never_twice() -> None:
    ledger = Ledger()
    assert ledger.admit("ns", "a", SERVER, QUOTAS, {}) is None
    assert ledger.used("ns", {}) == SERVER  # not indexed yet: the grant counts
    assert ledger.used("ns", {"a": SERVER}) == SERVER  # indexed: the larger of the two, not the sum
    bigger = Usage(servers=1, cpu=4, memory_mib=2048)
    assert ledger.used("ns", {"a": bigger}) == bigger  # observed bigger than granted: what is there counts


def test_a_release_makes_room_and_names_who_waits_for_it() -> None:
    ledger = Ledger()
    full = {f"ecs-{i}": SERVER for i in range(5)}
    assert ledger.admit("ns", "late", SERVER, QUOTAS, full) is not None
    del full["ecs-0"]
    assert ledger.release("ns", "ecs-0") == {"late"}
    assert ledger.admit("ns", "late", SERVER, QUOTAS, full) is None
    assert ledger.waiting("ns") == set()


def test_room_counts_members_that_have_not_asked_yet() -> None:
    ledger = Ledger()
    used = {"a": SERVER, "b": SERVER}
    assert ledger.room("ns", SERVER, ["a", "b"], QUOTAS, used)[0] == 3
    fits, why = ledger.room("ns", SERVER, ["a", "b", "new-1", "new-2"], QUOTAS, used)
    assert fits == 1 and why == "ServerQuota compute: servers 5 in use + 1 requested > 5 allowed"
    assert ledger.room("ns", SERVER, [], [Quota("images", images=1)], used) == (None, None)
