"""Tuning every contestant before a comparison (a sweep's ``tune:`` section).

:mod:`simfl.sweep.tunespec` validates the section; :mod:`simfl.tuning.space` lists each
contestant's candidate settings; :mod:`simfl.tuning.plan` turns cells, contestants, settings and
tuning seeds into trials (ordinary runs, evaluated on validation rows); :mod:`simfl.tuning.criteria`
scores them; :mod:`simfl.tuning.tuner` runs the rungs of successive halving and chooses;
:mod:`simfl.tuning.table` writes ``tuning.parquet``. :func:`simfl.sweep.run_sweep` then runs the
evaluation seeds with the chosen settings.
"""

from simfl.tuning.criteria import SettingScore, TrialScore, ranking_key, score_setting, score_trial
from simfl.tuning.plan import Contest, Trial, evaluation_runs, plan_contests
from simfl.tuning.space import Setting, settings_for
from simfl.tuning.table import TUNING_TABLE
from simfl.tuning.tuner import TUNING_DIR, TuningOutcome, run_tuning

__all__ = [
    "Contest",
    "Setting",
    "SettingScore",
    "Trial",
    "TrialScore",
    "TuningOutcome",
    "TUNING_DIR",
    "TUNING_TABLE",
    "evaluation_runs",
    "plan_contests",
    "ranking_key",
    "run_tuning",
    "score_setting",
    "score_trial",
    "settings_for",
]
