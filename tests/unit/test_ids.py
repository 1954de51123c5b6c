import datetime as dt
import uuid

from spur.ids import uuid7


def test_version_7_ids_are_canonical_and_ordered_by_time() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    ids = [uuid7(start + dt.timedelta(milliseconds=n)) for n in range(200)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert str(uuid.UUID(str(ids[0]))) == str(ids[0])
    assert int(ids[0]) >> 80 == int(start.timestamp() * 1000)


def test_given_random_bits_make_reproducible_ids() -> None:
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert uuid7(at, random_bits=12345) == uuid7(at, random_bits=12345)
    assert uuid7(at, random_bits=1) != uuid7(at, random_bits=2)
