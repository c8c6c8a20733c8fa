"""A study is one YAML file: the question, the space, the searcher, the budget, the resources.

Everything is checked on load, so a typo costs a second, not a cluster hour.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from search_spaces.study_schema import (
    ASHA,
    DATASET,
    DISTRIBUTIONS,
    METRICS,
    MODES,
    OPTUNA,
    RENDERING,
    REQUIRED,
    RESOURCES,
    SCHEDULERS,
    SEARCHERS,
    TOP_LEVEL,
    is_a,
)
from trainables.data.instruments import DEFAULT_SOUNDFONT, PIANO_PRESETS
from trainables.data.rendering import DEFAULT_RENDERER, RENDERERS
from trainables.errors import ConfigError
from trainables.text_files import read_utf8
from trainables.training.config import TrialConfig

STUDIES_DIR = Path(__file__).parent / "studies"


class StudyError(ConfigError):
    """A study file breaks the study schema."""


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: a distribution and its arguments."""

    name: str
    kind: str  # choice | uniform | loguniform | int
    values: tuple  # the choices, or (low, high)


@dataclass(frozen=True)
class DatasetRef:
    root: Path = Path("data/default")
    soundfonts: tuple[Path, ...] = (DEFAULT_SOUNDFONT,)
    presets: tuple[int, ...] = PIANO_PRESETS
    velocities: tuple[int, ...] = (40, 80, 120)
    test_fraction: float = 0.2
    held_out_instruments: tuple[str, ...] = ()
    renderer: str = DEFAULT_RENDERER
    # a merged dataset (trainables/data/merge.py) instead of a rendered one: its sources,
    # each already built, and the instruments sent whole to the test or the training split
    merge: tuple[Path, ...] = ()
    test: tuple[str, ...] = ()
    train: tuple[str, ...] = ()

    def described(self) -> dict[str, str]:
        """Every field as text; the merge fields only in a merged dataset's, so that the
        digests of the studies written before them stay what they were."""
        merged = ("merge", "test", "train")
        return {k: str(v) for k, v in vars(self).items() if k not in merged or self.merge}


@dataclass(frozen=True)
class Study:
    name: str
    question: str
    metric: str
    mode: str
    searcher: str
    seeds: tuple[int, ...]
    fixed: dict[str, Any]
    space: tuple[Dimension, ...]
    num_trials: int = 1
    optuna_seed: int = 0
    optuna_startup_trials: int = 10
    scheduler: str = "none"
    asha_grace_period: int = 1
    asha_reduction_factor: float = 3.0
    dataset: DatasetRef = field(default_factory=DatasetRef)
    cpu: float = 1.0
    gpu: float = 0.0
    max_concurrent: int = 0  # 0: as many as the resources allow
    max_failures: int = 1
    source: Path | None = None

    @property
    def epochs(self) -> int:
        return int(self.fixed.get("epochs", TrialConfig().epochs))

    @property
    def searched_fields(self) -> list[str]:
        """Trial fields the study varies (a bundle dimension varies several at once)."""
        fields_: list[str] = []
        for dimension in self.space:
            bundles = [v for v in dimension.values if isinstance(v, dict)]
            names = [k for b in bundles for k in b] if bundles else [dimension.name]
            fields_ += names
        return list(dict.fromkeys(fields_))

    @property
    def planned_trials(self) -> int:
        if self.searcher == "grid":
            return math.prod(len(d.values) for d in self.space) * len(self.seeds)
        return self.num_trials * len(self.seeds)

    def digest(self) -> str:
        """Identifies what the study computes (not its resources), for resuming."""
        text = json.dumps(
            {
                "name": self.name,
                "fixed": self.fixed,
                "space": [vars(d) for d in self.space],
                "searcher": self.searcher,
                "optuna_seed": self.optuna_seed,
                "num_trials": self.num_trials,
                "seeds": self.seeds,
                "scheduler": self.scheduler,
                "dataset": self.dataset.described(),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def as_ran(self) -> dict[str, Any]:
        """Every field as this launch runs it (command-line overrides applied): the record a
        sweep keeps beside its runs."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def with_overrides(self, **changes: Any) -> Study:
        values = {**vars(self), **changes}
        return Study(**values)


def study_path(name_or_path: str | Path) -> Path:
    """A shipped study by name (`smoke`) or any YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    shipped = STUDIES_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        available = sorted(p.stem for p in STUDIES_DIR.glob("*.yaml"))
        raise StudyError(f"no study named {name_or_path!r}; shipped studies: {available}")
    return shipped


def load_study(name_or_path: str | Path) -> Study:
    path = study_path(name_or_path)
    try:
        raw = yaml.safe_load(read_utf8(path, StudyError))
    except (OSError, yaml.YAMLError) as error:
        raise StudyError(f"{path}: not a readable YAML file: {error}") from error
    return parse_study(raw, path)


def parse_study(raw: Any, path: Path) -> Study:
    where = str(path)
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: expected a mapping of study fields, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise StudyError(f"{where}: unknown field(s) {unknown}; known: {sorted(TOP_LEVEL)}")
    missing = [k for k in REQUIRED if raw.get(k) is None]
    if missing:
        raise StudyError(f"{where}: missing or empty field(s) {missing}")
    raw = {k: v for k, v in raw.items() if v is not None}  # `asha:` alone means defaults
    for key, kind in TOP_LEVEL.items():
        value = raw.get(key)
        if value is not None and not is_a(value, kind):
            raise StudyError(f"{where}: field {key!r}: {value!r} is not a {kind.__name__}")
    _one_of(where, "mode", raw["mode"], MODES)
    _one_of(where, "searcher", raw["searcher"], SEARCHERS)
    _one_of(where, "scheduler", raw.get("scheduler", "none"), SCHEDULERS)
    _one_of(where, "metric", raw["metric"], METRICS)
    seeds = raw["seeds"]
    if not seeds or not all(is_a(s, int) for s in seeds) or len(set(seeds)) != len(seeds):
        raise StudyError(f"{where}: field 'seeds': {seeds!r}, expected distinct integers")
    fixed = dict(raw["fixed"])
    space = tuple(_dimension(where, name, spec) for name, spec in raw["space"].items())
    if not space:
        raise StudyError(f"{where}: field 'space' is empty: name at least one hyperparameter")
    _check_fields(where, fixed, space)
    if raw["searcher"] == "grid":
        not_choices = [d.name for d in space if d.kind != "choice"]
        if not_choices:
            raise StudyError(
                f"{where}: searcher 'grid' needs 'choice' for every dimension; "
                f"{not_choices} are continuous: use searcher 'optuna'"
            )
        if "num_trials" in raw:
            raise StudyError(f"{where}: 'num_trials' is for searcher 'optuna'; a grid runs all")
    elif any(isinstance(v, dict) for d in space for v in d.values):
        raise StudyError(f"{where}: choices of mappings need searcher 'grid'")
    optuna = _section(where, "optuna", raw.get("optuna") or {}, OPTUNA)
    asha = _section(where, "asha", raw.get("asha") or {}, ASHA)
    resources_ = _section(where, "resources", raw.get("resources") or {}, RESOURCES)
    cpu, gpu = float(resources_.get("cpu", 1)), float(resources_.get("gpu", 0))
    if cpu <= 0 or gpu < 0:
        raise StudyError(f"{where}: resources cpu={cpu}, gpu={gpu}: expected cpu > 0, gpu >= 0")
    if gpu > 1 and not gpu.is_integer():
        raise StudyError(f"{where}: resources gpu={gpu}: fractions only below one GPU")
    study = Study(
        name=raw["name"],
        question=raw["question"].strip(),
        metric=raw["metric"],
        mode=raw["mode"],
        searcher=raw["searcher"],
        seeds=tuple(seeds),
        fixed=fixed,
        space=space,
        num_trials=int(raw.get("num_trials", 1)),
        optuna_seed=int(optuna.get("seed", 0)),
        optuna_startup_trials=int(optuna.get("n_startup_trials", 10)),
        scheduler=raw.get("scheduler", "none"),
        asha_grace_period=int(asha.get("grace_period", 1)),
        asha_reduction_factor=float(asha.get("reduction_factor", 3)),
        dataset=_dataset(where, raw.get("dataset") or {}),
        cpu=cpu,
        gpu=gpu,
        max_concurrent=int(raw.get("max_concurrent", 0)),
        max_failures=int(raw.get("max_failures", 1)),
        source=path,
    )
    if study.num_trials < 1 or study.max_concurrent < 0 or study.max_failures < 0:
        raise StudyError(f"{where}: num_trials >= 1, max_concurrent >= 0, max_failures >= 0")
    if study.scheduler == "asha" and not 1 <= study.asha_grace_period <= study.epochs:
        raise StudyError(
            f"{where}: asha grace_period={study.asha_grace_period}, expected 1 to epochs="
            f"{study.epochs}"
        )
    if study.asha_reduction_factor <= 1:
        raise StudyError(f"{where}: asha reduction_factor must be above 1")
    return study


def _one_of(where: str, key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise StudyError(f"{where}: field {key!r}: {value!r}, expected one of {list(allowed)}")


def _section(where: str, name: str, values: dict, schema: dict[str, type]) -> dict:
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise StudyError(f"{where}: {name}: unknown field(s) {unknown}; known: {sorted(schema)}")
    for key, kind in schema.items():
        if key in values and not is_a(values[key], kind):
            raise StudyError(f"{where}: {name}.{key}: {values[key]!r} is not a {kind.__name__}")
    return values


def _dimension(where: str, name: str, spec: Any) -> Dimension:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise StudyError(
            f"{where}: space.{name}: expected one of {{choice: [...]}}, {{uniform: [low, high]}}, "
            f"{{loguniform: [low, high]}}, {{int: [low, high]}}; got {spec!r}"
        )
    ((kind, values),) = spec.items()
    if kind not in DISTRIBUTIONS:
        raise StudyError(
            f"{where}: space.{name}: unknown distribution {kind!r}, "
            f"expected one of {list(DISTRIBUTIONS)}"
        )
    if not isinstance(values, list) or not values:
        raise StudyError(f"{where}: space.{name}.{kind}: expected a non-empty list")
    if kind == "choice":
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise StudyError(f"{where}: space.{name}.choice: {values} repeats a value")
        bundles = [isinstance(v, dict) for v in values]
        if any(bundles) and not all(bundles):
            raise StudyError(f"{where}: space.{name}.choice: mix of mappings and values")
        return Dimension(name, kind, tuple(values))
    if len(values) != 2 or not all(is_a(v, float) for v in values):
        raise StudyError(f"{where}: space.{name}.{kind}: expected [low, high], got {values!r}")
    low, high = values
    if not low < high:
        raise StudyError(f"{where}: space.{name}.{kind}: low {low} must be below high {high}")
    if kind == "loguniform" and low <= 0:
        raise StudyError(f"{where}: space.{name}.loguniform: low {low} must be positive")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise StudyError(f"{where}: space.{name}.int: bounds must be integers")
    return Dimension(name, kind, (low, high))


def _check_fields(where: str, fixed: dict, space: tuple[Dimension, ...]) -> None:
    """Every name is a trial field, none twice, and every value a trial accepts."""
    searched = [
        k
        for d in space
        for k in ([k for v in d.values if isinstance(v, dict) for k in v] or [d.name])
    ]
    both = sorted(set(fixed) & set(searched))
    if both:
        raise StudyError(f"{where}: {both} both fixed and searched")
    if "seed" in fixed or "seed" in searched:
        raise StudyError(f"{where}: set repeats with 'seeds: [...]', not a 'seed' field")
    try:
        TrialConfig.from_dict(fixed, source=f"{where}: fixed")
        for dimension in space:
            samples = dimension.values if dimension.kind == "choice" else dimension.values[:1]
            for value in samples:
                chosen = value if isinstance(value, dict) else {dimension.name: value}
                TrialConfig.from_dict(
                    {**fixed, **chosen}, source=f"{where}: space.{dimension.name}"
                )
    except ConfigError as error:
        raise StudyError(str(error)) from None


def _dataset(where: str, values: dict) -> DatasetRef:
    _section(where, "dataset", values, DATASET)
    default = DatasetRef()
    renderer = values.get("renderer", default.renderer)
    if renderer not in RENDERERS:
        raise StudyError(
            f"{where}: dataset.renderer: {renderer!r}, expected one of {list(RENDERERS)}"
        )
    rendering = sorted(set(values) & RENDERING)
    if values.get("merge") and rendering:
        raise StudyError(
            f"{where}: dataset: a merged dataset (merge) is not rendered: drop {rendering}"
        )
    if not values.get("merge") and ("test" in values or "train" in values):
        raise StudyError(f"{where}: dataset: test and train split a merged dataset: add merge")
    return DatasetRef(
        root=Path(values.get("root", default.root)),
        soundfonts=tuple(Path(p) for p in values.get("soundfonts", default.soundfonts)),
        presets=tuple(values.get("presets", default.presets)),
        velocities=tuple(values.get("velocities", default.velocities)),
        test_fraction=float(values.get("test_fraction", default.test_fraction)),
        held_out_instruments=tuple(values.get("held_out_instruments", ())),
        renderer=renderer,
        merge=tuple(Path(p) for p in values.get("merge", ())),
        test=tuple(values.get("test", ())),
        train=tuple(values.get("train", ())),
    )
