import numpy as np
import pytest

from trainables.data.engraving import Clef, Engraver, clef_for, load_targets, note_mei
from trainables.image_size import HEIGHT, WIDTH
from trainables.keys import KEYS, Key, midi_from_name


@pytest.fixture(scope="module")
def targets(small_root):
    return load_targets(small_root / "targets")[:, 0]


def staff_rows(image: np.ndarray) -> tuple[int, ...]:
    """Rows inked across most of the width: the five staff lines (ledger lines are short)."""
    return tuple(np.flatnonzero((image < 0.5).mean(axis=1) > 0.6))


def test_88_grayscale_targets_of_the_contract_shape(targets):
    assert targets.shape == (88, HEIGHT, WIDTH)
    assert targets.dtype == np.float32
    assert targets.min() >= 0.0 and targets.max() <= 1.0
    # white paper, dark ink
    assert (np.median(targets, axis=(1, 2)) == 1.0).all()
    assert (targets.min(axis=(1, 2)) < 0.1).all()


def test_staff_sits_on_the_same_rows_in_every_image(targets):
    rows = {staff_rows(image) for image in targets}
    assert len(rows) == 1
    (only,) = rows
    assert len(only) == 5


def test_nothing_is_cut_at_the_edges(targets):
    """The highest (C8, 5 ledger lines) and lowest notes stay inside the window."""
    assert (targets[:, 0, :] == 1.0).all() and (targets[:, -1, :] == 1.0).all()


def test_every_key_has_its_own_image(targets):
    flat = targets.reshape(88, -1)
    distances = ((flat[:, None] - flat[None]) ** 2).mean(axis=2)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 1e-4


@pytest.mark.parametrize(
    ("name", "clef"),
    [
        ("A0", Clef.BASS_8VB),
        ("A#0", Clef.BASS_8VB),
        ("C2", Clef.BASS),
        ("B3", Clef.BASS),
        ("C4", Clef.TREBLE),
        ("B5", Clef.TREBLE),
        ("C6", Clef.TREBLE_8VA),
        ("C8", Clef.TREBLE_8VA),
    ],
)
def test_clef_by_register(name, clef):
    assert clef_for(Key(midi_from_name(name))) is clef


def test_mei_says_what_is_drawn():
    mei = note_mei(Key(22))  # A#0
    assert 'clef.shape="F"' in mei and 'clef.dis.place="below"' in mei
    assert 'pname="a"' in mei and 'oct="0"' in mei and 'accid="s"' in mei
    assert 'meter.sym="common"' in mei and 'dur="1"' in mei
    assert 'clef.dis.place="above"' in note_mei(KEYS[-1])


def test_engraving_is_deterministic():
    a, b = Engraver(), Engraver()
    assert np.array_equal(a.image(KEYS[40]), b.image(KEYS[40]))
