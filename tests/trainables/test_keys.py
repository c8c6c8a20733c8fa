import pytest

from trainables.keys import KEYS, Register, key_index, midi_from_name, note_name, register_of


def test_88_keys_from_a0_to_c8():
    assert len(KEYS) == 88
    assert (KEYS[0].name, KEYS[-1].name) == ("A0", "C8")
    assert [k.index for k in KEYS] == list(range(88))


@pytest.mark.parametrize(
    ("midi", "name"), [(21, "A0"), (22, "A#0"), (60, "C4"), (61, "C#4"), (83, "B5"), (108, "C8")]
)
def test_names_use_sharps_and_round_trip(midi, name):
    assert note_name(midi) == name
    assert midi_from_name(name) == midi


def test_register_boundaries():
    assert register_of(21) is register_of(47) is Register.LOW
    assert register_of(48) is register_of(83) is Register.MID
    assert register_of(84) is register_of(108) is Register.HIGH
    assert sum(k.is_black for k in KEYS) == 36


@pytest.mark.parametrize("bad", [20, 109, -1])
def test_non_piano_keys_are_rejected(bad):
    with pytest.raises(ValueError, match="not a piano key"):
        note_name(bad)
    with pytest.raises(ValueError, match="not a piano key"):
        key_index(bad)


@pytest.mark.parametrize("bad", ["Bb0", "H4", "C", "c4", "G#9"])
def test_bad_names_are_rejected(bad):
    with pytest.raises(ValueError):
        midi_from_name(bad)
