"""The signing serializers on their own: round trips, integers kept for INCR, refusals counted."""

from __future__ import annotations

import io
import pickle

from bi_app.data import signed_cache
from bi_app.data.signed_cache import SignedFileSystemSerializer, SignedRedisSerializer, signing_key

KEY = signing_key("s" * 32)


def test_values_round_trip_and_integers_stay_plain_for_incr():
    s = SignedRedisSerializer(KEY)
    value = {"rows": [1, 2.5, "x"], "none": None}
    assert s.loads(s.dumps(value)) == value
    assert s.dumps(41) == b"41" and s.loads(b"41") == 41  # Redis INCR works on this
    assert s.loads(None) is None


def test_a_changed_byte_or_another_key_is_refused_and_counted():
    s = SignedRedisSerializer(KEY)
    signed = s.dumps("tokens")
    before = signed_cache.refusals.count
    tampered = signed[:-1] + bytes([signed[-1] ^ 1])
    assert s.loads(tampered) is None
    assert SignedRedisSerializer(signing_key("t" * 32)).loads(signed) is None
    assert s.loads(b"!" + pickle.dumps("unsigned")) is None
    assert s.loads(b"not a number") is None  # plain values other than integers are refused too
    assert signed_cache.refusals.count == before + 4


def test_the_key_is_derived_not_the_secret_itself():
    assert signing_key("s" * 32) != ("s" * 32).encode()
    assert signing_key("s" * 32) == KEY and signing_key("s" * 31 + "t") != KEY


def test_file_serializer_round_trip_and_refusal():
    s = SignedFileSystemSerializer(KEY)
    buffer = io.BytesIO()
    s.dump([1, 2, 3], buffer)
    buffer.seek(0)
    assert s.load(buffer) == [1, 2, 3]
    assert s.load(io.BytesIO(pickle.dumps([1, 2, 3]))) is None
