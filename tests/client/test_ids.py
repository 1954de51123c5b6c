import datetime as dt
import os
import uuid

from spur.client.ids import IdMinter, uuid7


def test_version_7_ids_are_canonical_and_ordered_by_time() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    ids = [uuid7(start + dt.timedelta(milliseconds=n)) for n in range(200)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert str(uuid.UUID(str(ids[0]))) == str(ids[0])
    assert int(ids[0]) >> 80 == int(start.timestamp() * 1000)


def test_ids_of_the_same_millisecond_are_distinct_and_keep_their_order() -> None:
    at = dt.datetime(2026, 11, 1, 12, 0, 0, 250_500, tzinfo=dt.UTC)
    minter = IdMinter()
    same = [minter.mint(at) for _ in range(10_000)]
    assert len(set(same)) == 10_000
    # No sub-millisecond clock (the store keeps an id as its distance from the
    # start's millisecond): the counter alone orders a minter's ids.
    assert all((int(i) >> 64) & 0xFFF == 0 for i in same)
    later = minter.mint(at + dt.timedelta(microseconds=300))
    assert later > max(same)


def test_a_seed_makes_reproducible_ids_and_two_seeds_differ() -> None:
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert IdMinter(seed=12345).mint(at) == IdMinter(seed=12345).mint(at)
    assert IdMinter(seed=1).mint(at) != IdMinter(seed=2).mint(at)


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: mint one id and hand it over
        os.close(read_end)
        os.write(write_end, uuid7().bytes)
        os._exit(0)
    os.close(write_end)
    from_child = uuid.UUID(bytes=os.read(read_end, 16))
    os.waitpid(pid, 0)
    os.close(read_end)
    mine = uuid7()
    # Without re-seeding, both would hold the same next counter value.
    assert (int(mine) & ((1 << 62) - 1)) != (int(from_child) & ((1 << 62) - 1))
